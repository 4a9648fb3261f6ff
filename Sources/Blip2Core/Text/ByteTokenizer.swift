// A byte-level tokenizer: UTF-8 bytes at ids 3...258 after three special ids. The LM factories' default when
// no tokenizer is given; any plugin may use it.



/// UTF-8 bytes as tokens: 259 ids, of which 0, 1, 2 are special (which is pad, begin and end is configurable:
/// OPT uses pad 1 and `</s>` = 2 for both begin and end; T5 uses pad 0, end 1 and no begin token).
public struct ByteTokenizer: Tokenizer {
  /// Ids below this are special; byte b is id `b + firstByteId`.
  public static let firstByteId = 3
  public let padId: Int
  public let bosId: Int?
  public let eosId: Int?
  public var vocabularySize: Int { Self.firstByteId + 256 }

  /// A byte tokenizer with the given special ids (each in 0..<3).
  public init(padId: Int, bosId: Int?, eosId: Int?) {
    self.padId = padId
    self.bosId = bosId
    self.eosId = eosId
  }

  public func encode(_ text: String) -> [Int] { text.utf8.map { Int($0) + Self.firstByteId } }

  public func decode(_ ids: [Int]) -> String {
    let bytes = ids.compactMap { id in
      (Self.firstByteId..<vocabularySize).contains(id) ? UInt8(id - Self.firstByteId) : nil
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}
