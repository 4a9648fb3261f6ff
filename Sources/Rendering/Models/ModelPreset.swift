// The sizes `blip2lab graph --preset` draws: the paper's largest OPT model and the sandbox's default.

/// The sizes of a BLIP-2 pipeline, for drawings made without building the model.
public struct ModelPreset: Hashable, Sendable {
  /// The preset's name (`"paper"`, `"sandbox"`).
  public var name: String
  /// Square input size in pixels.
  public var imageSize: Int
  /// The image encoder's name.
  public var encoderName: String
  /// Output tokens of the encoder (patches + class token).
  public var imageTokens: Int
  /// Width of the encoder's features.
  public var encoderWidth: Int
  /// Parameters of the (frozen) encoder.
  public var encoderParameters: Int
  /// The Q-Former's sizes.
  public var qformer: QFormerDiagram.Configuration
  /// Parameters of the Q-Former.
  public var qformerParameters: Int
  /// The language model's name.
  public var lmName: String
  /// Width of the language model's input embeddings.
  public var lmWidth: Int
  /// Parameters of the (frozen) language model.
  public var lmParameters: Int

  /// A preset from its parts.
  public init(
    name: String, imageSize: Int, encoderName: String, imageTokens: Int, encoderWidth: Int, encoderParameters: Int,
    qformer: QFormerDiagram.Configuration, qformerParameters: Int, lmName: String, lmWidth: Int, lmParameters: Int
  ) {
    self.name = name
    self.imageSize = imageSize
    self.encoderName = encoderName
    self.imageTokens = imageTokens
    self.encoderWidth = encoderWidth
    self.encoderParameters = encoderParameters
    self.qformer = qformer
    self.qformerParameters = qformerParameters
    self.lmName = lmName
    self.lmWidth = lmWidth
    self.lmParameters = lmParameters
  }

  /// The paper's BLIP-2 ViT-g OPT-2.7B: EVA ViT-g/14 at 224 px (16×16 patches + class token = 257 tokens of
  /// 1408, about 1.0B parameters; counts rounded as the paper gives them), a Q-Former of 768 wide, 12 layers, cross-attention
  /// every other layer and 32 queries (188M parameters, the paper's figure), a 768 → 2560 projection, OPT-2.7B.
  public static let paper = ModelPreset(
    name: "paper", imageSize: 224, encoderName: "EVA ViT-g/14", imageTokens: 257, encoderWidth: 1408,
    encoderParameters: 1_000_000_000,
    qformer: QFormerDiagram.Configuration(layers: 12, crossAttentionEvery: 2, queries: 32, hidden: 768, imageWidth: 1408),
    qformerParameters: 188_000_000, lmName: "OPT-2.7B", lmWidth: 2560, lmParameters: 2_700_000_000)

  /// The sandbox's built-in default: the ViT plugin's default (64 px, patch 8: 64 patches + class token = 65
  /// tokens of 192, 6 layers), the Q-Former of DESIGN.md's example script (256 wide, 4 layers, cross-attention
  /// every 2, 32 queries) and the decoder LM plugin's default (width 128, 4 layers, byte vocabulary of 259).
  /// Parameter counts are estimated from the sizes (12·width² per transformer layer plus embeddings).
  public static let sandbox = ModelPreset(
    name: "sandbox", imageSize: 64, encoderName: "ViT-tiny", imageTokens: 65, encoderWidth: 192,
    encoderParameters: 6 * 12 * 192 * 192 + 65 * 192 + 3 * 8 * 8 * 192,
    qformer: QFormerDiagram.Configuration(layers: 4, crossAttentionEvery: 2, queries: 32, hidden: 256, imageWidth: 192),
    qformerParameters: QFormerDiagram.Configuration(
      layers: 4, crossAttentionEvery: 2, queries: 32, hidden: 256, imageWidth: 192).estimatedParameters(vocabulary: 259),
    lmName: "decoder LM (tiny)", lmWidth: 128, lmParameters: 4 * 12 * 128 * 128 + 259 * 128 + 128 * 128)

  /// The presets by name.
  public static let all: [String: ModelPreset] = ["paper": paper, "sandbox": sandbox]
}
