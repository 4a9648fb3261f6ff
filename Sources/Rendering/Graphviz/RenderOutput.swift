import Foundation

/// Writing rendered files: atomically, so a reader never sees half a file and a failed write leaves the old one.
public enum RenderOutput {
  /// Writes `data` to `url` through a temporary file in the same folder and a rename.
  /// - Throws: `RenderError.cannotWrite` when the folder does not exist or is not writable.
  public static func write(_ data: Data, to url: URL) throws {
    let folder = url.deletingLastPathComponent()
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue
    else {
      throw RenderError.cannotWrite(path: url.path, reason: "the folder \(folder.path) does not exist")
    }
    let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
    do {
      try data.write(to: temporary)
    } catch {
      throw RenderError.cannotWrite(path: url.path, reason: error.localizedDescription)
    }
    guard rename(temporary.path, url.path) == 0 else {
      let reason = String(cString: strerror(errno))
      try? FileManager.default.removeItem(at: temporary)
      throw RenderError.cannotWrite(path: url.path, reason: reason)
    }
  }

  /// Writes `text` as UTF-8, atomically.
  /// - Throws: `RenderError.cannotWrite`.
  public static func write(_ text: String, to url: URL) throws {
    try write(Data(text.utf8), to: url)
  }
}
