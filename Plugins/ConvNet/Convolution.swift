// 2-D convolution on channels-last feature maps, as im2col + one matrix product, composed from
// differentiable primitives (gather for im2col, linear for the product): no backward pass of its own.
//
// Layout: activations are [B, H, W, C] (channels last) everywhere inside the ConvNet, so that the im2col
// rows are contiguous channel vectors, a LayerNorm over channels is the fused last-axis layerNorm, and the
// final map is already the token sequence [B, H·W, C]. Kernels keep PyTorch's [out, in, kH, kW] layout.

import Tensor

/// The spatial size after a convolution: ⌊(size + 2·padding − kernel) / stride⌋ + 1 (0 or less: no fit).
public func convolutionOutputSize(_ size: Int, kernel: Int, stride: Int, padding: Int) -> Int {
  (size + 2 * padding - kernel) / stride + 1
}

/// For each output position and kernel offset, the input row (b·H + y)·W + x it reads, or `padRow` where the
/// kernel hangs over the zero padding: [B·Ho·Wo, k·k] row-major, kernel offsets in (ky, kx) order.
func im2colRows(batch: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int, padRow: Int) -> [Int] {
  let outHeight = convolutionOutputSize(height, kernel: kernel, stride: stride, padding: padding)
  let outWidth = convolutionOutputSize(width, kernel: kernel, stride: stride, padding: padding)
  var rows = [Int](repeating: padRow, count: batch * outHeight * outWidth * kernel * kernel)
  rows.withUnsafeMutableBufferPointer { rows in
    var index = 0
    for b in 0..<batch {
      for oy in 0..<outHeight {
        for ox in 0..<outWidth {
          for ky in 0..<kernel {
            let y = oy * stride - padding + ky
            for kx in 0..<kernel {
              let x = ox * stride - padding + kx
              if y >= 0 && y < height && x >= 0 && x < width { rows[index] = (b * height + y) * width + x }
              index += 1
            }
          }
        }
      }
    }
  }
  return rows
}

/// Convolution of a channels-last map: [B, H, W, Cin] with `weight` [Cout, Cin, k, k] (PyTorch layout) and
/// optional `bias` [Cout] → [B, Ho, Wo, Cout], zero padding on every side. Equal to `torch.nn.functional.conv2d`
/// on the channels-first view; differentiable in all three inputs.
///
/// im2col is one `gather` of channel rows from the map viewed as a [B·H·W (+1 zero row), Cin] table, so the
/// padding costs one extra row, not a padded copy of the map.
public func conv2d(channelsLast x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0) -> Tensor {
  precondition(x.rank == 4 && weight.rank == 4 && weight.shape[1] == x.shape[3] && weight.shape[2] == weight.shape[3],
               "conv2d: input \(x.shape) (channels last) does not fit kernel \(weight.shape) ([out, in, k, k])")
  precondition(stride > 0 && padding >= 0, "conv2d: stride must be positive and padding non-negative")
  let (batch, height, width, channels) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
  let (outChannels, kernel) = (weight.shape[0], weight.shape[2])
  let outHeight = convolutionOutputSize(height, kernel: kernel, stride: stride, padding: padding)
  let outWidth = convolutionOutputSize(width, kernel: kernel, stride: stride, padding: padding)
  precondition(outHeight > 0 && outWidth > 0,
               "conv2d: a \(kernel)×\(kernel) kernel does not fit \(height)×\(width) with padding \(padding)")
  let positions = batch * height * width
  var table = x.reshaped([positions, channels])  // [B·H·W, Cin]
  if padding > 0 { table = Tensor.concat([table, Tensor.zeros([1, channels])], axis: 0) }  // + a zero row
  let rows = im2colRows(batch: batch, height: height, width: width, kernel: kernel, stride: stride,
                        padding: padding, padRow: positions)
  let columns = table.gather(rows: rows)  // [B·Ho·Wo·k·k, Cin]
    .reshaped([batch * outHeight * outWidth, kernel * kernel * channels])  // [B·Ho·Wo, (ky, kx, c)]
  let matrix = weight.permuted([0, 2, 3, 1]).reshaped([outChannels, kernel * kernel * channels])  // [Cout, (ky, kx, c)]
  return columns.linear(weight: matrix, bias: bias).reshaped([batch, outHeight, outWidth, outChannels])
}

/// A convolution layer (`weight` [out, in, k, k], optional `bias`), applied to channels-last maps.
public final class Conv2d: Module, @unchecked Sendable {
  /// [out, in, k, k].
  public let weight: Tensor
  /// [out], or nil (a convolution followed by a norm needs none).
  public let bias: Tensor?
  /// Step between windows.
  public let stride: Int
  /// Zero padding on each side.
  public let padding: Int

  /// A `kernel`×`kernel` convolution, He-normal initialized (std √(2 / (in·k·k)), for ReLU networks).
  public init(_ inChannels: Int, _ outChannels: Int, kernel: Int = 3, stride: Int = 1, padding: Int = 1,
              bias: Bool = false, rng: inout RandomGenerator) {
    let std = (2 / Float(inChannels * kernel * kernel)).squareRoot()
    weight = Tensor.randn([outChannels, inChannels, kernel, kernel], std: std, rng: &rng, requiresGrad: true)
    self.bias = bias ? Tensor.zeros([outChannels], requiresGrad: true) : nil
    self.stride = stride
    self.padding = padding
    super.init()
  }

  public override func ownParameters() -> [(String, Tensor)] {
    [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
  }

  /// [B, H, W, in] → [B, Ho, Wo, out].
  public func callAsFunction(_ x: Tensor) -> Tensor {
    conv2d(channelsLast: x, weight: weight, bias: bias, stride: stride, padding: padding)
  }
}
