// Which mask each objective uses at each training step (DESIGN.md, "Attention masks are values"): for example
// ITG with the paper's multimodal-causal mask for the first half, then a variant where queries also see text.
// Masks depend on the text length, so a schedule holds mask *specifications* and builds a mask per layout.

/// A stage-1 objective of the paper, each with the self-attention mask the paper gives it.
public enum Objective: String, CaseIterable, Sendable {
  /// Image-text contrastive learning.
  case itc
  /// Image-text matching.
  case itm
  /// Image-grounded text generation.
  case itg

  /// The paper's mask for this objective: unimodal for ITC, bidirectional for ITM, multimodal-causal for ITG.
  public var paperMask: MaskSpec {
    switch self {
    case .itc: .unimodal
    case .itm: .bidirectional
    case .itg: .multimodalCausal
    }
  }
}

/// How to build a mask once the layout is known.
public enum MaskSpec: Sendable, CustomStringConvertible {
  /// `AttentionMask.unimodal`: each segment sees only itself (ITC).
  case unimodal
  /// `AttentionMask.bidirectional`: everyone sees everyone (ITM).
  case bidirectional
  /// `AttentionMask.multimodalCausal`: queries see queries, text sees the queries and earlier text (ITG).
  case multimodalCausal
  /// `AttentionMask.causal`: every token sees itself and earlier tokens.
  case causal
  /// `AttentionMask.blocks`: one rule per (row segment, column segment) pair, `.none` where none is given.
  case blocks(name: String, rules: [String: [String: BlockRule]])
  /// `AttentionMask.custom`: a function of (row, column, row segment, column segment).
  case custom(name: String, allowing: @Sendable (Int, Int, String, String) throws -> Bool)

  /// The names of the masks `init(named:)` knows.
  public static let builtInNames = ["unimodal", "bidirectional", "multimodalCausal", "causal"]

  /// The built-in mask called `name` (as scripts and the command line spell it).
  /// - Throws: `MaskError.unknownMaskName` for any other name.
  public init(named name: String) throws {
    switch name {
    case "unimodal": self = .unimodal
    case "bidirectional": self = .bidirectional
    case "multimodalCausal": self = .multimodalCausal
    case "causal": self = .causal
    default: throw MaskError.unknownMaskName(name, known: Self.builtInNames)
    }
  }

  /// The mask's name: the built-in name, or the name given to a block or custom mask.
  public var name: String {
    switch self {
    case .unimodal: "unimodal"
    case .bidirectional: "bidirectional"
    case .multimodalCausal: "multimodalCausal"
    case .causal: "causal"
    case let .blocks(name, _), let .custom(name, _): name
    }
  }

  /// The name.
  public var description: String { name }

  /// The mask over `layout`.
  /// - Throws: `MaskError.unknownSegment` when block rules name a segment the layout lacks, or what a custom
  ///   mask's function throws.
  public func mask(for layout: TokenLayout) throws -> AttentionMask {
    switch self {
    case .unimodal: .unimodal(layout)
    case .bidirectional: .bidirectional(layout)
    case .multimodalCausal: .multimodalCausal(layout)
    case .causal: .causal(layout)
    case let .blocks(_, rules): try .blocks(layout, rules)
    case let .custom(_, allowing): try .custom(layout, allowing: allowing)
    }
  }
}

/// Which mask each objective uses at each step: entries for step ranges, then (optionally) a function of the
/// step, then a default per objective, for the steps no entry covers. Objectives are named by strings so
/// scripts can add their own; `Objective` covers the paper's three.
/// ```swift
/// var schedule = MaskSchedule()        // the paper's masks at every step
/// try schedule.use(.custom(name: "queriesSeeText") { _, _, _, _ in true }, for: .itg, steps: 1500 ..< 3000)
/// let mask = try schedule.mask(for: .itg, step: 2000, layout: layout)
/// schedule.choose(for: "itm") { step in step < 100 ? .unimodal : .bidirectional }   // a curriculum
/// ```
public struct MaskSchedule: Sendable, CustomStringConvertible {
  /// A mask used for one objective over a range of steps.
  public struct Entry: Sendable {
    /// The objective's name (`"itg"`, or a script's own).
    public let objective: String
    /// The steps the entry covers.
    public let steps: Range<Int>
    /// The mask used during those steps.
    public let mask: MaskSpec
  }

  /// A stretch of steps with one mask, for timelines.
  public struct Phase: Sendable {
    /// The steps of the stretch.
    public let steps: Range<Int>
    /// The mask, or `nil` where the schedule has none (asking for one there is an error).
    public let mask: MaskSpec?
    /// Whether the mask comes from the objective's default rather than an entry.
    public let isDefault: Bool
  }

  /// The paper's mask for each of its objectives.
  public static let paperDefaults: [String: MaskSpec] =
    Dictionary(uniqueKeysWithValues: Objective.allCases.map { ($0.rawValue, $0.paperMask) })

  /// A mask chosen by a function of the step (a curriculum written as code, e.g. a Lua function).
  public struct Chooser: Sendable {
    /// A name for descriptions and timelines (`f(step)`).
    public let name: String
    /// The mask at a step.
    public let choose: @Sendable (Int) throws -> MaskSpec
  }

  /// The mask per objective for steps no entry covers.
  public private(set) var defaults: [String: MaskSpec]
  /// Per objective, the function that chooses the mask at the steps no entry covers (before `defaults`).
  public private(set) var choosers: [String: Chooser] = [:]
  /// The entries, ordered by objective (as `objectives`) and then by first step.
  public private(set) var entries: [Entry] = []

  /// A schedule with no entries, so every step uses `defaults` (the paper's masks unless given).
  public init(defaults: [String: MaskSpec] = MaskSchedule.paperDefaults) {
    self.defaults = defaults
  }

  /// Every objective with a default or an entry: the paper's in their order, then others by name.
  public var objectives: [String] {
    let named = Set(defaults.keys).union(entries.map(\.objective)).union(choosers.keys)
    let paper = Objective.allCases.map(\.rawValue).filter(named.contains)
    return paper + named.subtracting(paper).sorted()
  }

  // MARK: - Building

  /// Makes `mask` the default of `objective`, used at every step no entry covers.
  public mutating func setDefault(_ mask: MaskSpec, for objective: String) {
    defaults[objective] = mask
  }

  /// Makes `mask` the default of `objective`, used at every step no entry covers.
  public mutating func setDefault(_ mask: MaskSpec, for objective: Objective) {
    setDefault(mask, for: objective.rawValue)
  }

  /// Lets `choose` pick the mask of `objective` at every step no entry covers (instead of the default).
  public mutating func choose(for objective: String, name: String = "f(step)",
                              _ choose: @escaping @Sendable (Int) throws -> MaskSpec) {
    choosers[objective] = Chooser(name: name, choose: choose)
  }

  /// Uses `mask` for `objective` during `steps`.
  /// - Throws: `MaskError.invalidStepRange` for an empty range or one starting before step 0;
  ///   `MaskError.overlappingSteps` when another entry of the same objective covers any of the steps.
  public mutating func use(_ mask: MaskSpec, for objective: String, steps: Range<Int>) throws {
    guard !steps.isEmpty, steps.lowerBound >= 0 else {
      throw MaskError.invalidStepRange(objective: objective, steps: steps)
    }
    if let clash = entries.first(where: { $0.objective == objective && $0.steps.overlaps(steps) }) {
      throw MaskError.overlappingSteps(objective: objective, existing: clash.steps, new: steps)
    }
    entries.append(Entry(objective: objective, steps: steps, mask: mask))
    let order = Dictionary(uniqueKeysWithValues: objectives.enumerated().map { ($1, $0) })
    func rank(_ entry: Entry) -> (Int, Int) { (order[entry.objective] ?? 0, entry.steps.lowerBound) }
    entries.sort { rank($0) < rank($1) }
  }

  /// Uses `mask` for `objective` during `steps`.
  /// - Throws: as `use(_:for:steps:)` with a string objective.
  public mutating func use(_ mask: MaskSpec, for objective: Objective, steps: Range<Int>) throws {
    try use(mask, for: objective.rawValue, steps: steps)
  }

  // MARK: - Looking up

  /// The mask specification `objective` uses at `step`: the entry covering the step, else the objective's
  /// chooser, else the default.
  /// - Throws: `MaskError.noMask` when there is none of them, or what the chooser throws.
  public func maskSpec(for objective: String, step: Int) throws -> MaskSpec {
    if let entry = entries.first(where: { $0.objective == objective && $0.steps.contains(step) }) {
      return entry.mask
    }
    if let chooser = choosers[objective] { return try chooser.choose(step) }
    guard let mask = defaults[objective] else {
      throw MaskError.noMask(objective: objective, step: step, known: objectives)
    }
    return mask
  }

  /// The mask `objective` uses at `step`, built for `layout`.
  /// - Throws: `MaskError.noMask`, or an error from building the mask for this layout.
  public func mask(for objective: String, step: Int, layout: TokenLayout) throws -> AttentionMask {
    try maskSpec(for: objective, step: step).mask(for: layout)
  }

  /// The mask `objective` uses at `step`, built for `layout`.
  /// - Throws: `MaskError.noMask`, or an error from building the mask for this layout.
  public func mask(for objective: Objective, step: Int, layout: TokenLayout) throws -> AttentionMask {
    try mask(for: objective.rawValue, step: step, layout: layout)
  }

  // MARK: - Timelines

  /// The steps `0 ..< totalSteps` of `objective` cut into stretches with one mask each, in order. Where a
  /// chooser decides, it is asked at every step and consecutive steps with the same mask name form one
  /// stretch (a step where it fails has no mask).
  public func phases(for objective: String, totalSteps: Int) -> [Phase] {
    var phases = [Phase]()
    var step = 0
    func fill(to end: Int) {
      guard end > step else { return }
      guard let chooser = choosers[objective] else {
        phases.append(Phase(steps: step ..< end, mask: defaults[objective], isDefault: true))
        step = end
        return
      }
      var start = step
      var current = try? chooser.choose(step)
      for next in (step + 1) ..< (end + 1) {
        let mask = next < end ? (try? chooser.choose(next)) : nil
        if next == end || mask?.name != current?.name {
          phases.append(Phase(steps: start ..< next, mask: current, isDefault: false))
          start = next
          current = mask
        }
      }
      step = end
    }
    for entry in entries where entry.objective == objective && entry.steps.lowerBound < totalSteps {
      fill(to: entry.steps.lowerBound)
      let end = min(entry.steps.upperBound, totalSteps)
      phases.append(Phase(steps: entry.steps.lowerBound ..< end, mask: entry.mask, isDefault: false))
      step = end
    }
    fill(to: totalSteps)
    return phases
  }

  /// The timeline as text, one line per objective, e.g.
  /// `itg: steps 0..<1500 multimodalCausal (default), 1500..<3000 queriesSeeText`.
  public func describeTimeline(totalSteps: Int) -> String {
    let width = objectives.map(\.count).max() ?? 0
    return objectives.map { objective in
      let phases = phases(for: objective, totalSteps: totalSteps).map { phase in
        "\(phase.steps.lowerBound)..<\(phase.steps.upperBound) " + (phase.mask?.name ?? "no mask")
          + (phase.isDefault && phase.mask != nil ? " (default)" : "")
      }
      let padding = String(repeating: " ", count: width - objective.count)
      return "\(objective):\(padding) steps " + phases.joined(separator: ", ")
    }.joined(separator: "\n")
  }

  /// Each objective's default and entries, one line each, e.g.
  /// `itg: multimodalCausal by default; queriesSeeText for steps 1500..<3000`.
  public var description: String {
    objectives.map { objective in
      var parts = [choosers[objective].map { "\($0.name) (a function of the step)" }
        ?? (defaults[objective]?.name ?? "no mask") + " by default"]
      parts += entries.filter { $0.objective == objective }.map {
        "\($0.mask.name) for steps \($0.steps.lowerBound)..<\($0.steps.upperBound)"
      }
      return "\(objective): " + parts.joined(separator: "; ")
    }.joined(separator: "\n")
  }

  // MARK: - Fingerprints

  /// A stable hash of the mask every objective uses at every step of `0 ..< totalSteps`, each mask hashed
  /// with its cells over `layout`: a changed step range, chooser or custom mask function changes it (the
  /// names alone would not). Runs use it to tell whether a saved phase was trained with this schedule.
  public func fingerprint(totalSteps: Int, layout: TokenLayout) -> String {
    var parts = [String]()
    for objective in objectives {
      for phase in phases(for: objective, totalSteps: totalSteps) {
        let cells = (try? phase.mask?.mask(for: layout))?.flatBools.map { $0 ? "1" : "0" }.joined() ?? "-"
        parts.append("\(objective):\(phase.steps):\(phase.mask?.name ?? "none"):\(cells)")
      }
    }
    return stableHash(parts)
  }
}
