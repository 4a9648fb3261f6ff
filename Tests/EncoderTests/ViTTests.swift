// The vision transformer's behaviour as BLIP-2's frozen encoder: feature layer choice, token counts,
// freezing, registry construction, error messages, and its masked-reconstruction pre-training.

import Blip2Core
import Foundation
import Testing

import Tensor
import ViT

@Suite("Vision transformer")
struct ViTTests {
  static let small = VisionTransformerConfiguration(imageSize: 16, patchSize: 4, width: 16, layers: 3, heads: 2)

  @Test func featureLayerChoosesTheHiddenState() throws {
    let model = try VisionTransformer(Self.small, seed: 1)
    var rng = RandomGenerator(seed: 42)
    let pixels = Tensor.randn([2, 3, 16, 16], rng: &rng)
    let states = model.hiddenStates(pixels)
    #expect(states.count == 4)
    let secondLast = try model.encode(pixels)  // default −2
    #expect(secondLast.data == states[2].data)
    try model.setFeatureLayer(-1)
    let last = try model.encode(pixels)
    #expect(last.data == states[3].data)
    #expect(last.data != secondLast.data)
    try model.setFeatureLayer(0)
    #expect(try model.encode(pixels).data == states[0].data)
    #expect(throws: VisionTransformerError.self) { try model.setFeatureLayer(-5) }
    #expect(throws: VisionTransformerError.self) { try model.setFeatureLayer(4) }
  }

  @Test(arguments: [(16, 4), (32, 8), (64, 8), (224, 16), (224, 14)])
  func tokenCountIsClassPlusPatches(imageSize: Int, patchSize: Int) throws {
    let c = VisionTransformerConfiguration(imageSize: imageSize, patchSize: patchSize, width: 8, layers: 1, heads: 1)
    #expect(c.tokenCount == 1 + (imageSize / patchSize) * (imageSize / patchSize))
    if imageSize <= 64 {
      let model = try VisionTransformer(c)
      try model.setFeatureLayer(-1)
      let features = try model.encode(Tensor.zeros([3, 3, imageSize, imageSize]))
      #expect(features.shape == [3, model.tokenCount, model.featureDim])
    }
  }

  @Test func frozenEncoderPassesGradientsToPixelsOnly() throws {
    let model = try VisionTransformer(Self.small, seed: 2)
    model.freeze()
    #expect(model.trainableParameterCount == 0)
    var rng = RandomGenerator(seed: 43)
    let pixels = Tensor.randn([2, 3, 16, 16], rng: &rng, requiresGrad: true)
    let features = try model.encode(pixels)
    features.sum().backward()
    #expect(model.parameters.allSatisfy { $0.grad == nil })
    #expect(pixels.grad?.contains { $0 != 0 } == true)
    // Frozen and under no-grad: no graph at all.
    let cached = try GradMode.noGrad { try model.encode(pixels) }
    #expect(cached.op == nil && !cached.requiresGrad)
  }

  @Test func wrongInputShapeIsAnError() throws {
    let model = try VisionTransformer(Self.small)
    #expect(throws: VisionTransformerError.wrongInputShape(expected: "[B, 3, 16, 16]", got: [1, 3, 8, 8])) {
      try model.encode(Tensor.zeros([1, 3, 8, 8]))
    }
  }

  @Test func registryBuildsFromConfigKeys() throws {
    var registry = Registry()
    try ViTPlugin.register(into: &registry)
    let config: ConfigValue = .table([
      "imageSize": .int(32), "patchSize": .int(8), "width": .int(24), "layers": .int(2), "heads": .int(3),
      "mlpRatio": .int(2), "activation": .string("gelu"), "featureLayer": .int(-1), "seed": .int(7),
    ])
    let encoder: any ImageEncoder = try registry.make(.encoder, "vit", config: config, as: (any ImageEncoder).self)
    #expect(encoder.featureDim == 24 && encoder.tokenCount == 17 && encoder.imageSize == 32)
    let vit = try #require(encoder as? VisionTransformer)
    #expect(vit.configuration.intermediateSize == 48 && vit.configuration.activation == .gelu)
    #expect(vit.configuration.resolvedFeatureLayer == 2)
    let tiny: any ImageEncoder = try registry.make(.encoder, "vit", as: (any ImageEncoder).self)
    #expect(tiny.featureDim == 192 && tiny.tokenCount == 65)
    #expect(throws: ConfigError.self) {
      _ = try registry.make(.encoder, "vit", config: .table(["widht": .int(8)]), as: (any ImageEncoder).self)
    }
    let fromCheckpoint: any ImageEncoder = try registry.make(
      .encoder, "vit", config: .table(["checkpoint": .string(try fixtureDirectory("clip_tiny").path)]),
      as: (any ImageEncoder).self)
    #expect(fromCheckpoint.featureDim == 32 && fromCheckpoint.tokenCount == 17 && fromCheckpoint.imageSize == 16)
  }

  @Test func malformedCheckpointsNameTheFileAndKey() throws {
    try withTemporaryDirectory("vit-bad") { folder in
      let source = try fixtureDirectory("clip_tiny")
      let config = try String(contentsOf: source.appendingPathComponent("config.json"), encoding: .utf8)
      func write(_ text: String) throws {
        try text.write(to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
      }
      // No config.json at all.
      #expect(throws: VisionTransformerError.self) { _ = try VisionTransformer.load(directory: folder) }
      try write(config.replacingOccurrences(of: "\"quick_gelu\"", with: "\"swish\""))
      #expect(throws: VisionTransformerError.invalidConfigValue(
        file: folder.appendingPathComponent("config.json").path, key: "hidden_act",
        reason: "\"swish\" is not supported; supported: quick_gelu, gelu, gelu_new, relu")) {
        _ = try VisionTransformer.load(directory: folder)
      }
      try write(config.replacingOccurrences(of: "\"hidden_size\": 32", with: "\"hidden_size\": \"32\""))
      do {
        _ = try VisionTransformer.load(directory: folder)
        Issue.record("a string hidden_size loaded")
      } catch let error as VisionTransformerError {
        #expect(error.localizedDescription.contains("hidden_size") && error.localizedDescription.contains("config.json"))
      }
      // A config whose width does not match the weights: the error names the tensor and the folder.
      try write(config.replacingOccurrences(of: "\"intermediate_size\": 37", with: "\"intermediate_size\": 36"))
      try FileManager.default.copyItem(at: source.appendingPathComponent("model.safetensors"),
                                       to: folder.appendingPathComponent("model.safetensors"))
      #expect(throws: ModuleError.shapeMismatch(name: "encoder.layers.0.mlp.fc1.weight", expected: [36, 32],
                                                found: [37, 32], source: folder.path)) {
        _ = try VisionTransformer.load(directory: folder)
      }
      // A missing tensor: named, with the folder.
      try write(config)
      var tensors = try SafeTensors.load(source.appendingPathComponent("model.safetensors"))
      tensors["encoder.layers.1.self_attn.v_proj.bias"] = nil
      try SafeTensors.save(tensors, to: folder.appendingPathComponent("model.safetensors"))
      #expect(throws: ModuleError.missingParameter(name: "encoder.layers.1.self_attn.v_proj.bias", source: folder.path)) {
        _ = try VisionTransformer.load(directory: folder)
      }
    }
  }

  @Test(arguments: VisionNaming.allCases)
  func savedFolderLoadsBackIdentically(naming: VisionNaming) throws {
    try withTemporaryDirectory("vit-save") { folder in
      var c = Self.small
      c.naming = naming
      c.activation = .quickGelu
      let model = try VisionTransformer(c, seed: 9)
      try model.save(directory: folder)
      let loaded = try VisionTransformer.load(directory: folder, featureLayer: -2)
      #expect(loaded.configuration == model.configuration)
      #expect(loaded.stateDictionary().mapValues(\.data) == model.stateDictionary().mapValues(\.data))
    }
  }

  @Test func maskedReconstructionLossDecreases() throws {
    let clock = ContinuousClock()
    let start = clock.now
    let encoder = try VisionTransformer(
      VisionTransformerConfiguration(imageSize: 32, patchSize: 8, width: 64, layers: 2, heads: 4), seed: 3)
    let objective = MaskedImageModeling(encoder: encoder, seed: 4)
    let (first, last) = trainBriefly(objective, size: 32, seed: 5) { objective.pretrainingLoss($0, rng: &$1) }
    print("masked reconstruction: loss \(first) → \(last) in \(clock.now - start)")
    #expect(last < 0.7 * first, "loss went from \(first) to \(last)")
    #expect(encoder.parameters.allSatisfy { $0.grad != nil })
  }
}

@Suite("Image normalization")
struct ImageNormalizationTests {
  @Test func readsPreprocessorConfigAndNormalizesPerChannel() throws {
    try withTemporaryDirectory("vit-pre") { folder in
      let url = folder.appendingPathComponent("preprocessor_config.json")
      try #"{"do_normalize": true, "image_mean": [0.5, 0.25, 0], "image_std": [0.5, 0.25, 2], "rescale_factor": 0.00392}"#
        .write(to: url, atomically: true, encoding: .utf8)
      let normalization = try ImageNormalization.load(directory: folder)
      #expect(normalization == ImageNormalization(mean: [0.5, 0.25, 0], std: [0.5, 0.25, 2]))
      let pixels = Tensor(shape: [1, 3, 1, 2], data: [0, 1, 0.25, 0.5, 1, 2])
      #expect(normalization(pixels).data == [-1, 1, 0, 1, 0.5, 1])
      try #"{"image_mean": [0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}"#.write(to: url, atomically: true, encoding: .utf8)
      #expect(throws: VisionTransformerError.invalidConfigValue(file: url.path, key: "image_mean",
                                                                reason: "must be a list of 3 numbers, got [0.5, 0.5]")) {
        _ = try ImageNormalization.load(directory: folder)
      }
    }
  }
}
