// The safetensors header: its types, a small strict JSON parser (it keeps key order and reports duplicate
// keys, which JSONSerialization silently drops) and the validation of every entry against the byte buffer.

/// The element types a safetensors file can hold that this reader decodes. Every one is converted to
/// Float32 on load: floats exactly (F64 rounds), integers by value (beyond 2²⁴ they round to the nearest
/// Float), BOOL as 0 or 1. Integer buffers such as BERT's `position_ids` (I64) therefore load as Floats.
public enum SafeTensorsDType: String, CaseIterable, Sendable {
  /// IEEE binary64.
  case float64 = "F64"
  /// IEEE binary32, the type `save` writes.
  case float32 = "F32"
  /// IEEE binary16.
  case float16 = "F16"
  /// bfloat16 (the high half of a binary32).
  case bfloat16 = "BF16"
  /// Signed 64-bit integer.
  case int64 = "I64"
  /// Signed 32-bit integer.
  case int32 = "I32"
  /// Signed 16-bit integer.
  case int16 = "I16"
  /// Signed 8-bit integer.
  case int8 = "I8"
  /// Unsigned 64-bit integer.
  case uint64 = "U64"
  /// Unsigned 32-bit integer.
  case uint32 = "U32"
  /// Unsigned 16-bit integer.
  case uint16 = "U16"
  /// Unsigned 8-bit integer.
  case uint8 = "U8"
  /// One byte per element, non-zero is true.
  case bool = "BOOL"

  /// Bytes per element.
  public var byteSize: Int {
    switch self {
    case .float64, .int64, .uint64: return 8
    case .float32, .int32, .uint32: return 4
    case .float16, .bfloat16, .int16, .uint16: return 2
    case .int8, .uint8, .bool: return 1
    }
  }
}

/// The parsed and validated header of a safetensors file: what `SafeTensors.readHeader` returns.
public struct SafeTensorsHeader: Equatable, Sendable {
  /// One tensor's header entry.
  public struct Entry: Equatable, Sendable {
    /// The tensor's name (the JSON key).
    public let name: String
    /// The stored element type.
    public let dtype: SafeTensorsDType
    /// The shape; `[]` is a scalar.
    public let shape: [Int]
    /// The tensor's bytes, relative to the start of the byte buffer (`SafeTensorsHeader.dataStart`).
    public let dataOffsets: Range<Int>
    /// The number of elements (the product of `shape`).
    public let elementCount: Int
  }

  /// The entries in the order of the JSON header.
  public let entries: [Entry]
  /// The `__metadata__` string map (empty when absent).
  public let metadata: [String: String]
  /// The byte offset in the file where the byte buffer starts: 8 + the header length.
  public let dataStart: Int
  /// The size of the byte buffer in bytes.
  public let dataByteCount: Int

  /// The tensor names in header order.
  public var names: [String] { entries.map(\.name) }

  /// The entry named `name`, if any.
  public subscript(name: String) -> Entry? { entries.first { $0.name == name } }
}

// MARK: Validation

/// The JSON types of the parser below, by their short names.
private typealias JSONValue = SafeTensors.JSONValue
private typealias StrictJSONParser = SafeTensors.StrictJSONParser

extension SafeTensorsHeader {
  /// Validates the header JSON (the `json` bytes after the 8-byte length) of a file whose byte buffer
  /// starts at `dataStart` and has `dataByteCount` bytes; throws a `SafeTensorsError` naming `file` for
  /// any defect.
  init(json: [UInt8], dataStart: Int, dataByteCount: Int, file: String) throws(SafeTensorsError) {
    guard String(validating: json, as: UTF8.self) != nil else {
      throw .invalidHeader(file: file, reason: "it is not valid UTF-8")
    }
    var parser = StrictJSONParser(json)
    let root: JSONValue
    do { root = try parser.parseDocument() } catch {
      throw .invalidHeader(file: file, reason: error.message)
    }
    guard case .object(let members) = root else {
      throw .invalidHeader(file: file, reason: "the top level is \(root.kindName), not an object")
    }
    var metadata: [String: String]?
    var entries: [Entry] = []
    var seen = Set<String>()
    for (name, value) in members {
      if name == "__metadata__" {
        guard metadata == nil else { throw .invalidMetadata(file: file, reason: "it appears twice") }
        metadata = try Self.metadata(from: value, file: file)
        continue
      }
      guard seen.insert(name).inserted else { throw .duplicateTensor(file: file, tensor: name) }
      entries.append(try Self.entry(name, value, dataByteCount: dataByteCount, file: file))
    }
    // Overlaps: sorted by start, each non-empty range must begin at or after the previous one's end.
    let nonEmpty = entries.filter { !$0.dataOffsets.isEmpty }.sorted {
      $0.dataOffsets.lowerBound < $1.dataOffsets.lowerBound
    }
    for (previous, next) in zip(nonEmpty, nonEmpty.dropFirst())
    where next.dataOffsets.lowerBound < previous.dataOffsets.upperBound {
      throw .overlappingTensors(file: file, tensor: next.name, other: previous.name)
    }
    self.entries = entries
    self.metadata = metadata ?? [:]
    self.dataStart = dataStart
    self.dataByteCount = dataByteCount
  }

  /// Checks that `__metadata__` maps strings to strings.
  private static func metadata(
    from value: JSONValue, file: String
  ) throws(SafeTensorsError) -> [String: String] {
    guard case .object(let members) = value else {
      throw .invalidMetadata(file: file, reason: "it is \(value.kindName), not an object")
    }
    var result: [String: String] = [:]
    for (key, item) in members {
      guard case .string(let string) = item else {
        throw .invalidMetadata(
          file: file, reason: "the value of \"\(key)\" is \(item.kindName), not a string")
      }
      guard result.updateValue(string, forKey: key) == nil else {
        throw .invalidMetadata(file: file, reason: "the key \"\(key)\" appears twice")
      }
    }
    return result
  }

  /// Checks one tensor's entry: its fields and their types, its dtype and shape, and its offsets against
  /// the shape and the byte buffer.
  private static func entry(
    _ name: String, _ value: JSONValue, dataByteCount: Int, file: String
  ) throws(SafeTensorsError) -> Entry {
    guard case .object(let members) = value else {
      throw .invalidEntry(file: file, tensor: name, reason: "it is \(value.kindName), not an object")
    }
    var fields: [String: JSONValue] = [:]
    for (key, item) in members {
      guard fields.updateValue(item, forKey: key) == nil else {
        throw .invalidEntry(file: file, tensor: name, reason: "the key \"\(key)\" appears twice")
      }
    }
    func field(_ key: String) throws(SafeTensorsError) -> JSONValue {
      guard let item = fields[key] else {
        throw .invalidEntry(file: file, tensor: name, reason: "no \"\(key)\"")
      }
      return item
    }

    let dtypeValue = try field("dtype")
    guard case .string(let dtypeName) = dtypeValue else {
      throw .invalidEntry(
        file: file, tensor: name, reason: "\"dtype\" is \(dtypeValue.kindName), not a string")
    }
    guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
      throw .unknownDType(file: file, tensor: name, dtype: dtypeName)
    }

    let shapeValue = try field("shape")
    guard case .array(let dimensions) = shapeValue else {
      throw .invalidEntry(
        file: file, tensor: name, reason: "\"shape\" is \(shapeValue.kindName), not an array")
    }
    var shape: [Int] = []
    for dimension in dimensions {
      guard let size = dimension.integer else {
        throw .invalidEntry(
          file: file, tensor: name, reason: "\"shape\" holds \(dimension.kindName), not only 64-bit integers")
      }
      shape.append(size)
    }
    if shape.contains(where: { $0 < 0 }) { throw .negativeDimension(file: file, tensor: name, shape: shape) }

    guard case .array(let offsetValues) = try field("data_offsets"), offsetValues.count == 2,
      let begin = offsetValues[0].integer, let end = offsetValues[1].integer, begin >= 0, end >= 0
    else {
      throw .invalidOffsets(file: file, tensor: name, reason: "they are not two non-negative 64-bit integers")
    }
    guard begin <= end else {
      throw .invalidOffsets(file: file, tensor: name, reason: "begin \(begin) is after end \(end)")
    }

    var elementCount = 1
    for size in shape {
      let (product, overflow) = elementCount.multipliedReportingOverflow(by: size)
      if overflow { throw .sizeOverflow(file: file, tensor: name, shape: shape) }
      elementCount = product
    }
    let (byteCount, overflow) = elementCount.multipliedReportingOverflow(by: dtype.byteSize)
    if overflow { throw .sizeOverflow(file: file, tensor: name, shape: shape) }
    guard end - begin == byteCount else {
      throw .byteCountMismatch(
        file: file, tensor: name, dtype: dtype.rawValue, shape: shape, expected: byteCount,
        actual: end - begin)
    }
    guard end <= dataByteCount else {
      throw .truncatedData(file: file, tensor: name, end: end, bufferByteCount: dataByteCount)
    }
    return Entry(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end, elementCount: elementCount)
  }
}

// MARK: Strict JSON

extension SafeTensors {
  /// A parsed JSON value. Objects keep their members in order, duplicates included; numbers keep their text
  /// so integers are read exactly.
  enum JSONValue {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    /// The value as an `Int`, if it is an integer literal (no fraction or exponent) that fits.
    var integer: Int? {
      guard case .number(let text) = self, !text.contains(where: { ".eE".contains($0) }) else { return nil }
      return Int(text)
    }

    /// What the value is, for error messages ("a string", "an array", ...).
    var kindName: String {
      switch self {
      case .object: return "an object"
      case .array: return "an array"
      case .string: return "a string"
      case .number(let text): return "the number \(text)"
      case .bool(let flag): return "\(flag)"
      case .null: return "null"
      }
    }
  }

  /// A syntax error in JSON text, with the byte offset where it was found.
  struct JSONSyntaxError: Error {
    /// What went wrong and where.
    let message: String
  }

  /// A small RFC 8259 JSON parser over UTF-8 bytes, strict (no trailing commas, comments, NaN, lone
  /// surrogates) and bounded in nesting depth so hostile input cannot exhaust the stack.
  struct StrictJSONParser {
    private let bytes: [UInt8]
    private var index = 0
    private var depth = 0
    /// The deepest nesting of arrays and objects accepted.
    static let maxDepth = 64

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Parses one value followed only by whitespace (safetensors pads headers with spaces).
    mutating func parseDocument() throws(JSONSyntaxError) -> JSONValue {
      let value = try parseValue()
      skipWhitespace()
      guard index == bytes.count else { throw failure("unexpected text after the JSON value") }
      return value
    }

    private func failure(_ what: String) -> JSONSyntaxError {
      JSONSyntaxError(message: "invalid JSON at byte \(index): \(what)")
    }

    private mutating func skipWhitespace() {
      while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
      guard index < bytes.count, bytes[index] == byte else { return false }
      index += 1
      return true
    }

    private mutating func consume(literal: String) -> Bool {
      let expected = Array(literal.utf8)
      guard bytes.count - index >= expected.count, Array(bytes[index..<index + expected.count]) == expected
      else {
        return false
      }
      index += expected.count
      return true
    }

    private mutating func parseValue() throws(JSONSyntaxError) -> JSONValue {
      skipWhitespace()
      guard index < bytes.count else { throw failure("unexpected end of text") }
      switch bytes[index] {
      case UInt8(ascii: "{"): return try parseObject()
      case UInt8(ascii: "["): return try parseArray()
      case UInt8(ascii: "\""): return .string(try parseString())
      case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
      default:
        if consume(literal: "true") { return .bool(true) }
        if consume(literal: "false") { return .bool(false) }
        if consume(literal: "null") { return .null }
        throw failure("unexpected character")
      }
    }

    private mutating func enter() throws(JSONSyntaxError) {
      depth += 1
      if depth > Self.maxDepth { throw failure("nesting deeper than \(Self.maxDepth)") }
      index += 1
    }

    private mutating func parseObject() throws(JSONSyntaxError) -> JSONValue {
      try enter()
      defer { depth -= 1 }
      var members: [(key: String, value: JSONValue)] = []
      skipWhitespace()
      if consume(UInt8(ascii: "}")) { return .object(members) }
      while true {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
          throw failure("expected a string key")
        }
        let key = try parseString()
        skipWhitespace()
        guard consume(UInt8(ascii: ":")) else { throw failure("expected ':'") }
        members.append((key, try parseValue()))
        skipWhitespace()
        if consume(UInt8(ascii: "}")) { return .object(members) }
        guard consume(UInt8(ascii: ",")) else { throw failure("expected ',' or '}'") }
      }
    }

    private mutating func parseArray() throws(JSONSyntaxError) -> JSONValue {
      try enter()
      defer { depth -= 1 }
      var items: [JSONValue] = []
      skipWhitespace()
      if consume(UInt8(ascii: "]")) { return .array(items) }
      while true {
        items.append(try parseValue())
        skipWhitespace()
        if consume(UInt8(ascii: "]")) { return .array(items) }
        guard consume(UInt8(ascii: ",")) else { throw failure("expected ',' or ']'") }
      }
    }

    private mutating func parseNumber() throws(JSONSyntaxError) -> String {
      let start = index
      func digits(_ parser: inout StrictJSONParser) -> Int {
        let first = parser.index
        while parser.index < parser.bytes.count, (0x30...0x39).contains(parser.bytes[parser.index]) {
          parser.index += 1
        }
        return parser.index - first
      }
      _ = consume(UInt8(ascii: "-"))
      if consume(UInt8(ascii: "0")) {
        // A leading zero stands alone.
      } else if digits(&self) == 0 {
        throw failure("expected a digit")
      }
      if consume(UInt8(ascii: ".")), digits(&self) == 0 { throw failure("expected a digit after '.'") }
      if consume(UInt8(ascii: "e")) || consume(UInt8(ascii: "E")) {
        _ = consume(UInt8(ascii: "+")) || consume(UInt8(ascii: "-"))
        if digits(&self) == 0 { throw failure("expected a digit in the exponent") }
      }
      return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    private mutating func parseString() throws(JSONSyntaxError) -> String {
      index += 1  // the opening quote
      var utf8: [UInt8] = []
      while true {
        guard index < bytes.count else { throw failure("unterminated string") }
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""):
          return String(decoding: utf8, as: UTF8.self)
        case UInt8(ascii: "\\"):
          guard index < bytes.count else { throw failure("unterminated escape") }
          let escaped = bytes[index]
          index += 1
          switch escaped {
          case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escaped)
          case UInt8(ascii: "b"): utf8.append(0x08)
          case UInt8(ascii: "f"): utf8.append(0x0C)
          case UInt8(ascii: "n"): utf8.append(0x0A)
          case UInt8(ascii: "r"): utf8.append(0x0D)
          case UInt8(ascii: "t"): utf8.append(0x09)
          case UInt8(ascii: "u"): utf8.append(contentsOf: try parseUnicodeEscape())
          default: throw failure("invalid escape")
          }
        case 0x00..<0x20:
          throw failure("control character in a string")
        default:
          utf8.append(byte)
        }
      }
    }

    /// Reads the hex digits after `\u` (and a following `\uDC00`-style low surrogate) as UTF-8 bytes.
    private mutating func parseUnicodeEscape() throws(JSONSyntaxError) -> [UInt8] {
      var scalar = try parseHex4()
      if (0xD800..<0xDC00).contains(scalar) {
        guard consume(literal: "\\u") else { throw failure("lone high surrogate") }
        let low = try parseHex4()
        guard (0xDC00..<0xE000).contains(low) else { throw failure("invalid low surrogate") }
        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
      }
      guard let unicode = Unicode.Scalar(scalar) else { throw failure("lone low surrogate") }
      return Array(String(Character(unicode)).utf8)
    }

    private mutating func parseHex4() throws(JSONSyntaxError) -> UInt32 {
      guard bytes.count - index >= 4,
        let value = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16)
      else { throw failure("expected four hex digits after \\u") }
      // `UInt32(_:radix:)` accepts a sign; JSON does not.
      guard !bytes[index..<index + 4].contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") })
      else {
        throw failure("expected four hex digits after \\u")
      }
      index += 4
      return value
    }
  }
}
