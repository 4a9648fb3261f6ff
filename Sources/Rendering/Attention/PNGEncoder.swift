// A minimal PNG writer, so attention maps need no image library: 8-bit RGB, filter 0 on every row, and the
// zlib stream made of "stored" (uncompressed) deflate blocks. Files are larger than compressed PNGs (about
// 3 bytes per pixel) but every decoder reads them, and the code is short enough to check by eye.
// Format: PNG specification (W3C, 2nd ed.) sections 5 (chunks, CRC-32) and 10 (zlib, RFC 1950/1951).

import Foundation

/// An 8-bit RGB raster, row-major, `[height][width][3]` flattened.
public struct RGBImage: Hashable, Sendable {
  /// Width in pixels.
  public let width: Int
  /// Height in pixels.
  public let height: Int
  /// `width * height * 3` bytes: red, green, blue per pixel, rows top to bottom.
  public var bytes: [UInt8]

  /// An image filled with one colour.
  public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
    self.width = max(width, 0)
    self.height = max(height, 0)
    bytes = [UInt8](repeating: 0, count: self.width * self.height * 3)
    for pixel in 0 ..< self.width * self.height {
      bytes[3 * pixel] = fill.0
      bytes[3 * pixel + 1] = fill.1
      bytes[3 * pixel + 2] = fill.2
    }
  }

  /// An image from its bytes.
  /// - Throws: `RenderError.invalidInput` unless there are `width * height * 3` bytes.
  public init(width: Int, height: Int, bytes: [UInt8]) throws {
    guard width >= 0, height >= 0, bytes.count == width * height * 3 else {
      throw RenderError.invalidInput("An RGB image of \(width)×\(height) needs \(max(width * height * 3, 0)) bytes, got \(bytes.count).")
    }
    self.width = width
    self.height = height
    self.bytes = bytes
  }

  /// Sets pixel (`x`, `y`); pixels outside the image are ignored.
  public mutating func set(x: Int, y: Int, _ color: (UInt8, UInt8, UInt8)) {
    guard x >= 0, x < width, y >= 0, y < height else { return }
    let offset = 3 * (y * width + x)
    bytes[offset] = color.0
    bytes[offset + 1] = color.1
    bytes[offset + 2] = color.2
  }
}

/// Writes `RGBImage`s as PNG files (no compression).
public enum PNGEncoder {
  /// The eight bytes every PNG file starts with.
  public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

  /// The PNG file of `image`: signature, `IHDR` (8-bit RGB, no interlace), one `IDAT`, `IEND`.
  public static func encode(_ image: RGBImage) -> Data {
    var header = [UInt8]()
    header += bigEndian(UInt32(image.width))
    header += bigEndian(UInt32(image.height))
    header += [8, 2, 0, 0, 0]  // bit depth 8, colour type 2 (RGB), deflate, filter method 0, no interlace

    let rowBytes = image.width * 3
    var scanlines = [UInt8]()
    scanlines.reserveCapacity(image.height * (rowBytes + 1))
    for row in 0 ..< image.height {
      scanlines.append(0)  // filter type 0: none
      scanlines += image.bytes[(row * rowBytes) ..< ((row + 1) * rowBytes)]
    }

    var file = Data(signature)
    file += chunk("IHDR", header)
    file += chunk("IDAT", zlibStored(scanlines))
    file += chunk("IEND", [])
    return file
  }

  /// A chunk: length, type, data, CRC-32 of type and data.
  static func chunk(_ type: String, _ data: [UInt8]) -> Data {
    let typeBytes = Array(type.utf8)
    var result = Data(bigEndian(UInt32(data.count)))
    result += typeBytes
    result += data
    result += bigEndian(crc32(typeBytes + data))
    return result
  }

  /// A zlib stream (RFC 1950) of stored deflate blocks (RFC 1951, BTYPE 00), at most 65 535 bytes each.
  static func zlibStored(_ data: [UInt8]) -> [UInt8] {
    var result: [UInt8] = [0x78, 0x01]  // deflate, 32K window, no dictionary; 0x7801 is divisible by 31
    let blockSize = 65_535
    var start = 0
    repeat {
      let end = min(start + blockSize, data.count)
      let length = UInt16(end - start)
      result.append(end == data.count ? 1 : 0)  // BFINAL, BTYPE = 00
      result += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)]
      result += data[start ..< end]
      start = end
    } while start < data.count
    return result + bigEndian(adler32(data))
  }

  /// The CRC-32 of PNG (and zlib, gzip): polynomial 0xEDB88320, reflected, initial and final XOR all ones.
  public static func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes { crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    return crc ^ 0xFFFF_FFFF
  }

  /// The Adler-32 checksum zlib appends: two sums modulo 65 521.
  public static func adler32(_ bytes: [UInt8]) -> UInt32 {
    var a: UInt32 = 1, b: UInt32 = 0
    for chunk in stride(from: 0, to: bytes.count, by: 5552) {  // 5552: the most bytes before b can overflow
      for byte in bytes[chunk ..< min(chunk + 5552, bytes.count)] {
        a += UInt32(byte)
        b += a
      }
      a %= 65_521
      b %= 65_521
    }
    return (b << 16) | a
  }

  private static let crcTable: [UInt32] = (0 ..< 256).map { index in
    var value = UInt32(index)
    for _ in 0 ..< 8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
    return value
  }

  private static func bigEndian(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
  }
}
