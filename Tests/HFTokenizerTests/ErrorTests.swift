// Broken and unsupported tokenizer files end in errors that name the file, the JSON path and the problem.

import Foundation
import Testing

@testable import HFTokenizers

@Suite("HFTokenizer errors")
struct HFTokenizerErrorTests {
  static let file = "/checkpoints/broken/tokenizer.json"

  /// A minimal WordPiece tokenizer.json with `model` replaced, and extra top-level members.
  static func json(model: String = #"{"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 1}}"#,
                   extra: String = "") -> Data {
    Data(#"{"version": "1.0", "added_tokens": [], \#(extra) "model": \#(model)}"#.utf8)
  }

  /// The error loading `data` throws, and its message.
  static func failure(_ data: Data) -> (HFTokenizerError, String)? {
    do {
      _ = try HFTokenizer(data: data, file: file)
      return nil
    } catch {
      return (error, error.errorDescription ?? "")
    }
  }

  @Test func theMinimalFileLoads() throws {
    let tokenizer = try HFTokenizer(data: Self.json(), file: Self.file)
    #expect(tokenizer.encode("a") == [1] && tokenizer.encode("a b") == [0])  // no pre-tokenizer: one word
    let split = try HFTokenizer(data: Self.json(extra: #""pre_tokenizer": {"type": "WhitespaceSplit"},"#), file: Self.file)
    #expect(split.encode("a a c") == [1, 1, 0])
  }

  @Test func unknownModelTypeNamesFileAndPathAndType() throws {
    let (error, message) = try #require(Self.failure(Self.json(model: #"{"type": "Tiktoken", "vocab": {}}"#)))
    #expect(error == .unsupportedType(file: Self.file, path: "model.type", type: "Tiktoken",
                                      supported: ["BPE", "Unigram", "WordLevel", "WordPiece"]))
    #expect(message.contains(Self.file) && message.contains("model.type") && message.contains("\"Tiktoken\""))
  }

  @Test func unknownNestedComponentTypeNamesItsPath() throws {
    let normalizer = #""normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Nmt"}]},"#
    let (error, message) = try #require(Self.failure(Self.json(extra: normalizer)))
    guard case let .unsupportedType(file, path, type, supported) = error else {
      Issue.record("wrong error: \(error)")
      return
    }
    #expect(file == Self.file && path == "normalizer.normalizers[1].type" && type == "Nmt" && supported.contains("NFC"))
    #expect(message.contains("normalizer.normalizers[1].type"))
  }

  @Test(arguments: [
    #""pre_tokenizer": {"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Isolated"},"#,
    #""post_processor": {"type": "Mystery"},"#,
    #""decoder": {"type": "CTC"},"#,
  ])
  func unknownComponentTypesAreErrors(_ extra: String) throws {
    let (error, _) = try #require(Self.failure(Self.json(extra: extra)))
    guard case .unsupportedType = error else {
      Issue.record("wrong error: \(error)")
      return
    }
  }

  @Test func malformedJSONNamesFileAndLine() throws {
    let broken = Data("{\n  \"model\": {\"type\": \"BPE\",\n    \"vocab\": {\"a\": 1,}\n}".utf8)
    let (error, message) = try #require(Self.failure(broken))
    guard case let .malformedJSON(file, line, _, _) = error else {
      Issue.record("wrong error: \(error)")
      return
    }
    #expect(file == Self.file && line == 3)
    #expect(message.contains(Self.file) && message.contains("line 3"))
  }

  @Test func truncatedAndEmptyFilesAreErrors() throws {
    let whole = String(decoding: Self.json(), as: UTF8.self)
    for cut in [0, 1, whole.utf8.count / 2, whole.utf8.count - 1] {
      let (error, _) = try #require(Self.failure(Data(whole.utf8.prefix(cut))))
      guard case .malformedJSON = error else {
        Issue.record("cut at \(cut): wrong error \(error)")
        continue
      }
    }
  }

  @Test func unknownTokenMissingFromTheVocabularyIsAnError() throws {
    let model = #"{"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"a": 0, "b": 1}}"#
    let (error, message) = try #require(Self.failure(Self.json(model: model)))
    #expect(error == .missingUnknownToken(file: Self.file, path: "model.unk_token", token: "[UNK]"))
    #expect(message.contains(Self.file) && message.contains("[UNK]") && message.contains("model.unk_token"))
    let bpe = #"{"type": "BPE", "unk_token": "<unk>", "vocab": {"a": 0}, "merges": []}"#
    #expect(Self.failure(Self.json(model: bpe))?.0
            == .missingUnknownToken(file: Self.file, path: "model.unk_token", token: "<unk>"))
  }

  @Test func badModelContentsNameTheirPath() throws {
    let cases: [(model: String, path: String)] = [
      (#"{"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a c"]}"#, "model.merges[0]"),
      (#"{"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [["a", "b"]]}"#, "model.merges[0]"),
      (#"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b c"]}"#, "model.merges[0]"),
      (#"{"type": "BPE", "vocab": {"a": 0}, "merges": [], "dropout": 0.1}"#, "model.dropout"),
      (#"{"type": "WordPiece", "vocab": {"[UNK]": "zero"}}"#, "model.vocab.[UNK]"),
      (#"{"type": "Unigram", "unk_id": 5, "vocab": [["<unk>", 0.0]]}"#, "model.unk_id"),
      (#"{"type": "Unigram", "vocab": [["<unk>"]]}"#, "model.vocab[0]"),
      (#"{"type": "WordPiece"}"#, "model.vocab"),
    ]
    for (model, path) in cases {
      let (error, message) = try #require(Self.failure(Self.json(model: model)), "\(model) should fail")
      guard case let .invalidValue(file, foundPath, _) = error else {
        Issue.record("\(model): wrong error \(error)")
        continue
      }
      #expect(file == Self.file && foundPath == path, "\(model): \(message)")
    }
  }

  @Test func badPrecompiledCharsmapIsAnError() throws {
    for charsmap in ["not base64!", "AAAA", "/////wAAAAA="] {
      let normalizer = #""normalizer": {"type": "Precompiled", "precompiled_charsmap": "\#(charsmap)"},"#
      let (error, _) = try #require(Self.failure(Self.json(extra: normalizer)))
      guard case let .invalidValue(_, path, _) = error else {
        Issue.record("\(charsmap): wrong error \(error)")
        continue
      }
      #expect(path == "normalizer.precompiled_charsmap")
    }
  }

  @Test func templateNamingAMissingSpecialTokenIsAnError() throws {
    let processor = #""post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}], "pair": [], "special_tokens": {}},"#
    let (error, _) = try #require(Self.failure(Self.json(extra: processor)))
    #expect(error == .invalidValue(file: Self.file, path: "post_processor.single[0].SpecialToken.id",
                                   reason: "names \"[CLS]\", which is not in special_tokens"))
  }

  @Test func missingFileNamesIt() throws {
    let missing = URL(fileURLWithPath: "/nonexistent/folder/tokenizer.json")
    #expect(throws: HFTokenizerError.self) { try HFTokenizer(contentsOf: missing) }
    do {
      _ = try HFTokenizer(directory: missing.deletingLastPathComponent())
    } catch {
      #expect(error.errorDescription?.contains(missing.path) == true)
    }
  }
}
