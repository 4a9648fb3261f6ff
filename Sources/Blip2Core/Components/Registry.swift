// The plugin registry: named factories per component family. A plugin registers itself with one call;
// Lua scripts and the command line build components by name with a config table, and an unknown name
// or an unknown key is an error that says what exists.

import Foundation
import Tensor

/// The families of components.
public enum ComponentFamily: String, Sendable, CaseIterable {
  /// Image encoders (`lab.encoder.*`).
  case encoder
  /// Bridges (`lab.bridge.*`).
  case bridge
  /// Language models (`lab.lm.*`).
  case lm
  /// Datasets (`lab.data.*`).
  case data
}

/// What a factory may need besides its own config: the seed and the sizes of the parts it connects.
public struct BuildContext: Sendable {
  /// Seed for parameter initialization.
  public var seed: UInt64
  /// Width of the image encoder's features (a bridge's input), when known.
  public var imageFeatureDim: Int?
  /// Where built artifacts (pre-trained frozen models, feature caches) may be cached.
  public var cacheDirectory: URL?
  /// The built-in tokenizer, for components that do not load one from a checkpoint (the small LMs and the
  /// Q-Former's text side share it, so their vocabularies agree).
  public var tokenizer: (any Tokenizer)?

  /// A context.
  public init(seed: UInt64 = 0, imageFeatureDim: Int? = nil, cacheDirectory: URL? = nil, tokenizer: (any Tokenizer)? = nil) {
    self.seed = seed
    self.imageFeatureDim = imageFeatureDim
    self.cacheDirectory = cacheDirectory
    self.tokenizer = tokenizer
  }
}

/// Errors from building components by name.
public enum RegistryError: Error, LocalizedError, Equatable {
  /// No factory of that name in the family.
  case unknownComponent(family: String, name: String, known: [String], suggestion: String?)
  /// A factory built something that is not the expected kind of component.
  case wrongKind(family: String, name: String, expected: String)
  /// The same name was registered twice.
  case duplicate(family: String, name: String)

  /// A plain sentence: what, where, what to do.
  public var errorDescription: String? {
    switch self {
    case let .unknownComponent(family, name, known, suggestion):
      let hint = suggestion.map { " (did you mean \"\($0)\"?)" } ?? ""
      return "no \(family) named \"\(name)\"\(hint); available: \(known.joined(separator: ", "))"
    case let .wrongKind(family, name, expected):
      return "\(family) \"\(name)\" does not build a \(expected); this is a bug in its plugin's registration"
    case let .duplicate(family, name):
      return "two plugins register \(family) \"\(name)\"; rename one of them"
    }
  }
}

/// Named factories of components, per family.
public struct Registry: Sendable {
  /// Builds a component from its config (read through a `ConfigReader`, whose unknown keys are reported
  /// after the factory returns) and the build context.
  public typealias Factory = @Sendable (ConfigReader, BuildContext) throws -> AnyObject

  /// A registered factory.
  public struct Entry: Sendable {
    /// Its family.
    public var family: ComponentFamily
    /// Its name within the family.
    public var name: String
    /// One line for listings (`blip2lab list`, `lab.help()`).
    public var summary: String
    /// The factory.
    public var factory: Factory
  }

  private var entries: [ComponentFamily: [String: Entry]] = [:]

  /// An empty registry.
  public init() {}

  /// Registers `factory` as `family.name`.
  public mutating func register(_ family: ComponentFamily, _ name: String, summary: String, factory: @escaping Factory) throws {
    if entries[family]?[name] != nil { throw RegistryError.duplicate(family: family.rawValue, name: name) }
    entries[family, default: [:]][name] = Entry(family: family, name: name, summary: summary, factory: factory)
  }

  /// The names registered in `family`, sorted.
  public func names(in family: ComponentFamily) -> [String] { (entries[family] ?? [:]).keys.sorted() }

  /// The entry `family.name`, if registered.
  public func entry(_ family: ComponentFamily, _ name: String) -> Entry? { entries[family]?[name] }

  /// Builds `family.name` from `config` (a table; unknown keys are an error) as a `T`.
  public func make<T>(_ family: ComponentFamily, _ name: String, config: ConfigValue = .table([:]),
                      context: BuildContext = BuildContext(), as type: T.Type = T.self) throws -> T {
    guard let entry = entries[family]?[name] else {
      let known = names(in: family)
      throw RegistryError.unknownComponent(family: family.rawValue, name: name, known: known,
                                           suggestion: ConfigReader.closest(to: name, in: known))
    }
    let reader = try ConfigReader(config, path: "\(family.rawValue).\(name)")
    let built = try entry.factory(reader, context)
    try reader.finish()
    guard let component = built as? T else {
      throw RegistryError.wrongKind(family: family.rawValue, name: name, expected: String(describing: T.self))
    }
    return component
  }
}
