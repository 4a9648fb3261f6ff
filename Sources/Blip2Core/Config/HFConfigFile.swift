// Typed reads of a Hugging Face `config.json`, with errors that name the file and the key. Shared by every
// plugin that loads a checkpoint folder.

import Foundation

/// A parsed `config.json`: reads fields with defaults and reports a wrong type or value through `fail`.
public struct HFConfigFile {
  /// The file's path, for messages.
  public let file: String
  /// The top-level object.
  public let table: [String: Any]
  /// Makes the plugin's error for a bad field: (key, reason).
  public let fail: (String, String) -> any Error

  /// Reads `directory/config.json`; `unreadable` makes the error for a missing or non-object file: (file, reason).
  public init(directory: URL, unreadable: (String, String) -> any Error, fail: @escaping (String, String) -> any Error) throws {
    let url = directory.appendingPathComponent("config.json")
    file = url.path
    self.fail = fail
    let data: Data
    do { data = try Data(contentsOf: url) } catch { throw unreadable(url.path, "\(error.localizedDescription)") }
    guard let object = try? JSONSerialization.jsonObject(with: data), let table = object as? [String: Any] else {
      throw unreadable(url.path, "not a JSON object")
    }
    self.table = table
  }

  /// A config read from an already parsed object (`file` names it in messages).
  public init(table: [String: Any], file: String, fail: @escaping (String, String) -> any Error) {
    self.file = file
    self.table = table
    self.fail = fail
  }

  /// The object under `key` (e.g. a BLIP-2 checkpoint's `text_config`), whose failures name `key.field`; nil
  /// when absent or null.
  /// - Throws: through `fail` when the value is not a JSON object.
  public func nested(_ key: String) throws -> HFConfigFile? {
    guard has(key) else { return nil }
    guard let inner = table[key] as? [String: Any] else { throw fail(key, "must be a JSON object") }
    let outer = fail
    return HFConfigFile(table: inner, file: file, fail: { outer("\(key).\($0)", $1) })
  }

  /// The config a component reads: the `key` section of a composite model's config (a whole BLIP-2 checkpoint's
  /// `text_config`, `vision_config`, `qformer_config`) when `model_type` is one of `composite`, else this one.
  /// - Throws: through `fail` when the section is missing or not a JSON object.
  public func section(_ key: String, whenModelTypeIn composite: [String] = ["blip-2", "blip_2"]) throws -> HFConfigFile {
    guard composite.contains(try string("model_type", default: "")) else { return self }
    guard let inner = try nested(key) else { throw fail(key, "is required in a \(composite[0]) checkpoint's config") }
    return inner
  }

  /// Whether `key` holds a non-null value.
  public func has(_ key: String) -> Bool { table[key] != nil && !(table[key] is NSNull) }

  /// A positive integer (absent or null: `value`).
  public func int(_ key: String, default value: Int? = nil) throws -> Int {
    guard has(key) else {
      if let value { return value }
      throw fail(key, "is required (a positive integer)")
    }
    guard let number = table[key] as? NSNumber, !isBool(number), let whole = Int(exactly: number.doubleValue),
          whole > 0 else {
      throw fail(key, "must be a positive integer, got \(table[key] ?? "nothing")")
    }
    return whole
  }

  /// A number (absent or null: `value`).
  public func double(_ key: String, default value: Double) throws -> Double {
    guard has(key) else { return value }
    guard let number = table[key] as? NSNumber, !isBool(number) else {
      throw fail(key, "must be a number, got \(table[key] ?? "nothing")")
    }
    return number.doubleValue
  }

  /// A boolean (absent or null: `value`).
  public func bool(_ key: String, default value: Bool) throws -> Bool {
    guard has(key) else { return value }
    guard let number = table[key] as? NSNumber, isBool(number) else {
      throw fail(key, "must be true or false, got \(table[key] ?? "nothing")")
    }
    return number.boolValue
  }

  /// A string (absent or null: `value`).
  public func string(_ key: String, default value: String) throws -> String {
    guard has(key) else { return value }
    guard let text = table[key] as? String else { throw fail(key, "must be a string, got \(table[key] ?? "nothing")") }
    return text
  }

  /// An optional token id (absent, null or a list: nil; a list takes its first element).
  public func tokenId(_ key: String) throws -> Int? {
    guard has(key) else { return nil }
    let raw = (table[key] as? [Any])?.first ?? table[key]
    guard let number = raw as? NSNumber, !isBool(number), let id = Int(exactly: number.doubleValue), id >= 0 else {
      throw fail(key, "must be a token id (a non-negative integer), got \(table[key] ?? "nothing")")
    }
    return id
  }

  /// JSON `true`/`false` arrive as NSNumbers of Objective-C type "c" (a number never does).
  private func isBool(_ number: NSNumber) -> Bool { String(cString: number.objCType) == "c" }
}
