// `lab.encoder.<name>{...}`, `lab.bridge.<name>{...}`, `lab.lm.<name>{...}`, `lab.data.<name>{...}`: whatever the
// registry holds, with no per-plugin glue. The option table becomes a `ConfigValue` the factory reads through
// a `ConfigReader`, so unknown keys, wrong types and out-of-range values fail with the factory's own checks.

import Blip2Core
import Foundation
import Tensor

extension ScriptEngine {
  func defineComponentTypes() throws {
    try lua.defineType(AnyObject.self, name: LabTypeName.component, describe: Self.describe(component:), methods: [
      "summary": { object, _ in [.string((object as? any Component)?.summary ?? String(describing: object))] },
      "kind": { object, _ in [.string((object as? any Component)?.kind ?? "")] },
      "featureDim": { object, _ in
        guard let encoder = object as? any ImageEncoder else {
          throw LabError("Component:featureDim: only an image encoder has a feature width (this is "
            + "\((object as? any Component)?.kind ?? "not a component"))")
        }
        return [.int(encoder.featureDim)]
      },
      "parameters": { object, _ in
        guard let component = object as? any Component else { return [.int(0), .int(0)] }
        return [.int(component.module.parameterCount), .int(component.module.trainableParameterCount)]
      },
    ])
    try lua.defineType(AnyObject.self, name: LabTypeName.dataset, describe: Self.describe(dataset:), methods: [
      "count": { object, arguments in
        let text = try arguments.string(1, "the split")
        guard let split = Split(rawValue: text) else {
          let names = Split.allCases.map(\.rawValue)
          throw LabError("Dataset:count: no split '\(text)'\(Suggestions.hint(for: text, in: names)); "
            + "splits are \(names.joined(separator: ", "))")
        }
        return [.int((object as? any Dataset)?.count(split) ?? 0)]
      },
      "name": { object, _ in [.string((object as? any Dataset)?.name ?? "")] },
    ])
    try lua.defineType(AnyObject.self, name: LabTypeName.object, describe: { String(describing: $0) }, methods: [:])
  }

  /// `ViT (width 192, 6 layers, patch 8): 1,234,567 parameters, frozen`.
  static func describe(component object: AnyObject) -> String {
    guard let component = object as? any Component else { return String(describing: object) }
    let total = component.module.parameterCount, trainable = component.module.trainableParameterCount
    let state = trainable == 0 ? "frozen" : trainable == total ? "trainable" : "\(grouped(trainable)) trainable"
    return "\(component.summary): \(grouped(total)) parameters, \(state)"
  }

  /// `Dataset shapes-seed1: train 20000 | val 0 | test 1000 | heldOut 200`.
  static func describe(dataset object: AnyObject) -> String {
    guard let dataset = object as? any Dataset else { return String(describing: object) }
    return "Dataset \(dataset.name): " + Split.allCases.map { "\($0.rawValue) \(dataset.count($0))" }.joined(separator: " | ")
  }

  /// 1234567 as `1,234,567`.
  static func grouped(_ number: Int) -> String {
    let digits = String(number.magnitude)
    let groups = stride(from: digits.count, to: 0, by: -3).map { end in
      String(digits[digits.index(digits.startIndex, offsetBy: max(end - 3, 0)) ..< digits.index(digits.startIndex, offsetBy: end)])
    }
    return (number < 0 ? "-" : "") + groups.reversed().joined(separator: ",")
  }

  func componentFunctions() throws -> [String: LuaValue] {
    [
      // (family, name) -> the constructor, or nil and the message (the prelude raises it at the user's line).
      "constructor": try native("lab") { engine, arguments in
        let familyName = try arguments.string(1), name = try arguments.string(2)
        guard let family = ComponentFamily(rawValue: familyName) else { return [.nil, .string("lab has no family \(familyName)")] }
        guard engine.registry.entry(family, name) != nil else {
          return [.nil, .string(engine.unknownComponentMessage(family, name))]
        }
        return [try engine.constructor(family, name)]
      },
      "help": try native("lab.help") { engine, _ in
        engine.output(engine.helpText())
        return []
      },
    ]
  }

  /// `lab.encoder: no encoder named "vitt" (did you mean "vit"?); available: convnet, vit`.
  func unknownComponentMessage(_ family: ComponentFamily, _ name: String) -> String {
    let known = registry.names(in: family)
    guard !known.isEmpty else { return "lab.\(family.rawValue): no \(family.rawValue) named \"\(name)\"; none is registered" }
    let error = RegistryError.unknownComponent(family: family.rawValue, name: name, known: known,
                                               suggestion: Suggestions.closest(to: name, in: known))
    return "lab.\(family.rawValue): \(error.sentence)"
  }

  /// The Lua function `lab.<family>.<name>`: an option table in, the built component out.
  func constructor(_ family: ComponentFamily, _ name: String) throws -> LuaValue {
    let qualified = "lab.\(family.rawValue).\(name)"
    return try native(qualified) { engine, arguments in
      let options = try arguments.value(1)
      let config: ConfigValue
      switch options {
      case .nil: config = .table([:])
      case .table, .list: config = try options.configValue(path: qualified)
      default: throw LabError("\(qualified): give an option table, as in \(qualified){ ... }, got \(options.kindName)")
      }
      let built: AnyObject
      do {
        built = try engine.registry.make(family, name, config: config, context: engine.buildContext, as: AnyObject.self)
      } catch let error as ConfigError {
        // ConfigReader paths start at the family (`encoder.vit: ...`); scripts know it as `lab.encoder.vit`.
        let sentence = error.sentence
        throw LabError(sentence.hasPrefix("\(family.rawValue).\(name)") ? "lab." + sentence : "\(qualified): \(sentence)")
      }
      let typeName = built is any Component ? LabTypeName.component
        : built is any Dataset ? LabTypeName.dataset : LabTypeName.object
      return [.object(LuaObject(built, typeName: typeName))]
    }
  }

  /// Every family with its names and summaries, for `lab.help()`.
  func helpText() -> String {
    var lines = ["lab: components by family (build one with lab.<family>.<name>{ options })"]
    for family in ComponentFamily.allCases {
      let names = registry.names(in: family)
      lines.append("lab.\(family.rawValue)" + (names.isEmpty ? ": (none registered)" : ""))
      let width = names.map(\.count).max() ?? 0
      for name in names {
        let summary = registry.entry(family, name)?.summary ?? ""
        lines.append("  \(name)\(String(repeating: " ", count: width - name.count))  \(summary)")
      }
    }
    lines.append("also: lab.option, lab.layout, lab.mask.{itc,itm,itg,causal,blocks,custom}, lab.schedule, "
      + "lab.losses, lab.table, lab.render, lab.dry_run; in `blip2lab run`: lab.pretrain.{encoder,lm}, lab.compose, lab.run, "
      + "lab.sweep, lab.data.noisy, lab.capfilt")
    return lines.joined(separator: "\n")
  }
}
