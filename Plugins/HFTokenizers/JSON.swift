// A small JSON reader for tokenizer.json. Foundation's decoders would do, but they compare dictionary keys as Swift
// strings (canonically equivalent keys collide, "é" and "e\u{301}"), drop key order, and report errors without the
// JSON path; a vocabulary needs exact bytes and the error messages need the path, so this reads JSON itself.

/// A parsed JSON value; objects keep their keys' order and exact spelling.
enum JSONValue {
  case null
  case bool(Bool)
  case number(Double)
  case string(String)
  case array([JSONValue])
  case object([(key: String, value: JSONValue)])

  /// The JSON type's name, for messages.
  var kind: String {
    switch self {
    case .null: return "null"
    case .bool: return "a boolean"
    case .number: return "a number"
    case .string: return "a string"
    case .array: return "an array"
    case .object: return "an object"
    }
  }
}

/// Parses UTF-8 JSON text.
struct JSONParser {
  private let bytes: [UInt8]
  private var index = 0
  private let file: String

  /// Parses `bytes` (all of them: trailing non-space is an error).
  /// - Throws: `HFTokenizerError.malformedJSON` with the line and column of the problem.
  static func parse(_ bytes: [UInt8], file: String) throws(HFTokenizerError) -> JSONValue {
    var parser = JSONParser(bytes: bytes, file: file)
    var start = 0
    if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }  // a UTF-8 byte order mark
    parser.index = start
    let value = try parser.value(depth: 0)
    parser.skipSpace()
    guard parser.index == bytes.count else { throw parser.error("unexpected text after the JSON value") }
    return value
  }

  private init(bytes: [UInt8], file: String) {
    self.bytes = bytes
    self.file = file
  }

  private func error(_ reason: String) -> HFTokenizerError {
    var line = 1
    var lineStart = 0
    for i in 0..<min(index, bytes.count) where bytes[i] == UInt8(ascii: "\n") {
      line += 1
      lineStart = i + 1
    }
    return .malformedJSON(file: file, line: line, column: index - lineStart + 1, reason: reason)
  }

  private mutating func skipSpace() {
    while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
  }

  private mutating func value(depth: Int) throws(HFTokenizerError) -> JSONValue {
    guard depth < 512 else { throw error("nested too deeply") }
    skipSpace()
    guard index < bytes.count else { throw error("unexpected end of file") }
    switch bytes[index] {
    case UInt8(ascii: "{"): return try object(depth: depth)
    case UInt8(ascii: "["): return try array(depth: depth)
    case UInt8(ascii: "\""): return .string(try string())
    case UInt8(ascii: "t"): try literal("true"); return .bool(true)
    case UInt8(ascii: "f"): try literal("false"); return .bool(false)
    case UInt8(ascii: "n"): try literal("null"); return .null
    default: return .number(try number())
    }
  }

  private mutating func literal(_ word: String) throws(HFTokenizerError) {
    let expected = Array(word.utf8)
    guard bytes[index...].starts(with: expected) else { throw error("expected \(word)") }
    index += expected.count
  }

  private mutating func object(depth: Int) throws(HFTokenizerError) -> JSONValue {
    index += 1  // {
    var members: [(key: String, value: JSONValue)] = []
    skipSpace()
    if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
      index += 1
      return .object(members)
    }
    while true {
      skipSpace()
      guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a key in quotes") }
      let key = try string()
      skipSpace()
      guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':' after a key") }
      index += 1
      members.append((key, try value(depth: depth + 1)))
      if try isAtEnd(closing: "}", of: "an object") { return .object(members) }
    }
  }

  /// After a member or an element: consumes `,` (false: more follow) or `closing` (true: done).
  private mutating func isAtEnd(closing: Unicode.Scalar, of container: String) throws(HFTokenizerError) -> Bool {
    skipSpace()
    guard index < bytes.count else { throw error("unexpected end of file in \(container)") }
    let byte = bytes[index]
    guard byte == UInt8(ascii: ",") || byte == UInt8(ascii: closing) else {
      throw error("expected ',' or '\(closing)' in \(container)")
    }
    index += 1
    return byte == UInt8(ascii: closing)
  }

  private mutating func array(depth: Int) throws(HFTokenizerError) -> JSONValue {
    index += 1  // [
    var elements: [JSONValue] = []
    skipSpace()
    if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
      index += 1
      return .array(elements)
    }
    while true {
      elements.append(try value(depth: depth + 1))
      if try isAtEnd(closing: "]", of: "an array") { return .array(elements) }
    }
  }

  private mutating func string() throws(HFTokenizerError) -> String {
    index += 1  // opening quote
    let start = index
    // Fast path: no escapes.
    while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\"),
          bytes[index] >= 0x20 {
      index += 1
    }
    guard index < bytes.count else { throw error("unterminated string") }
    if bytes[index] == UInt8(ascii: "\"") {
      let text = try utf8String(bytes[start..<index])
      index += 1
      return text
    }
    var buffer = Array(bytes[start..<index])
    while true {
      guard index < bytes.count else { throw error("unterminated string") }
      let byte = bytes[index]
      if byte == UInt8(ascii: "\"") {
        index += 1
        return try utf8String(buffer[...])
      }
      guard byte >= 0x20 else { throw error("control character in a string (it must be escaped)") }
      guard byte == UInt8(ascii: "\\") else {
        buffer.append(byte)
        index += 1
        continue
      }
      index += 1
      guard index < bytes.count else { throw error("unterminated escape") }
      let escape = bytes[index]
      index += 1
      switch escape {
      case UInt8(ascii: "\""): buffer.append(0x22)
      case UInt8(ascii: "\\"): buffer.append(0x5C)
      case UInt8(ascii: "/"): buffer.append(0x2F)
      case UInt8(ascii: "b"): buffer.append(0x08)
      case UInt8(ascii: "f"): buffer.append(0x0C)
      case UInt8(ascii: "n"): buffer.append(0x0A)
      case UInt8(ascii: "r"): buffer.append(0x0D)
      case UInt8(ascii: "t"): buffer.append(0x09)
      case UInt8(ascii: "u"):
        var code = try hex4()
        if (0xD800..<0xDC00).contains(code) {
          guard bytes[index...].starts(with: [UInt8(ascii: "\\"), UInt8(ascii: "u")]) else {
            throw error("lone surrogate \\u\(String(code, radix: 16))")
          }
          index += 2
          let low = try hex4()
          guard (0xDC00..<0xE000).contains(low) else { throw error("invalid surrogate pair") }
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00..<0xE000).contains(code) {
          throw error("lone surrogate \\u\(String(code, radix: 16))")
        }
        guard let scalar = Unicode.Scalar(code) else { throw error("invalid code point") }
        buffer.append(contentsOf: Array(String(Character(scalar)).utf8))
      default:
        throw error("invalid escape \\\(Character(Unicode.Scalar(escape)))")
      }
    }
  }

  private mutating func hex4() throws(HFTokenizerError) -> UInt32 {
    guard index + 4 <= bytes.count else { throw error("truncated \\u escape") }
    var code: UInt32 = 0
    for byte in bytes[index..<index + 4] {
      guard let digit = Character(Unicode.Scalar(byte)).hexDigitValue else { throw error("invalid \\u escape") }
      code = code * 16 + UInt32(digit)
    }
    index += 4
    return code
  }

  private func utf8String(_ slice: ArraySlice<UInt8>) throws(HFTokenizerError) -> String {
    guard let text = String(validating: slice, as: UTF8.self) else { throw error("invalid UTF-8 in a string") }
    return text
  }

  private mutating func number() throws(HFTokenizerError) -> Double {
    let start = index
    if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
    let numberBytes: Set<UInt8> = Set("0123456789.eE+-".utf8)
    while index < bytes.count, numberBytes.contains(bytes[index]) { index += 1 }
    guard index > start, let value = Double(String(decoding: bytes[start..<index], as: UTF8.self)),
          value.isFinite else {
      index = start
      throw error("expected a value")
    }
    return value
  }
}

/// A JSON value with where it sits (its JSON path and file), so that every complaint about it can say so.
struct JSONNode {
  let value: JSONValue
  /// E.g. `normalizer.normalizers[1].type`.
  let path: String
  let file: String

  /// An error about this value.
  func invalid(_ reason: String) -> HFTokenizerError { .invalidValue(file: file, path: path, reason: reason) }

  /// The member `key` of this object; `nil` when absent or null.
  func member(_ key: String) throws(HFTokenizerError) -> JSONNode? {
    guard case let .object(members) = value else { throw invalid("should be an object, not \(value.kind)") }
    guard let found = members.first(where: { $0.key == key }) else { return nil }
    if case .null = found.value { return nil }
    return JSONNode(value: found.value, path: path.isEmpty ? key : "\(path).\(key)", file: file)
  }

  /// The member `key`, which must be present and not null.
  func required(_ key: String) throws(HFTokenizerError) -> JSONNode {
    guard let node = try member(key) else {
      throw HFTokenizerError.invalidValue(file: file, path: path.isEmpty ? key : "\(path).\(key)",
                                          reason: "is missing")
    }
    return node
  }

  /// This value as a string.
  func string() throws(HFTokenizerError) -> String {
    guard case let .string(text) = value else { throw invalid("should be a string, not \(value.kind)") }
    return text
  }

  /// This value as a boolean.
  func bool() throws(HFTokenizerError) -> Bool {
    guard case let .bool(flag) = value else { throw invalid("should be true or false, not \(value.kind)") }
    return flag
  }

  /// This value as a number.
  func double() throws(HFTokenizerError) -> Double {
    guard case let .number(number) = value else { throw invalid("should be a number, not \(value.kind)") }
    return number
  }

  /// This value as a whole number in `range`.
  func int(in range: ClosedRange<Int> = 0...Int(Int32.max)) throws(HFTokenizerError) -> Int {
    let number = try double()
    guard number.rounded() == number, number >= Double(range.lowerBound), number <= Double(range.upperBound) else {
      throw invalid("should be a whole number in \(range.lowerBound)...\(range.upperBound), not \(number)")
    }
    return Int(number)
  }

  /// The elements of this array.
  func elements() throws(HFTokenizerError) -> [JSONNode] {
    guard case let .array(items) = value else { throw invalid("should be an array, not \(value.kind)") }
    return items.enumerated().map { JSONNode(value: $1, path: "\(path)[\($0)]", file: file) }
  }

  /// The members of this object, in file order.
  func members() throws(HFTokenizerError) -> [(key: String, node: JSONNode)] {
    guard case let .object(items) = value else { throw invalid("should be an object, not \(value.kind)") }
    return items.map { ($0.key, JSONNode(value: $0.value, path: "\(path).\($0.key)", file: file)) }
  }

  // Optional members with defaults.

  func string(_ key: String, default fallback: String) throws(HFTokenizerError) -> String {
    try member(key)?.string() ?? fallback
  }

  func optionalString(_ key: String) throws(HFTokenizerError) -> String? { try member(key)?.string() }

  func bool(_ key: String, default fallback: Bool) throws(HFTokenizerError) -> Bool {
    try member(key)?.bool() ?? fallback
  }

  func int(_ key: String, default fallback: Int) throws(HFTokenizerError) -> Int {
    try member(key)?.int() ?? fallback
  }

  /// The component's `type` member, for the registries of component kinds.
  func typeName() throws(HFTokenizerError) -> String { try required("type").string() }

  /// The component this node describes, built by the factory registered for `type`.
  /// - Throws: `HFTokenizerError.unsupportedType` for a type not in `factories`, or the factory's errors.
  func component<Component>(type: String, from factories: [String: @Sendable (JSONNode) throws -> Component])
    throws -> Component {
    guard let factory = factories[type] else {
      throw HFTokenizerError.unsupportedType(file: file, path: path.isEmpty ? "type" : "\(path).type", type: type,
                                             supported: factories.keys.sorted())
    }
    return try factory(self)
  }
}
