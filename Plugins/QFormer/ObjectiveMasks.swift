// The self-attention mask of each stage-1 objective, and the per-sample [B, T, T] cells the attention
// kernel takes: the objective's mask over `[queries (Q) | text (L)]` with each sample's text padding removed
// from the keys (as LAVIS's padding mask: padded keys are hidden from every row).

import Blip2Core
import Tensor

/// Which self-attention mask each stage-1 objective uses. The default is the paper's: unimodal for ITC,
/// bidirectional for ITM, multimodal-causal for ITG. Ablations swap any of them for another `MaskSpec`.
public struct ObjectiveMasks: Sendable {
  /// ITC's mask. With the unimodal mask the image and text passes run separately (LAVIS); with any other
  /// mask ITC runs one joint pass per image-text pair, so the features of pair i may mix image and text.
  public var itc: MaskSpec
  /// ITM's mask over the tripled batch.
  public var itm: MaskSpec
  /// ITG's mask over `[queries | decoder text]`.
  public var itg: MaskSpec

  /// Masks per objective; each defaults to the paper's.
  public init(itc: MaskSpec = Objective.itc.paperMask, itm: MaskSpec = Objective.itm.paperMask,
              itg: MaskSpec = Objective.itg.paperMask) {
    self.itc = itc
    self.itm = itm
    self.itg = itg
  }

  /// The paper's masks.
  public static let paper = ObjectiveMasks()

  /// The masks a schedule gives the three objectives at `step`; objectives whose `weights` are 0 keep the
  /// paper's mask (a schedule need not name objectives that do not run).
  /// - Throws: `MaskError.noMask` when the schedule has no mask for an objective that runs.
  public init(_ schedule: MaskSchedule, step: Int, weights: LossWeights) throws {
    func spec(_ objective: Objective, _ weight: Float) throws -> MaskSpec {
      weight == 0 ? objective.paperMask : try schedule.maskSpec(for: objective.rawValue, step: step)
    }
    self.init(itc: try spec(.itc, weights.itc), itm: try spec(.itm, weights.itm), itg: try spec(.itg, weights.itg))
  }
}

extension QFormer {
  /// The self-attention cells of `spec` over `[queries (queries) | text (text.length)]` with every sample's
  /// padded text keys hidden: [T, T] when no sample is padded (shared by the batch), else [B, T, T]; nil when
  /// every token may see every token (the kernel then skips masking).
  /// - Throws: `MaskError` when the mask cannot be built for this layout.
  public func selfAttentionMask(_ spec: MaskSpec, queries: Int, text: TokenBatch) throws -> [Bool]? {
    let layout = try TokenLayout.queriesAndText(queries: queries, text: text.length)
    let mask = try spec.mask(for: layout)
    if text.validLengths.allSatisfy({ $0 == text.length }) {
      return mask.flatBools.allSatisfy { $0 } ? nil : mask.flatBools  // [T, T]
    }
    return try mask.paddedPerSample(validLengths: text.validLengths).flatBools  // [B, T, T]
  }

  /// Whether no query may attend to any text token under `spec` over `[queries | text of length]` (then the
  /// queries' states do not depend on the text, and a text pass can reuse an image pass's query keys and values).
  func queriesSeeNoText(_ spec: MaskSpec, textLength: Int) throws -> Bool {
    let queries = configuration.queries
    let columns = queries + textLength
    let cells = try spec.mask(for: try TokenLayout.queriesAndText(queries: queries, text: textLength)).flatBools
    return (0..<queries).allSatisfy { row in !cells[(row * columns + queries)..<((row + 1) * columns)].contains(true) }
  }

  /// Whether `spec` over `[queries | text of length]` is exactly the unimodal mask (queries see only queries,
  /// text sees only text), so that the image and text passes can run separately.
  func isUnimodal(_ spec: MaskSpec, textLength: Int) throws -> Bool {
    if case .unimodal = spec { return true }
    let layout = try TokenLayout.queriesAndText(queries: configuration.queries, text: textLength)
    return try spec.mask(for: layout).flatBools == AttentionMask.unimodal(layout).flatBools
  }
}
