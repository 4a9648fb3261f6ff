// A small ResNet-like image encoder: a strided 3×3 stem, then stages of residual blocks, each stage after
// the first halving the resolution. Its last feature map [B, h, w, C] is returned as tokens [B, h·w, C],
// optionally after a mean-pooled token (the CNN's counterpart of ViT's class token).
//
// Normalization: LayerNorm over the channels at each position (as ConvNeXt), not BatchNorm. BatchNorm's
// output depends on the batch while training and on running statistics afterwards; a frozen encoder whose
// features are cached per image must give an image the same features whatever batch it comes in, and
// LayerNorm does by construction (no running state, no train/eval difference).

import Blip2Core
import Foundation
import Tensor

/// The sizes of a `ConvNet`. Every field has a default (the `tiny` preset).
public struct ConvNetConfiguration: Sendable, Equatable, Codable {
  /// Square input size in pixels; must be a multiple of `totalStride`.
  public var imageSize: Int = 64
  /// Channels of each stage; stage i > 0 starts with a stride-2 convolution.
  public var channels: [Int] = [32, 64, 128]
  /// Residual blocks per stage.
  public var blocksPerStage: Int = 1
  /// Stride of the stem convolution (2 halves the resolution at once, as ResNet's stem does).
  public var stemStride: Int = 2
  /// Whether the tokens start with the mean of the final map (then tokenCount = 1 + h·w).
  public var pooledToken: Bool = true

  /// A configuration; the defaults are the `tiny` preset.
  public init(imageSize: Int = 64, channels: [Int] = [32, 64, 128], blocksPerStage: Int = 1, stemStride: Int = 2,
              pooledToken: Bool = true) {
    self.imageSize = imageSize
    self.channels = channels
    self.blocksPerStage = blocksPerStage
    self.stemStride = stemStride
    self.pooledToken = pooledToken
  }

  /// 64-px images → 8×8 map of 128 channels (+ pooled token: 65 tokens); ≈0.5M parameters.
  public static let tiny = ConvNetConfiguration()
  /// 64-px images → 8×8 map of 256 channels, two blocks per stage; ≈3.5M parameters.
  public static let small = ConvNetConfiguration(channels: [64, 128, 256], blocksPerStage: 2)
  /// The presets by name (`size` in the registry config).
  public static let presets: [String: ConvNetConfiguration] = ["tiny": tiny, "small": small]

  /// Input pixels per output cell along each side.
  public var totalStride: Int { stemStride << max(channels.count - 1, 0) }
  /// Side of the final feature map.
  public var gridSize: Int { imageSize / totalStride }
  /// Output tokens per image.
  public var tokenCount: Int { gridSize * gridSize + (pooledToken ? 1 : 0) }

  /// Checks the sizes fit together.
  /// - Throws: `ConvNetError.invalidConfiguration` naming the field.
  public func validate() throws(ConvNetError) {
    guard !channels.isEmpty, channels.allSatisfy({ $0 > 0 }) else {
      throw .invalidConfiguration(field: "channels", reason: "must be a non-empty list of positive sizes, got \(channels)")
    }
    guard blocksPerStage >= 0 else { throw .invalidConfiguration(field: "blocksPerStage", reason: "must be ≥ 0") }
    guard stemStride == 1 || stemStride == 2 else {
      throw .invalidConfiguration(field: "stemStride", reason: "must be 1 or 2, got \(stemStride)")
    }
    guard imageSize > 0 && imageSize % totalStride == 0 else {
      throw .invalidConfiguration(field: "imageSize",
                                  reason: "must be a positive multiple of the total stride \(totalStride), got \(imageSize)")
    }
  }
}

/// What can be wrong with a ConvNet's configuration or input.
public enum ConvNetError: Error, LocalizedError, Equatable, Sendable {
  /// The sizes do not fit together.
  case invalidConfiguration(field: String, reason: String)
  /// `encode` got pixels of another shape.
  case wrongInputShape(expected: String, got: [Int])
  /// A saved folder's config.json is missing or not a ConvNet configuration.
  case unreadableConfig(file: String, reason: String)

  /// A plain sentence: what, where, what to do.
  public var errorDescription: String? {
    switch self {
    case let .invalidConfiguration(field, reason): return "convnet: \"\(field)\" \(reason)"
    case let .wrongInputShape(expected, got):
      return "convnet: pixels must be \(expected), got \(got); resize the images to the encoder's size"
    case let .unreadableConfig(file, reason):
      return "\(file): not a saved ConvNet configuration (\(reason)); save the model with ConvNet.save(directory:)"
    }
  }
}

/// Convolution, LayerNorm over channels, optional ReLU.
public final class ConvNormActivation: Module, @unchecked Sendable {
  /// The convolution (no bias: the norm's bias replaces it).
  public let conv: Conv2d
  /// LayerNorm over channels.
  public let norm: LayerNorm
  /// Whether ReLU follows.
  public let activates: Bool

  /// A 3×3 unit from `inChannels` to `outChannels`.
  public init(_ inChannels: Int, _ outChannels: Int, stride: Int = 1, activates: Bool = true,
              rng: inout RandomGenerator) {
    conv = Conv2d(inChannels, outChannels, kernel: 3, stride: stride, padding: 1, rng: &rng)
    norm = LayerNorm(outChannels)
    self.activates = activates
    super.init()
  }

  public override func children() -> [(String, Module)] { [("conv", conv), ("norm", norm)] }

  /// [B, H, W, in] → [B, H/stride, W/stride, out].
  public func callAsFunction(_ x: Tensor) -> Tensor {
    let y = norm(conv(x))
    return activates ? y.relu() : y
  }
}

/// A ResNet basic block: y = ReLU(x + N₂(C₂(ReLU(N₁(C₁(x)))))).
public final class ResidualBlock: Module, @unchecked Sendable {
  /// First unit (with ReLU).
  public let first: ConvNormActivation
  /// Second unit (ReLU after the sum).
  public let second: ConvNormActivation

  /// A block keeping `channels`. The second norm starts at zero scale, so each block starts as the
  /// identity (as "zero-init residual" ResNets: deep stacks train from the first step).
  public init(_ channels: Int, rng: inout RandomGenerator) {
    first = ConvNormActivation(channels, channels, rng: &rng)
    second = ConvNormActivation(channels, channels, activates: false, rng: &rng)
    second.norm.weight.data = [Float](repeating: 0, count: channels)
    super.init()
  }

  public override func children() -> [(String, Module)] { [("unit1", first), ("unit2", second)] }

  /// [B, H, W, C] → [B, H, W, C].
  public func callAsFunction(_ x: Tensor) -> Tensor { (x + second(first(x))).relu() }
}

/// The ResNet-like image encoder.
public final class ConvNet: Module, ImageEncoder, @unchecked Sendable {
  /// Sizes.
  public let configuration: ConvNetConfiguration
  /// 3 → channels[0], stride `stemStride`.
  public let stem: ConvNormActivation
  /// Per stage: the stride-2 entry unit (nil for the first stage) and the residual blocks.
  public let stages: [(downsample: ConvNormActivation?, blocks: [ResidualBlock])]
  /// LayerNorm over the channels of the final map (`norm`).
  public let finalNorm: LayerNorm

  /// A randomly initialized ConvNet (seeded).
  /// - Throws: `ConvNetError.invalidConfiguration` when the sizes do not fit together.
  public init(_ configuration: ConvNetConfiguration, seed: UInt64 = 0) throws(ConvNetError) {
    try configuration.validate()
    var rng = RandomGenerator(seed: seed)
    self.configuration = configuration
    let channels = configuration.channels
    stem = ConvNormActivation(3, channels[0], stride: configuration.stemStride, rng: &rng)
    var stages: [(ConvNormActivation?, [ResidualBlock])] = []
    for (i, width) in channels.enumerated() {
      let downsample = i == 0 ? nil : ConvNormActivation(channels[i - 1], width, stride: 2, rng: &rng)
      stages.append((downsample, (0..<configuration.blocksPerStage).map { _ in ResidualBlock(width, rng: &rng) }))
    }
    self.stages = stages
    finalNorm = LayerNorm(channels[channels.count - 1])
    super.init()
  }

  public override func children() -> [(String, Module)] {
    var result: [(String, Module)] = [("stem", stem)]
    for (i, stage) in stages.enumerated() {
      if let downsample = stage.downsample { result.append(("stages.\(i).downsample", downsample)) }
      for (j, block) in stage.blocks.enumerated() { result.append(("stages.\(i).blocks.\(j)", block)) }
    }
    return result + [("norm", finalNorm)]
  }

  // MARK: ImageEncoder

  public var module: Module { self }
  public var kind: String { "convnet" }
  public var summary: String {
    let c = configuration
    return "ConvNet (image \(c.imageSize), channels \(c.channels), \(c.blocksPerStage) blocks/stage, "
      + "\(c.gridSize)×\(c.gridSize) map\(c.pooledToken ? " + pooled token" : ""))"
  }
  public var featureDim: Int { configuration.channels[configuration.channels.count - 1] }
  public var imageSize: Int { configuration.imageSize }
  public var tokenCount: Int { configuration.tokenCount }

  /// [B, 3, imageSize, imageSize] → [B, tokenCount, featureDim]: the final map's cells in row-major order,
  /// after the mean-pooled token when `pooledToken`.
  /// - Throws: `ConvNetError.wrongInputShape` for any other input shape.
  public func encode(_ pixels: Tensor) throws -> Tensor {
    let size = configuration.imageSize
    guard pixels.rank == 4, pixels.shape[0] > 0, Array(pixels.shape.dropFirst()) == [3, size, size] else {
      throw ConvNetError.wrongInputShape(expected: "[B, 3, \(size), \(size)]", got: pixels.shape)
    }
    let map = featureMap(pixels)  // [B, h, w, C]
    let (batch, cells, width) = (map.shape[0], map.shape[1] * map.shape[2], map.shape[3])
    let tokens = map.reshaped([batch, cells, width])  // [B, h·w, C]
    guard configuration.pooledToken else { return tokens }
    return Tensor.concat([tokens.mean(axis: 1, keepDims: true), tokens], axis: 1)  // [B, 1 + h·w, C]
  }

  /// The normalized final feature map, channels last: [B, 3, H, W] → [B, H/s, W/s, C].
  public func featureMap(_ pixels: Tensor) -> Tensor {
    var x = stem(pixels.permuted([0, 2, 3, 1]))  // [B, H/stem, W/stem, channels[0]]
    for stage in stages {
      if let downsample = stage.downsample { x = downsample(x) }  // [B, h/2, w/2, channels[i]]
      for block in stage.blocks { x = block(x) }
    }
    return finalNorm(x)  // [B, h, w, C]
  }
}

extension ConvNet {
  /// Writes `config.json` (the configuration) and `model.safetensors` (the parameters) into `directory`,
  /// for caching a pre-trained encoder; `load(directory:)` reads them back.
  /// - Throws: a file-system error or `SafeTensorsError.writeFailed`, naming the file.
  public func save(directory: URL) throws {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(configuration).write(to: directory.appendingPathComponent("config.json"), options: .atomic)
    try SafeTensors.save(namedParameters(), to: directory.appendingPathComponent(SafeTensors.singleFileName))
  }

  /// Reads a folder written by `save(directory:)`.
  /// - Throws: `ConvNetError` for a missing or malformed config.json, `SafeTensorsError` for the weights file,
  ///   `ModuleError` for a missing or mis-shaped tensor (naming the folder and the tensor).
  public static func load(directory: URL) throws -> ConvNet {
    let url = directory.appendingPathComponent("config.json")
    let configuration: ConvNetConfiguration
    do {
      configuration = try JSONDecoder().decode(ConvNetConfiguration.self, from: Data(contentsOf: url))
    } catch {
      throw ConvNetError.unreadableConfig(file: url.path, reason: "\(error)")
    }
    let model = try ConvNet(configuration)
    try model.load(try SafeTensors.loadDirectory(directory), source: directory.path)
    return model
  }
}
