// Parity with Hugging Face transformers: tiny random CLIPVisionModel, ViTModel and Blip2VisionModel
// checkpoints loaded from their save_pretrained folders, compared on every hidden state, on
// last_hidden_state, and on the pixel gradient of hidden_states[-2] (the BLIP-2 features of a full tower). References are float64 (Tests/fixtures/make_encoder_fixtures.py).
//
// Tolerance 1e-4 relative, 1e-5 absolute: float32 with fast exp/erf over two blocks gives errors of about
// 1e-6; a wrong name, formula or order shows as 1e-2 or worse.

import Foundation
import Testing

import Tensor
import ViT

@Suite("ViT parity with transformers")
struct ViTParityTests {
  static let models = ["clip_tiny", "vit_tiny", "blip2_vision_tiny"]

  @Test(arguments: models)
  func hiddenStatesMatch(_ name: String) throws {
    let directory = try fixtureDirectory(name)
    let expected = try SafeTensors.load(directory.appendingPathComponent("expected.safetensors"))
    let model = try VisionTransformer.load(directory: directory)
    let pixels = try expected.fixture("pixels")
    let states = model.hiddenStates(pixels)
    #expect(states.count == model.layers.count + 1)
    for (i, state) in states.enumerated() {
      expectClose(state.data, try expected.fixture("hidden_states.\(i)").data, "\(name) hidden_states.\(i)")
    }
    // CLIP's last_hidden_state is the last block's output; ViT's and BLIP-2's have the final layernorm.
    let last = model.configuration.naming == .clip ? states[states.count - 1] : model.finalFeatures(pixels)
    expectClose(last.data, try expected.fixture("last_hidden_state").data, "\(name) last_hidden_state")
    // encode: BLIP-2's features. A full tower (CLIP, ViT) gives the second-last hidden state; BLIP-2's own
    // vision model (already one block short) gives its last_hidden_state.
    let features = try model.encode(pixels)
    #expect(features.shape == [2, 17, 32])
    let reference = model.configuration.naming == .blip2 ? "last_hidden_state" : "hidden_states.\(states.count - 2)"
    expectClose(features.data, try expected.fixture(reference).data, "\(name) encode")
  }

  @Test(arguments: models)
  func pixelGradientMatches(_ name: String) throws {
    let directory = try fixtureDirectory(name)
    let expected = try SafeTensors.load(directory.appendingPathComponent("expected.safetensors"))
    let model = try VisionTransformer.load(directory: directory, featureLayer: -2)
    model.freeze()
    let reference = try expected.fixture("pixels")
    let pixels = Tensor(shape: reference.shape, data: reference.data, requiresGrad: true)
    let features = try model.encode(pixels)
    features.backward(seed: try expected.fixture("gout").data)
    expectClose(pixels.grad, try expected.fixture("pixels_grad").data, "\(name) d features / d pixels")
    #expect(model.parameters.allSatisfy { $0.grad == nil })
  }

  @Test func readsTheCheckpointConfiguration() throws {
    let clip = try VisionTransformer.configuration(directory: try fixtureDirectory("clip_tiny"))
    #expect(clip == VisionTransformerConfiguration(
      imageSize: 16, patchSize: 4, width: 32, layers: 2, heads: 4, intermediateSize: 37, activation: .quickGelu,
      layerNormEpsilon: 1e-5, naming: .clip))
    let vit = try VisionTransformer.configuration(directory: try fixtureDirectory("vit_tiny"))
    #expect(vit.naming == .vit && vit.activation == .gelu && vit.layerNormEpsilon == 1e-12)
    let blip2 = try VisionTransformer.configuration(directory: try fixtureDirectory("blip2_vision_tiny"))
    #expect(blip2.naming == .blip2 && blip2.layerNormEpsilon == 1e-6 && blip2.featureLayer == -1 && blip2.postNormFeatures)
  }

  /// A whole-model folder (CLIPModel, Blip2ForConditionalGeneration) nests the tower's config under
  /// `vision_config` and its weights under `vision_model.`; transformers 4 BLIP-2 weights split the qkv bias.
  @Test func loadsNestedConfigsPrefixedWeightsAndLegacyBiases() throws {
    try withTemporaryDirectory("blip2-whole") { folder in
      let source = try fixtureDirectory("blip2_vision_tiny")
      let vision = try String(contentsOf: source.appendingPathComponent("config.json"), encoding: .utf8)
      try "{\"model_type\": \"blip-2\", \"num_query_tokens\": 4, \"vision_config\": \(vision)}"
        .write(to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
      var tensors: [(String, Tensor)] = [("qformer.layernorm.weight", Tensor.ones([4]))]
      for (name, tensor) in try SafeTensors.load(source.appendingPathComponent("model.safetensors")) {
        if name.hasSuffix("self_attn.qkv.bias") {  // transformers 4 layout: q_bias and v_bias, key bias 0
          let base = "vision_model." + name.dropLast("qkv.bias".count)
          tensors.append((base + "q_bias", Tensor(shape: [32], data: Array(tensor.data[0..<32]))))
          tensors.append((base + "v_bias", Tensor(shape: [32], data: Array(tensor.data[64..<96]))))
        } else {
          tensors.append(("vision_model." + name, tensor))
        }
      }
      try SafeTensors.save(tensors, to: folder.appendingPathComponent("model.safetensors"))
      let model = try VisionTransformer.load(directory: folder)
      #expect(model.configuration.naming == .blip2)
      // The fixture's key bias is random, the legacy layout has none: only the key bias may differ.
      let loaded = model.stateDictionary()
      let original = try SafeTensors.load(source.appendingPathComponent("model.safetensors"))
      for (name, tensor) in original where !name.hasSuffix("qkv.bias") {
        #expect(loaded[name]?.data == tensor.data, "\(name)")
      }
      let qkvBias = try #require(loaded["encoder.layers.1.self_attn.qkv.bias"]).data
      let reference = try original.fixture("encoder.layers.1.self_attn.qkv.bias").data
      #expect(Array(qkvBias[0..<32]) == Array(reference[0..<32]) && Array(qkvBias[64..<96]) == Array(reference[64..<96]))
      #expect(qkvBias[32..<64].allSatisfy { $0 == 0 })
    }
  }
}
