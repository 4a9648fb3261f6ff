// Reading PNG and JPEG files into RGB images with values in [0, 1], through libpng and libjpeg-turbo.
//
// The conversion to RGB is PIL's `Image.open(path).convert("RGB")`, which LAVIS applies to every image:
// gray is repeated over the three channels, alpha (and a palette's transparency) is dropped, not blended,
// palettes are looked up. 8-bit samples become v / 255 (the same floats as PIL's bytes / 255); 16-bit
// samples become v / 65535 (PIL keeps only the high byte of a 16-bit RGB PNG and clips 16-bit gray to 255,
// which loses information, so this reader does not copy it).

import Blip2Core
import CJPEG
import CPNG
import Foundation

/// PNG and JPEG decoding into `Image` (RGB, channels first, values in [0, 1]).
public enum ImageFile {
  /// The file formats it reads.
  public enum Format: String, Sendable {
    case png = "PNG", jpeg = "JPEG"
  }

  /// The largest image decoded, in pixels (a guard against headers that claim absurd sizes).
  public static let maxPixels = 1 << 28

  /// The image in the file at `url`.
  /// - Throws: `ImageFileError` naming the file.
  public static func read(_ url: URL) throws(ImageFileError) -> Image {
    let data: Data
    do {
      data = try Data(contentsOf: url)
    } catch {
      let reason = FileManager.default.fileExists(atPath: url.path) ? error.localizedDescription : "no such file"
      throw .unreadable(path: url.path, reason: reason)
    }
    return try decode(data, path: url.path)
  }

  /// The format `data` starts like, if any.
  public static func format(of data: Data) -> Format? {
    if data.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
    if data.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
    return nil
  }

  /// The image encoded in `data`; `path` names it in errors.
  /// - Throws: `ImageFileError.notAnImage`, `.corrupt` or `.unsupported`.
  public static func decode(_ data: Data, path: String) throws(ImageFileError) -> Image {
    switch format(of: data) {
    case .png?: return try decodePNG(data, path: path)
    case .jpeg?: return try decodeJPEG(data, path: path)
    case nil: throw .notAnImage(path: path)
    }
  }

  private static func decodePNG(_ data: Data, path: String) throws(ImageFileError) -> Image {
    var decoded = Blip2PNGImage()
    let ok = data.withUnsafeBytes { bytes in
      blip2_png_decode(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, UInt(maxPixels), &decoded)
    }
    defer { free(decoded.pixels) }
    guard ok == 1, let pixels = decoded.pixels else {
      throw .corrupt(path: path, format: "PNG", reason: message(&decoded.message))
    }
    let (width, height, channels) = (Int(decoded.width), Int(decoded.height), Int(decoded.channels))
    let count = width * height * channels
    if decoded.bitDepth == 16 {
      let samples = UnsafeBufferPointer(start: pixels, count: 2 * count)
      return rgb(width: width, height: height, channels: channels) { index in
        Float(UInt16(samples[2 * index]) << 8 | UInt16(samples[2 * index + 1])) / 65535
      }
    }
    let samples = UnsafeBufferPointer(start: pixels, count: count)
    return rgb(width: width, height: height, channels: channels) { Float(samples[$0]) / 255 }
  }

  private static func decodeJPEG(_ data: Data, path: String) throws(ImageFileError) -> Image {
    var decoded = Blip2JPEGImage()
    let ok = data.withUnsafeBytes { bytes in
      blip2_jpeg_decode(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, UInt(maxPixels), &decoded)
    }
    defer { free(decoded.pixels) }
    if decoded.cmyk != 0 { throw .unsupported(path: path, format: "JPEG", reason: message(&decoded.message)) }
    guard ok == 1, let pixels = decoded.pixels else {
      throw .corrupt(path: path, format: "JPEG", reason: message(&decoded.message))
    }
    let (width, height, channels) = (Int(decoded.width), Int(decoded.height), Int(decoded.channels))
    let samples = UnsafeBufferPointer(start: pixels, count: width * height * channels)
    return rgb(width: width, height: height, channels: channels) { Float(samples[$0]) / 255 }
  }

  /// [3, height, width] from interleaved samples: gray (1, 2 channels) repeated, alpha (2, 4) dropped.
  private static func rgb(width: Int, height: Int, channels: Int, sample: (Int) -> Float) -> Image {
    let plane = width * height
    var out = [Float](repeating: 0, count: 3 * plane)
    for pixel in 0 ..< plane {
      let base = pixel * channels
      if channels < 3 {
        let gray = sample(base)
        out[pixel] = gray
        out[plane + pixel] = gray
        out[2 * plane + pixel] = gray
      } else {
        out[pixel] = sample(base)
        out[plane + pixel] = sample(base + 1)
        out[2 * plane + pixel] = sample(base + 2)
      }
    }
    return Image(width: width, height: height, pixels: out)
  }

  /// A C string buffer (a fixed-size char array imported as a tuple) as a Swift string.
  private static func message<T>(_ buffer: inout T) -> String {
    let text = withUnsafeBytes(of: &buffer) { bytes in
      String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
    return text.isEmpty ? "unknown decoder error" : text
  }
}
