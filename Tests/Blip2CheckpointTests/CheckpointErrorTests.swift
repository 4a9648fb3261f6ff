// Broken checkpoint folders end in typed errors that name the file and the key; the tokenizer a folder brings is
// the one its components use, through the Swift API and the registry; an export loads back.

import Blip2Checkpoints
import Blip2Core
import DecoderLM
import Foundation
import HFTokenizers
import LabKit
import QFormer
import Tensor
import Testing

/// A copy of fixture `name` in a fresh temporary folder, to break.
func scratchCopy(_ name: String) throws -> URL {
  let source = try fixturesDirectory().appendingPathComponent(name)
  let target = FileManager.default.temporaryDirectory.appendingPathComponent("blip2-\(UUID().uuidString)")
  try FileManager.default.copyItem(at: source, to: target)
  return target
}

/// Rewrites config.json of `folder` with `change` applied to its object.
func editConfig(_ folder: URL, _ change: (inout [String: Any]) -> Void) throws {
  let url = folder.appendingPathComponent("config.json")
  var table = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
  change(&table)
  try JSONSerialization.data(withJSONObject: table).write(to: url)
}

@Suite("Broken BLIP-2 checkpoints end in clear errors")
struct CheckpointErrorTests {
  @Test("a malformed config.json names the file")
  func malformedConfig() throws {
    let folder = try scratchCopy("blip2_opt_tiny")
    try Data("{ \"model_type\": ".utf8).write(to: folder.appendingPathComponent("config.json"))
    #expect {
      try Blip2Checkpoint.load(directory: folder)
    } throws: { error in
      guard case let .unreadableConfig(file, _)? = error as? Blip2CheckpointError else { return false }
      return file.hasSuffix("config.json")
    }
  }

  @Test("a wrong value in a nested config names the file and the dotted key")
  func badNestedValue() throws {
    let folder = try scratchCopy("blip2_opt_tiny")
    try editConfig(folder) { table in
      var text = table["text_config"] as? [String: Any] ?? [:]
      text["activation_function"] = "swish"
      table["text_config"] = text
    }
    #expect(throws: DecoderLMError.invalidConfigValue(
      file: folder.appendingPathComponent("config.json").path, key: "text_config.activation_function",
      reason: "\"swish\" is not supported; supported: relu, gelu, gelu_new, gelu_pytorch_tanh")) {
      try Blip2Checkpoint.load(directory: folder)
    }
  }

  @Test("a shard the index names but the folder lacks is named with its tensor")
  func missingShard() throws {
    let folder = try scratchCopy("blip2_opt_tiny")
    let single = folder.appendingPathComponent("model.safetensors")
    let tensors = try SafeTensors.load(single)
    try FileManager.default.removeItem(at: single)
    let names = tensors.keys.sorted()
    let half = names.count / 2
    try SafeTensors.save(Dictionary(uniqueKeysWithValues: names[..<half].map { ($0, tensors[$0]!) }),
                         to: folder.appendingPathComponent("model-00001-of-00002.safetensors"))
    let map = Dictionary(uniqueKeysWithValues: names.enumerated().map {
      ($0.element, $0.offset < half ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors")
    })
    try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": map])
      .write(to: folder.appendingPathComponent("model.safetensors.index.json"))
    #expect {
      try Blip2Checkpoint.load(directory: folder)
    } throws: { error in
      guard case let .missingShard(_, shard, _)? = error as? SafeTensorsError else { return false }
      return shard == "model-00002-of-00002.safetensors"
    }
  }

  @Test("a tensor whose shape disagrees with config.json is named with both shapes")
  func shapeMismatch() throws {
    let folder = try scratchCopy("blip2_opt_tiny")
    try editConfig(folder) { table in
      var text = table["text_config"] as? [String: Any] ?? [:]
      text["ffn_dim"] = 40
      table["text_config"] = text
    }
    #expect {
      try Blip2Checkpoint.load(directory: folder)
    } throws: { error in
      guard case let .shapeMismatch(name, expected, found, _)? = error as? ModuleError else { return false }
      return name.hasPrefix("language_model.") && name.contains("fc1") && expected != found
    }
  }

  @Test("a tokenizer.json with an unknown model type names the file and the JSON path")
  func unknownTokenizerModel() throws {
    let folder = try scratchCopy("blip2_opt_tiny")
    let url = folder.appendingPathComponent("tokenizer.json")
    var table = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    var model = table["model"] as? [String: Any] ?? [:]
    model["type"] = "Morpheme"
    table["model"] = model
    try JSONSerialization.data(withJSONObject: table).write(to: url)
    #expect {
      try Blip2Checkpoint.load(directory: folder)
    } throws: { error in
      guard case let .unsupportedType(file, path, type, _)? = error as? HFTokenizerError else { return false }
      return file == url.path && path.contains("model") && type == "Morpheme"
    }
  }

  @Test("a folder that is not a whole BLIP-2 model says so")
  func notBlip2() throws {
    let folder = try scratchCopy("blip2_opt_tiny")
    try editConfig(folder) { $0["model_type"] = "opt" }
    #expect(throws: Blip2CheckpointError.self) { try Blip2Checkpoint.load(directory: folder) }
  }
}

@Suite("Checkpoint folders bring their tokenizer")
struct CheckpointTokenizerTests {
  @Test("the registry's lm.decoder and bridge.qformer load a BLIP-2 folder's parts, with its tokenizer")
  func registry() throws {
    let folder = try fixturesDirectory().appendingPathComponent("blip2_opt_tiny")
    let registry = try makeStandardRegistry()
    let lm: any LanguageModel = try registry.make(.lm, "decoder", config: .table(["checkpoint": .string(folder.path)]))
    #expect(lm.tokenizer is HFTokenizer)
    #expect(lm.tokenizer.vocabularySize == 1000)
    let bridge: QFormer = try registry.make(.bridge, "qformer", config: .table(["huggingFace": .string(folder.path)]))
    #expect(bridge.configuration.hidden == 32 && bridge.configuration.queries == 4 && bridge.configuration.layers == 2)
  }

  @Test("a BERT tokenizer.json becomes the Q-Former's, with [DEC] right after its vocabulary")
  func bertTokenizer() throws {
    let file = try fixturesDirectory().appendingPathComponent("bert.tokenizer.json")
    let bert = try HFTokenizer(contentsOf: file)
    let qformer = try QFormer(QFormerConfiguration.sandbox.withVocabulary(bert.vocabularySize + 1))
    try qformer.useBERTTokenizer(bert)
    #expect(qformer.configuration.decoderTokenId == bert.vocabularySize)
    let batch = qformer.tokenizeText(["a red circle"], maxLength: 16)
    #expect(batch.sequence(0) == bert.encode("a red circle", addSpecialTokens: true))
    let small = try QFormer(QFormerConfiguration.sandbox.withVocabulary(bert.vocabularySize))
    #expect(throws: QFormerError.self) { try small.useBERTTokenizer(bert) }
  }
}

extension QFormerConfiguration {
  /// This configuration with another vocabulary size (and `[DEC]` its last id).
  func withVocabulary(_ size: Int) -> QFormerConfiguration {
    var copy = self
    copy.vocabularySize = size
    copy.decoderTokenId = size - 1
    return copy
  }
}

@Suite("Exports in transformers' BLIP-2 layout")
struct Blip2ExportTests {
  /// The OPT fixture's vision tower and LM with a Q-Former and projection of our own (seeded, larger init so the
  /// soft prompt is not near zero): what a trained Blip2Lab model looks like.
  static func ownModel() throws -> (Blip2Model, Blip2Checkpoint) {
    let loaded = try Blip2Checkpoint.load(directory: try fixturesDirectory().appendingPathComponent("blip2_opt_tiny"))
    var configuration = try QFormer.huggingFaceBlip2Configuration(directory: loaded.directory)
    configuration.initStd = 0.3
    let model = Blip2Model(encoder: loaded.model.encoder, bridge: try QFormer(configuration, seed: 7),
                           languageModel: loaded.languageModel, seed: 7)
    return (model, loaded)
  }

  @Test("an export loads back with the same soft prompt and generations; BLIP2LAB_WRITE_FIXTURES=1 commits it")
  func roundTrip() throws {
    let (model, loaded) = try Self.ownModel()
    let write = ProcessInfo.processInfo.environment["BLIP2LAB_WRITE_FIXTURES"] == "1"
    let folder = write
      ? URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/exported_opt_tiny")
      : FileManager.default.temporaryDirectory.appendingPathComponent("blip2-export-\(UUID().uuidString)")
    let report = try Blip2Checkpoint.export(model, imageTokenId: loaded.imageTokenId, to: folder)
    #expect(report.omitted.isEmpty, "\(report.omitted)")
    #expect(report.tensors.contains("vision_model.post_layernorm.weight"))
    let back = try Blip2Checkpoint.load(directory: folder)
    let pixels = try Blip2Fixture("blip2_opt_tiny").tensor("pixel_values")
    let ours = try GradMode.noGrad { try model.softPrompt(try model.encoder.encode(pixels)) }
    expectMatches(try back.softPrompt(pixels), ours, "soft prompt after export and reload")
    let prompts = ["", "Question: what colour is the circle? Answer:"]
    let greedy = try back.generate(pixels: pixels, prompts: prompts, options: GenerationOptions(maxTokens: 8))
    if write {
      try SafeTensors.save(["pixel_values": pixels, "soft_prompt": ours], to: folder.appendingPathComponent("ours.safetensors"))
      let tokenizer = try #require(back.languageModel.tokenizer as? HFTokenizer)
      let cases = prompts.enumerated().map { index, prompt in
        ["image": index, "prompt": prompt, "prompt_ids": tokenizer.encode(prompt, addSpecialTokens: true),
         "greedy": greedy[index]] as [String: Any]
      }
      try JSONSerialization.data(withJSONObject: ["cases": cases], options: [.prettyPrinted, .sortedKeys])
        .write(to: folder.appendingPathComponent("ours.json"), options: .atomic)
    }
  }

  @Test("the committed export (checked by transformers in make_blip2_fixtures.py --check-export) is what we compute")
  func committedExport() throws {
    let folder = try fixturesDirectory().appendingPathComponent("exported_opt_tiny")
    let ours = try SafeTensors.load(folder.appendingPathComponent("ours.safetensors"))
    let back = try Blip2Checkpoint.load(directory: folder)
    let pixels = try #require(ours["pixel_values"]), expected = try #require(ours["soft_prompt"])
    expectMatches(try back.softPrompt(pixels), expected, "committed export's soft prompt")
    let (model, _) = try Self.ownModel()
    expectMatches(try GradMode.noGrad { try model.softPrompt(try model.encoder.encode(pixels)) }, expected,
                  "a fresh export's soft prompt")
  }

  @Test("a bridge that is not a Q-Former, or no LM, is refused with the reason")
  func refused() throws {
    let (model, _) = try Self.ownModel()
    let noLM = Blip2Model(encoder: model.encoder, bridge: model.bridge, languageModel: nil)
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("blip2-export-\(UUID().uuidString)")
    #expect(throws: Blip2CheckpointError.self) { try Blip2Checkpoint.export(noLM, to: folder) }
  }
}
