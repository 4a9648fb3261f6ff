// `blip2lab forward` (Blip2Forward): each part of the tiny BLIP-2 fixtures run on stored inputs gives transformers'
// stored outputs (make_blip2_fixtures.py: the inputs transformers was given, image tokens included), the parts chain,
// right padding is honoured, and every malformed input ends in an error naming the file and the tensor.

import Blip2Checkpoints
import Blip2Core
import Foundation
import Tensor
import Testing

/// Writes a safetensors file with the element types given (`SafeTensors.save` writes F32 only; ids are I64, as
/// torch writes them).
func writeInputs(_ entries: [(name: String, tensor: Tensor, dtype: SafeTensorsDType)], to url: URL) throws {
  var header: [String] = [], body = Data(), offset = 0
  for (name, tensor, dtype) in entries {
    var bytes = Data()
    for value in tensor.data {
      switch dtype {
      case .int64: withUnsafeBytes(of: Int64(value).littleEndian) { bytes.append(contentsOf: $0) }
      case .int32: withUnsafeBytes(of: Int32(value).littleEndian) { bytes.append(contentsOf: $0) }
      case .bool: bytes.append(value != 0 ? 1 : 0)
      case .float32: withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
      default: throw FixtureError(description: "writeInputs: no writer for \(dtype)")
      }
    }
    header.append("\"\(name)\":{\"dtype\":\"\(dtype.rawValue)\",\"shape\":\(tensor.shape),"
      + "\"data_offsets\":[\(offset),\(offset + bytes.count)]}")
    offset += bytes.count
    body.append(bytes)
  }
  var json = Array(("{" + header.joined(separator: ",") + "}").utf8)
  json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
  var file = Data()
  withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
  try (file + Data(json) + body).write(to: url)
}

/// Ids as a [rows, length] tensor.
func ids(_ rows: [[Int]]) -> Tensor {
  Tensor(shape: [rows.count, rows.first?.count ?? 0], data: rows.flatMap { $0.map(Float.init) })
}

/// A fresh path in the temporary folder.
func scratchFile(_ name: String) -> URL {
  FileManager.default.temporaryDirectory.appendingPathComponent("blip2-forward-\(UUID().uuidString)-\(name)")
}

@Suite("blip2lab forward runs checkpoint parts on stored inputs")
struct ForwardTests {
  /// Runs `part` of fixture `name` on `inputs` through files, as the command does; returns what it wrote.
  static func forward(_ name: String, part: String?, _ inputs: [(name: String, tensor: Tensor, dtype: SafeTensorsDType)])
    throws -> [String: Tensor]
  {
    let input = scratchFile("in.safetensors"), output = scratchFile("out.safetensors")
    defer { try? FileManager.default.removeItem(at: input); try? FileManager.default.removeItem(at: output) }
    try writeInputs(inputs, to: input)
    let fixture = try fixturesDirectory().appendingPathComponent(name)
    try Blip2Forward.run(checkpoint: fixture, part: part, input: input, output: output)
    let header = try SafeTensors.readHeader(output)
    #expect(header.metadata["part"] == (part ?? "model"))
    return try SafeTensors.load(output)
  }

  @Test("the whole model on transformers' own inputs (image tokens first) gives its features, soft prompt and logits",
        arguments: Blip2CheckpointParityTests.fixtures)
  func wholeModel(name: String) throws {
    let fixture = try Blip2Fixture(name)
    let checkpoint = try Blip2Checkpoint.load(directory: fixture.directory)
    let imageToken = try #require(checkpoint.imageTokenId)
    let decoderOnly = checkpoint.model.languageModel?.architecture == .decoderOnly
    for (index, item) in fixture.cases.enumerated() {
      let pixels = try fixture.pixels(item.image)
      for withImageTokens in [true, false] {
        let text = (withImageTokens ? [Int](repeating: imageToken, count: 4) : []) + item.promptIds
        var inputs: [(name: String, tensor: Tensor, dtype: SafeTensorsDType)] = [
          ("pixel_values", pixels, .float32), ("input_ids", ids([decoderOnly ? text + item.greedy : text]), .int64),
          ("attention_mask", ids([[Int](repeating: 1, count: decoderOnly ? text.count + item.greedy.count : text.count)]),
           .int64),
        ]
        if !decoderOnly { inputs.append(("decoder_input_ids", ids([[0] + item.greedy]), .int64)) }
        let out = try Self.forward(name, part: nil, inputs)
        let what = "\(name) case \(index)\(withImageTokens ? " with image tokens" : "")"
        expectMatches(try #require(out["image_features"]),
                      try fixture.tensor("image_features").sliced(axis: 0, item.image..<(item.image + 1)), "\(what) features")
        expectMatches(try #require(out["language_model_inputs"]),
                      try fixture.tensor("soft_prompt").sliced(axis: 0, item.image..<(item.image + 1)), "\(what) soft prompt")
        let expected = try fixture.tensor("logits.\(index)")
        expectMatches(try #require(out["logits"]).reshaped(expected.shape), expected, "\(what) logits")
        #expect(out["query_output"]?.shape == [1, 4, 32])
        #expect((out["encoder_last_hidden_state"] != nil) == !decoderOnly)
      }
    }
  }

  @Test("vision → qformer → lm, run one by one, give what the whole model gives")
  func partsChain() throws {
    let fixture = try Blip2Fixture("blip2_opt_tiny")
    let pixels = try fixture.tensor("pixel_values")
    let vision = try Self.forward("blip2_opt_tiny", part: "vision", [("pixel_values", pixels, .float32)])
    expectMatches(try #require(vision["image_features"]), try fixture.tensor("image_features"), "vision part")
    #expect(vision.count == 1)
    let qformer = try Self.forward("blip2_opt_tiny", part: "qformer",
                                   [("image_features", try fixture.tensor("image_features"), .float32)])
    expectMatches(try #require(qformer["language_model_inputs"]), try fixture.tensor("soft_prompt"), "qformer part")
    let item = fixture.cases[2]
    let soft = try fixture.tensor("soft_prompt").sliced(axis: 0, item.image..<(item.image + 1))
    let lm = try Self.forward("blip2_opt_tiny", part: "lm", [("input_ids", ids([item.promptIds + item.greedy]), .int64),
                                                              ("language_model_inputs", soft, .float32)])
    let expected = try fixture.tensor("logits.2")
    expectMatches(try #require(lm["logits"]).reshaped(expected.shape), expected, "lm part after the soft prompt")
  }

  @Test("a right-padded batch gives each row's own logits over its real positions")
  func paddedBatch() throws {
    let fixture = try Blip2Fixture("blip2_opt_tiny")
    let (first, last) = (fixture.cases[0], fixture.cases[2])
    let rows = [first.promptIds + first.greedy, last.promptIds + last.greedy]
    let length = rows.map(\.count).max() ?? 0
    let padded = rows.map { $0 + [Int](repeating: 1, count: length - $0.count) }
    let mask = rows.map { [Int](repeating: 1, count: $0.count) + [Int](repeating: 0, count: length - $0.count) }
    let out = try Self.forward("blip2_opt_tiny", part: "model", [
      ("pixel_values", try fixture.tensor("pixel_values"), .float32), ("input_ids", ids(padded), .int64),
      ("attention_mask", ids(mask), .bool),
    ])
    let logits = try #require(out["logits"])  // [2, 4 + length, vocab]
    #expect(logits.shape == [2, 4 + length, 1001])
    for (row, index) in [(0, 0), (1, 2)] {
      let expected = try fixture.tensor("logits.\(index)")
      let valid = expected.shape[0]
      let mine = logits.sliced(axis: 0, row..<(row + 1)).sliced(axis: 1, 0..<valid).reshaped(expected.shape)
      expectMatches(mine, expected, "row \(row) of the padded batch")
    }
  }

  /// Expects `body` to throw a `Blip2CheckpointError` that `matches`, with a message naming `mentions`.
  static func expectError(mentions: [String], _ matches: (Blip2CheckpointError) -> Bool, _ body: () throws -> Void,
                          sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(sourceLocation: sourceLocation) {
      try body()
    } throws: { error in
      guard let error = error as? Blip2CheckpointError, matches(error) else { return false }
      let message = error.errorDescription ?? ""
      return mentions.allSatisfy { message.contains($0) }
    }
  }

  @Test("missing, misspelt, mistyped, mis-shaped and out-of-range inputs, and unknown parts, are named")
  func inputErrors() throws {
    let fixture = try Blip2Fixture("blip2_opt_tiny")
    let pixels = try fixture.tensor("pixel_values")
    let text = ids([[2, 68, 302], [2, 886, 29]])
    Self.expectError(mentions: ["input_ids", "in.safetensors"], { if case .missingInput(_, "input_ids", _) = $0 { true } else { false } }) {
      _ = try Self.forward("blip2_opt_tiny", part: "model", [("pixel_values", pixels, .float32)])
    }
    Self.expectError(mentions: ["input_ids", "F32", "I64"], { if case .inputDTypeMismatch(_, "input_ids", _, "F32") = $0 { true } else { false } }) {
      _ = try Self.forward("blip2_opt_tiny", part: "model", [("pixel_values", pixels, .float32), ("input_ids", text, .float32)])
    }
    Self.expectError(mentions: ["pixel_values", "I64"], { if case .inputDTypeMismatch(_, "pixel_values", _, "I64") = $0 { true } else { false } }) {
      _ = try Self.forward("blip2_opt_tiny", part: "vision", [("pixel_values", pixels, .int64)])
    }
    let small = pixels.sliced(axis: 2, 0..<28).sliced(axis: 3, 0..<28)
    Self.expectError(mentions: ["pixel_values", "[2, 3, 28, 28]", "[batch, 3, 30, 30]"], {
      if case .inputShapeMismatch(_, "pixel_values", _, [2, 3, 28, 28]) = $0 { true } else { false }
    }) {
      _ = try Self.forward("blip2_opt_tiny", part: "vision", [("pixel_values", small, .float32)])
    }
    Self.expectError(mentions: ["input_ids", "batch of pixel_values is 2"], {
      if case .inputShapeMismatch(_, "input_ids", _, [1, 3]) = $0 { true } else { false }
    }) {
      _ = try Self.forward("blip2_opt_tiny", part: "model", [("pixel_values", pixels, .float32), ("input_ids", ids([[2, 3, 4]]), .int64)])
    }
    Self.expectError(mentions: ["attention_masks", "attention_mask"], {
      if case .unexpectedInput(_, "attention_masks", "model", _) = $0 { true } else { false }
    }) {
      _ = try Self.forward("blip2_opt_tiny", part: "model", [("pixel_values", pixels, .float32), ("input_ids", text, .int64),
                                                             ("attention_masks", ids([[1, 1, 1], [1, 1, 1]]), .int64)])
    }
    Self.expectError(mentions: ["attention_mask", "right padding"], { if case .invalidInput(_, "attention_mask", _) = $0 { true } else { false } }) {
      _ = try Self.forward("blip2_opt_tiny", part: "model", [("pixel_values", pixels, .float32), ("input_ids", text, .int64),
                                                             ("attention_mask", ids([[0, 1, 1], [1, 1, 1]]), .int64)])
    }
    Self.expectError(mentions: ["input_ids", "5000", "0..<1001"], { if case .invalidInput(_, "input_ids", _) = $0 { true } else { false } }) {
      _ = try Self.forward("blip2_opt_tiny", part: "lm", [("input_ids", ids([[2, 5000]]), .int64)])
    }
    Self.expectError(mentions: ["decoder_input_ids"], { if case .missingInput(_, "decoder_input_ids", _) = $0 { true } else { false } }) {
      _ = try Self.forward("blip2_t5_tiny", part: "lm", [("input_ids", ids([[17, 1]]), .int64)])
    }
    Self.expectError(mentions: ["\"text\"", "vision, qformer, lm, model"], { if case .unknownPart("text", _) = $0 { true } else { false } }) {
      _ = try Self.forward("blip2_opt_tiny", part: "text", [("pixel_values", pixels, .float32)])
    }
    // A language model alone has no vision part.
    let checkpoint = try Blip2Checkpoint.load(directory: fixture.directory)
    let input = scratchFile("in.safetensors")
    defer { try? FileManager.default.removeItem(at: input) }
    try writeInputs([("pixel_values", pixels, .float32)], to: input)
    Self.expectError(mentions: ["no vision part", "lm"], { if case .partUnavailable("vision", ["lm"]) = $0 { true } else { false } }) {
      _ = try Blip2Forward.run(.languageModel(checkpoint.languageModel), part: .vision, inputs: try ForwardInputs(file: input))
    }
  }

  @Test("a failed run writes no output file")
  func noOutputOnError() throws {
    let input = scratchFile("in.safetensors"), output = scratchFile("out.safetensors")
    defer { try? FileManager.default.removeItem(at: input) }
    try writeInputs([("input_ids", ids([[2, 3]]), .float32)], to: input)
    #expect(throws: Blip2CheckpointError.self) {
      try Blip2Forward.run(checkpoint: try fixturesDirectory().appendingPathComponent("blip2_opt_tiny"), part: "lm",
                           input: input, output: output)
    }
    #expect(!FileManager.default.fileExists(atPath: output.path))
  }
}
