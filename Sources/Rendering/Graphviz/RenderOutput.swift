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

  /// Creates `folder` and its parents when missing.
  /// - Throws: `RenderError.cannotWrite` naming the folder and the system's reason (a file in the way, no
  ///   permission, a read-only file system).
  public static func createFolder(_ folder: URL) throws {
    var missing = [URL]()
    var current = folder.standardizedFileURL
    var isDirectory: ObjCBool = false
    while !FileManager.default.fileExists(atPath: current.path, isDirectory: &isDirectory) && current.path != "/" {
      missing.append(current)
      current = current.deletingLastPathComponent()
    }
    guard isDirectory.boolValue || current.path == "/" else {
      throw RenderError.cannotWrite(path: folder.path, reason: "\(current.path) is a file, not a folder")
    }
    for path in missing.reversed().map(\.path) where mkdir(path, 0o755) != 0 && errno != EEXIST {
      let reason = String(cString: strerror(errno)).lowercased()
      throw RenderError.cannotWrite(path: folder.path, reason: "the folder \(path) cannot be created (\(reason))")
    }
  }

  /// Writes `text` as UTF-8, atomically.
  /// - Throws: `RenderError.cannotWrite`.
  public static func write(_ text: String, to url: URL) throws {
    try write(Data(text.utf8), to: url)
  }
}
