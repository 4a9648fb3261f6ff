// Post-processors: put the model's special tokens around the encoded sequence (or pair of sequences) and set the
// type ids: [CLS] A [SEP] for BERT, </s> A for OPT, A </s> for T5, <s> A </s> for RoBERTa.

/// An encoded sequence (or a run of special tokens) and its type id.
struct Segment {
  var tokens: [ModelToken]
  var typeId: Int
}

/// A post-processor of the pipeline.
protocol PostProcessor: Sendable {
  /// The segments of the final encoding, from the encoded sequence and the optional pair: the library's default
  /// (A with type 0, B with type 1) when `addSpecialTokens` is off, unless the processor says otherwise.
  func process(_ first: Segment, _ second: Segment?, addSpecialTokens: Bool) -> [Segment]
}

/// The post-processor types, by the name tokenizer.json uses.
enum PostProcessors {
  typealias Factory = @Sendable (JSONNode) throws -> any PostProcessor

  static let factories: [String: Factory] = [
    "TemplateProcessing": { node in try TemplateProcessing(node) },
    "BertProcessing": { node in
      SurroundingProcessing(first: try specialToken(node.required("cls")), last: try specialToken(node.required("sep")),
                            pairSeparatorRepeats: false)
    },
    "RobertaProcessing": { node in
      SurroundingProcessing(first: try specialToken(node.required("cls")), last: try specialToken(node.required("sep")),
                            pairSeparatorRepeats: true)
    },
    "ByteLevel": { _ in NoSpecialTokens() },
    "Sequence": { node in SequenceProcessing(steps: try node.required("processors").elements().map(make)) },
  ]

  /// The post-processor `node` describes.
  /// - Throws: `HFTokenizerError.unsupportedType` for a type not in `factories`, or the component's own errors.
  static func make(_ node: JSONNode) throws -> any PostProcessor { try node.component(type: node.typeName(), from: factories) }

  /// A `["[CLS]", 101]` pair.
  static func specialToken(_ node: JSONNode) throws -> ModelToken {
    let parts = try node.elements()
    guard parts.count == 2 else { throw node.invalid("should be [token, id]") }
    return ModelToken(id: try parts[1].int(), text: try parts[0].string())
  }
}

/// The library's processing when nothing is added: A with its type id, B with its own.
struct NoSpecialTokens: PostProcessor {
  func process(_ first: Segment, _ second: Segment?, addSpecialTokens: Bool) -> [Segment] {
    [first] + (second.map { [$0] } ?? [])
  }
}

/// BertProcessing (`[CLS] A [SEP]`, pair `... B [SEP]` with type 1) and RobertaProcessing (`<s> A </s>`, pair
/// `... </s> B </s>`, all type 0).
struct SurroundingProcessing: PostProcessor {
  let first: ModelToken
  let last: ModelToken
  let pairSeparatorRepeats: Bool

  func process(_ a: Segment, _ b: Segment?, addSpecialTokens: Bool) -> [Segment] {
    guard addSpecialTokens else {
      // RoBERTa sets every type id to 0, special tokens or not.
      let second = pairSeparatorRepeats ? b.map { Segment(tokens: $0.tokens, typeId: 0) } : b
      return NoSpecialTokens().process(a, second, addSpecialTokens: false)
    }
    var segments = [Segment(tokens: [first], typeId: 0), Segment(tokens: a.tokens, typeId: 0),
                    Segment(tokens: [last], typeId: 0)]
    if let b {
      let typeId = pairSeparatorRepeats ? 0 : 1
      if pairSeparatorRepeats { segments.append(Segment(tokens: [last], typeId: typeId)) }
      segments += [Segment(tokens: b.tokens, typeId: typeId), Segment(tokens: [last], typeId: typeId)]
    }
    return segments
  }
}

/// TemplateProcessing: templates for one sequence and for a pair, made of `$A`/`$B` (with a type id) and special
/// tokens (each one or more ids).
struct TemplateProcessing: PostProcessor {
  enum Item {
    case sequence(isFirst: Bool, typeId: Int)
    case special([ModelToken], typeId: Int)
  }

  let single: [Item]
  let pair: [Item]

  init(_ node: JSONNode) throws {
    var specials: [String: [ModelToken]] = [:]
    if let map = try node.member("special_tokens") {
      for (name, entry) in try map.members() {
        let ids = try entry.required("ids").elements().map { try $0.int() }
        let tokens = try entry.required("tokens").elements().map { try $0.string() }
        guard ids.count == tokens.count else { throw entry.invalid("has \(ids.count) ids but \(tokens.count) tokens") }
        specials[name] = zip(ids, tokens).map { ModelToken(id: $0, text: $1) }
      }
    }
    func template(_ key: String) throws -> [Item] {
      try node.required(key).elements().map { item in
        if let sequence = try item.member("Sequence") {
          let name = try sequence.required("id").string()
          guard name == "A" || name == "B" else { throw try sequence.required("id").invalid("should be \"A\" or \"B\"") }
          return .sequence(isFirst: name == "A", typeId: try sequence.int("type_id", default: 0))
        }
        if let special = try item.member("SpecialToken") {
          let name = try special.required("id").string()
          guard let tokens = specials[name] else {
            throw try special.required("id").invalid("names \"\(name)\", which is not in special_tokens")
          }
          return .special(tokens, typeId: try special.int("type_id", default: 0))
        }
        throw item.invalid("should be {\"Sequence\": ...} or {\"SpecialToken\": ...}")
      }
    }
    single = try template("single")
    pair = try template("pair")
  }

  func process(_ a: Segment, _ b: Segment?, addSpecialTokens: Bool) -> [Segment] {
    (b == nil ? single : pair).compactMap { item in
      switch item {
      case let .sequence(isFirst, typeId):
        guard let sequence = isFirst ? a : b else { return nil }
        return Segment(tokens: sequence.tokens, typeId: typeId)
      case let .special(tokens, typeId):
        return addSpecialTokens ? Segment(tokens: tokens, typeId: typeId) : nil
      }
    }
  }
}

/// Several post-processors, each given what the one before made. Only the last may add special tokens (as in the
/// library, where a template after another template fails): Llama 3's ByteLevel then TemplateProcessing.
struct SequenceProcessing: PostProcessor {
  let steps: [any PostProcessor]

  func process(_ a: Segment, _ b: Segment?, addSpecialTokens: Bool) -> [Segment] {
    var segments = [a] + (b.map { [$0] } ?? [])
    for step in steps {
      segments = step.process(segments[0], segments.count > 1 ? segments[1] : nil, addSpecialTokens: addSpecialTokens)
    }
    return segments
  }
}
