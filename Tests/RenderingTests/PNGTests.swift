import Foundation
import Testing

@testable import Rendering

/// A PNG file read back: chunks with their CRCs checked, the header's fields, and (for stored-block zlib
/// streams, which is what `PNGEncoder` writes) the pixels.
struct PNGFile {
  struct Chunk {
    let type: String
    let data: [UInt8]
  }

  let chunks: [Chunk]
  let width: Int, height: Int, bitDepth: UInt8, colorType: UInt8, interlace: UInt8

  init(_ data: Data) throws {
    let bytes = [UInt8](data)
    guard bytes.count >= 8, Array(bytes[0 ..< 8]) == PNGEncoder.signature else { throw PNGTestError("no PNG signature") }
    var chunks = [Chunk]()
    var offset = 8
    while offset + 12 <= bytes.count {
      let length = Int(Self.uint32(bytes, offset))
      guard offset + 12 + length <= bytes.count else { throw PNGTestError("chunk runs past the end") }
      let typeAndData = Array(bytes[(offset + 4) ..< (offset + 8 + length)])
      guard PNGEncoder.crc32(typeAndData) == Self.uint32(bytes, offset + 8 + length) else {
        throw PNGTestError("bad CRC")
      }
      chunks.append(Chunk(type: String(decoding: typeAndData[0 ..< 4], as: UTF8.self), data: Array(typeAndData[4...])))
      offset += 12 + length
    }
    guard let header = chunks.first, header.type == "IHDR", header.data.count == 13, chunks.last?.type == "IEND" else {
      throw PNGTestError("IHDR must come first and IEND last")
    }
    self.chunks = chunks
    width = Int(Self.uint32(header.data, 0))
    height = Int(Self.uint32(header.data, 4))
    bitDepth = header.data[8]
    colorType = header.data[9]
    interlace = header.data[12]
  }

  /// The concatenated IDAT payload inflated, assuming stored (uncompressed) deflate blocks; checks Adler-32.
  func storedScanlines() throws -> [UInt8] {
    let stream = chunks.filter { $0.type == "IDAT" }.flatMap(\.data)
    guard stream.count >= 6, (UInt16(stream[0]) << 8 | UInt16(stream[1])) % 31 == 0 else { throw PNGTestError("bad zlib header") }
    var output = [UInt8](), offset = 2, final = false
    while !final {
      final = stream[offset] & 1 == 1
      guard stream[offset] & 0b110 == 0 else { throw PNGTestError("not a stored block") }
      let length = Int(stream[offset + 1]) | Int(stream[offset + 2]) << 8
      let complement = Int(stream[offset + 3]) | Int(stream[offset + 4]) << 8
      guard length ^ complement == 0xFFFF else { throw PNGTestError("bad stored length") }
      output += stream[(offset + 5) ..< (offset + 5 + length)]
      offset += 5 + length
    }
    guard PNGEncoder.adler32(output) == Self.uint32(stream, offset) else { throw PNGTestError("bad Adler-32") }
    return output
  }

  static func uint32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    bytes[offset ..< offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
  }
}

struct PNGTestError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

@Suite struct PNGEncoderTests {
  @Test func checksumsMatchKnownValues() {
    #expect(PNGEncoder.crc32(Array("IEND".utf8)) == 0xAE42_6082)            // every PNG ends with these bytes
    #expect(PNGEncoder.crc32(Array("123456789".utf8)) == 0xCBF4_3926)       // the CRC-32 check value
    #expect(PNGEncoder.adler32(Array("Wikipedia".utf8)) == 0x11E6_0398)
    let large = [UInt8](repeating: 255, count: 100_000)                       // exercises the modulo batching
    var a: UInt32 = 1, b: UInt32 = 0
    for byte in large { a = (a + UInt32(byte)) % 65_521; b = (b + a) % 65_521 }
    #expect(PNGEncoder.adler32(large) == b << 16 | a)
  }

  @Test func encodedImageDecodesToTheSamePixels() throws {
    var image = RGBImage(width: 5, height: 3, fill: (10, 20, 30))
    image.set(x: 4, y: 2, (255, 0, 128))
    let png = try PNGFile(PNGEncoder.encode(image))
    #expect(png.width == 5 && png.height == 3 && png.bitDepth == 8 && png.colorType == 2 && png.interlace == 0)
    let scanlines = try png.storedScanlines()
    #expect(scanlines.count == 3 * (1 + 5 * 3))
    let pixels = (0 ..< 3).flatMap { row in scanlines[(row * 16 + 1) ..< (row * 16 + 16)] }
    #expect(pixels == image.bytes)
    #expect(Array(scanlines[(2 * 16 + 1 + 12) ..< (2 * 16 + 16)]) == [255, 0, 128])
  }

  @Test func largeImagesSpanSeveralStoredBlocks() throws {
    let image = RGBImage(width: 200, height: 200, fill: (1, 2, 3))   // 120 200 bytes: two blocks
    let scanlines = try PNGFile(PNGEncoder.encode(image)).storedScanlines()
    #expect(scanlines.count == 200 * 601)
  }

  @Test func wrongByteCountIsAnError() {
    #expect(throws: RenderError.self) { try RGBImage(width: 2, height: 2, bytes: [0, 0, 0]) }
  }
}
