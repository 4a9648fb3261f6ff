// PNG and JPEG decoding against PIL's `Image.open(path).convert("RGB")` on committed fixtures of every kind,
// and typed errors naming the file for broken ones.

import Blip2Core
import Foundation
import ImageIO
import Testing

@Suite struct ImageDecodingTests {
  static let pngs = ["rgb8.png", "rgba8.png", "gray8.png", "graya8.png", "palette8.png", "palette2.png",
                     "palette_trns.png", "gray1.png", "photo.png"]

  @Test("8-bit PNGs of every colour type decode to exactly PIL's RGB", arguments: pngs)
  func pngMatchesPIL(name: String) throws {
    let expected = try #require(try Expected.load().decode[name])
    let image = try ImageFile.read(try fixture("images/" + name))
    #expect(image.width == expected.width && image.height == expected.height)
    #expect(image.pixels == channelsFirst(expected.rgb, width: expected.width, height: expected.height, scale: 255))
  }

  @Test("16-bit PNGs keep all 16 bits (v / 65535), gray repeated, alpha dropped",
        arguments: ["gray16.png", "rgb16.png", "rgba16.png"])
  func sixteenBit(name: String) throws {
    let expected = try #require(try Expected.load().decode[name])
    #expect(expected.bits == 16)
    let image = try ImageFile.read(try fixture("images/" + name))
    #expect(image.pixels == channelsFirst(expected.rgb, width: expected.width, height: expected.height, scale: 65535))
  }

  /// Both decoders are libjpeg-turbo with its default (islow) IDCT and fancy upsampling: measured, the pixels
  /// agree exactly (Debian's libjpeg-turbo 2.1.5 against the one in PIL 13.0's wheel); the test allows one
  /// 8-bit step for other versions.
  @Test("JPEGs (4:2:0, 4:4:4, grayscale) decode to PIL's RGB within one 8-bit step",
        arguments: ["rgb420.jpg", "rgb444.jpg", "gray.jpg"])
  func jpegMatchesPIL(name: String) throws {
    let expected = try #require(try Expected.load().decode[name])
    let image = try ImageFile.read(try fixture("images/" + name))
    #expect(image.width == expected.width && image.height == expected.height)
    let error = maxStepError(image.pixels, channelsFirst(expected.rgb, width: expected.width, height: expected.height, scale: 255))
    #expect(error <= 1, "largest difference from PIL: \(error) steps")
  }

  @Test("a truncated PNG is a corrupt-file error naming the file")
  func truncatedPNG() throws {
    let url = try fixture("images/truncated.png")
    #expect {
      _ = try ImageFile.read(url)
    } throws: { error in
      guard case let ImageFileError.corrupt(path, format, _)? = error as? ImageFileError else { return false }
      return path == url.path && format == "PNG" && error.localizedDescription.contains("truncated.png")
    }
  }

  @Test("a PNG with a damaged chunk is a corrupt-file error, not a crash")
  func badChecksum() throws {
    #expect(throws: ImageFileError.self) { _ = try ImageFile.read(try fixture("images/badcrc.png")) }
  }

  @Test("a truncated JPEG is an error (libjpeg only warns), naming the file")
  func truncatedJPEG() throws {
    let url = try fixture("images/truncated.jpg")
    #expect {
      _ = try ImageFile.read(url)
    } throws: { error in
      guard case let ImageFileError.corrupt(path, format, reason)? = error as? ImageFileError else { return false }
      return path == url.path && format == "JPEG" && reason.contains("Premature end")
    }
  }

  @Test("a CMYK JPEG is refused as unsupported, saying so")
  func cmyk() throws {
    #expect {
      _ = try ImageFile.read(try fixture("images/cmyk.jpg"))
    } throws: { error in
      guard case ImageFileError.unsupported? = error as? ImageFileError else { return false }
      return error.localizedDescription.contains("CMYK")
    }
  }

  @Test("a text file is not an image; a missing file is unreadable; both name the path")
  func notAnImage() throws {
    let text = try fixture("images/notimage.png")
    #expect(throws: ImageFileError.notAnImage(path: text.path)) { _ = try ImageFile.read(text) }
    let missing = try fixture("images/absent.png")
    #expect(throws: ImageFileError.unreadable(path: missing.path, reason: "no such file")) { _ = try ImageFile.read(missing) }
  }

  @Test("empty and garbage data after a valid signature are errors, not crashes")
  func garbage() {
    let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    for data in [Data(), Data(signature), Data(signature + [UInt8](repeating: 7, count: 64)), Data([0xFF, 0xD8, 0xFF, 0, 1])] {
      #expect(throws: ImageFileError.self) { _ = try ImageFile.decode(data, path: "mem") }
    }
  }
}
