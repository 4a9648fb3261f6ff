import Testing

@testable import Blip2Core

private func message(_ error: any Error) -> String { (error as? ConfigError)?.errorDescription ?? "\(error)" }

/// The error `body` throws, or `nil`.
private func thrown(_ body: () throws -> Void) -> (any Error)? {
  do { try body(); return nil } catch { return error }
}

@Suite("Config reader")
struct ConfigReaderTests {
  private static let qformer: ConfigValue = [
    "queries": 16, "crossEvery": 2, "dropout": 0.1, "norm": "layer", "shareFeedForward": false,
    "sizes": [1, 2, 4], "inner": ["layers": 4],
  ]

  @Test("typed reads return the given values and defaults for absent keys")
  func typedReads() throws {
    let reader = try ConfigReader(Self.qformer, path: "bridge.qformer")
    #expect(try reader.int("queries", default: 32, range: 1 ... 512) == 16)
    #expect(try reader.int("hidden", default: 256) == 256)
    #expect(try reader.double("dropout", default: 0, range: 0 ... 1) == 0.1)
    #expect(try reader.string("norm", default: "rms", allowed: ["layer", "rms"]) == "layer")
    #expect(try reader.bool("shareFeedForward", default: true) == false)
    #expect(try reader.intList("sizes", default: []) == [1, 2, 4])
    #expect(try reader.stringList("metrics", default: ["r1"]) == ["r1"])
    #expect(try reader.int("crossEvery", range: 1 ... 12) == 2)
    #expect(try reader.table("inner").int("layers", default: 2) == 4)
    try reader.finish()
  }

  @Test("an integer is a number, and a number without a fraction is an integer")
  func numericConversions() throws {
    let reader = ConfigReader(["lr": 1, "layers": 4.0, "weights": [1, 0.5]])
    #expect(try reader.double("lr", default: 3e-4) == 1.0)
    #expect(try reader.int("layers", default: 2) == 4)
    #expect(try reader.doubleList("weights") == [1.0, 0.5])
    try reader.finish()
  }

  @Test("nested readers carry the dotted path, and an absent table gives the defaults")
  func nestedPaths() throws {
    let root = ConfigReader(["bridge": ["qformer": ["crossEvery": 0]]])
    let qformer = try root.table("bridge").table("qformer")
    #expect(qformer.path == "bridge.qformer")
    #expect(throws: ConfigError.outOfRange(path: "bridge.qformer", key: "crossEvery",
                                           expected: "an integer in 1...12", got: 0)) {
      try qformer.int("crossEvery", default: 2, range: 1 ... 12)
    }
    let absent = try root.table("optimizer")
    #expect(absent.path == "optimizer")
    #expect(try absent.double("lr", default: 1e-4) == 1e-4)
    #expect(try root.table("bridge") === root.table("bridge"))
  }

  @Test("every bad value is a typed error whose message names the path, the value and what is allowed")
  func errorMessages() throws {
    let reader = ConfigReader(
      ["crossEvery": 0, "layers": 2.5, "lr": "fast", "dropout": 1.5, "norm": "batch", "frozen": 1,
       "sizes": [1, "two"], "inner": 3],
      path: "bridge.qformer")
    let cases: [(() throws -> Void, String)] = [
      ({ _ = try reader.int("crossEvery", range: 1 ... 12) },
       "bridge.qformer: \"crossEvery\" must be an integer in 1...12, got 0"),
      ({ _ = try reader.int("layers", default: 4) },
       "bridge.qformer: \"layers\" must be an integer, got 2.5"),
      ({ _ = try reader.double("lr", default: 1e-4) },
       "bridge.qformer: \"lr\" must be a number, got \"fast\""),
      ({ _ = try reader.double("dropout", range: 0 ... 1) },
       "bridge.qformer: \"dropout\" must be a number in 0.0...1.0, got 1.5"),
      ({ _ = try reader.string("norm", allowed: ["layer", "rms"]) },
       "bridge.qformer: \"norm\" must be one of \"layer\", \"rms\", got \"batch\""),
      ({ _ = try reader.bool("frozen") },
       "bridge.qformer: \"frozen\" must be true or false, got 1"),
      ({ _ = try reader.intList("sizes") },
       "bridge.qformer: \"sizes[1]\" must be an integer, got \"two\""),
      ({ _ = try reader.table("inner") },
       "bridge.qformer: \"inner\" must be a table, got 3"),
      ({ _ = try reader.int("heads", range: 1 ... 16) },
       "bridge.qformer: \"heads\" is required: give an integer in 1...16."),
    ]
    for (read, expected) in cases {
      #expect(thrown(read).map(message) == expected)
    }
  }

  @Test("the error cases are distinct values, so callers can match on them")
  func errorCases() {
    let reader = ConfigReader(["layers": 2.5, "norm": "batch"])
    #expect(throws: ConfigError.typeMismatch(path: "", key: "layers", expected: "an integer", got: 2.5)) {
      try reader.int("layers")
    }
    #expect(throws: ConfigError.notAllowed(path: "", key: "norm", allowed: ["layer"], got: "batch")) {
      try reader.string("norm", allowed: ["layer"])
    }
    #expect(throws: ConfigError.missingKey(path: "", key: "steps", expected: "an integer")) {
      try reader.int("steps")
    }
  }

  @Test("a key nobody read is an error with a did-you-mean suggestion")
  func unknownKey() throws {
    let reader = ConfigReader(["steps": 3000, "lossses": ["itc": 1]], path: "stage1")
    _ = try reader.int("steps", default: 1000)
    _ = try reader.table("losses")
    _ = try reader.double("lr", default: 1e-4)
    let error = ConfigError.unknownKey(path: "stage1", key: "lossses", known: ["losses", "lr", "steps"],
                                       suggestion: "losses")
    #expect(throws: error) { try reader.finish() }
    #expect(message(error) == "stage1: unknown key \"lossses\" (did you mean \"losses\"?); "
      + "known keys: losses, lr, steps. Fix the spelling or remove it.")
  }

  @Test("finish on the root also checks nested tables")
  func nestedUnknownKey() throws {
    let root = ConfigReader(["bridge": ["qformer": ["layers": 4, "hiden": 256]]])
    let qformer = try root.table("bridge").table("qformer")
    _ = try qformer.int("layers", default: 2)
    _ = try qformer.int("hidden", default: 256)
    #expect(throws: ConfigError.unknownKey(path: "bridge.qformer", key: "hiden", known: ["hidden", "layers"],
                                           suggestion: "hidden")) {
      try root.finish()
    }
  }

  @Test("suggestions come only from close keys")
  func suggestions() {
    #expect(ConfigReader.editDistance("lossses", "losses") == 1)
    #expect(ConfigReader.editDistance("kitten", "sitting") == 3)
    #expect(ConfigReader.closest(to: "lossses", in: ["batch", "losses", "lr"]) == "losses")
    #expect(ConfigReader.closest(to: "crossevery", in: ["crossEvery", "queries"]) == "crossEvery")
    #expect(ConfigReader.closest(to: "temperature", in: ["batch", "losses", "lr"]) == nil)
    #expect(message(ConfigError.unknownKey(path: "", key: "x", known: [], suggestion: nil))
      == "unknown key \"x\"; this table takes no keys. Fix the spelling or remove it.")
  }

  @Test("a reader over a non-table value is an error")
  func nonTableRoot() {
    #expect(throws: ConfigError.typeMismatch(path: "bridge", key: "qformer", expected: "a table", got: 4)) {
      try ConfigReader(4, path: "bridge.qformer")
    }
  }
}

@Suite("Config values")
struct ConfigValueTests {
  @Test("--set values: integers, numbers, booleans, strings, quoted strings and JSON")
  func commandLineValues() throws {
    #expect(try ConfigValue.parse(commandLine: "layers=4") == ["layers": .int(4)])
    #expect(try ConfigValue.parse(commandLine: "lr=3e-4") == ["lr": .double(3e-4)])
    #expect(try ConfigValue.parse(commandLine: "dropout=-0.5") == ["dropout": .double(-0.5)])
    #expect(try ConfigValue.parse(commandLine: "frozen=true") == ["frozen": .bool(true)])
    #expect(try ConfigValue.parse(commandLine: "optimizer=adamw") == ["optimizer": .string("adamw")])
    #expect(try ConfigValue.parse(commandLine: "name=\"12\"") == ["name": .string("12")])
    #expect(try ConfigValue.parse(commandLine: "tag=inf") == ["tag": .string("inf")])
    #expect(try ConfigValue.parse(commandLine: "sizes=[1,2,3]") == ["sizes": [1, 2, 3]])
    #expect(try ConfigValue.parse(commandLine: "losses={\"itc\":1,\"itg\":0}") == ["losses": ["itc": 1, "itg": 0]])
  }

  @Test("--set dotted keys make nested tables; several assignments merge, the later winning")
  func dottedKeys() throws {
    #expect(try ConfigValue.parse(commandLine: "stage1.lr=3e-4") == ["stage1": ["lr": 3e-4]])
    let merged = try ConfigValue.parse(commandLine: ["stage1.lr=3e-4", "stage1.steps=10", "stage1.lr=1e-3"])
    #expect(merged == ["stage1": ["lr": 1e-3, "steps": 10]])
  }

  @Test("malformed --set assignments are errors that say how to write them")
  func badAssignments() {
    #expect(thrown { _ = try ConfigValue.parse(commandLine: "lr") }.map(message)
      == "Cannot read the setting \"lr\": write it as key=value, for example stage1.lr=3e-4.")
    #expect(thrown { _ = try ConfigValue.parse(commandLine: "stage1..lr=1") }.map(message)
      == "Cannot read the setting \"stage1..lr=1\": the key must be names of letters, digits and _ joined by "
      + "dots, like stage1.lr.")
    #expect(thrown { _ = try ConfigValue.parse(commandLine: "lr=") }.map(message)
      == "Cannot read the setting \"lr=\": give a value after =; write \"\" for an empty string.")
    #expect(thrown { _ = try ConfigValue.parse(commandLine: "sizes=[1,2") }.map(message)
      == "Cannot read the setting \"sizes=[1,2\": a value starting with [ must be JSON.")
  }

  @Test("merging: the override wins and nested tables merge key by key")
  func merging() {
    let base: ConfigValue = ["stage1": ["lr": 1e-4, "steps": 3000], "seed": 1]
    let override: ConfigValue = ["stage1": ["lr": 3e-4], "seed": 2, "name": "fast"]
    #expect(base.merging(override) == ["stage1": ["lr": 3e-4, "steps": 3000], "seed": 2, "name": "fast"])
    #expect(ConfigValue.int(1).merging(["a": 1]) == ["a": 1])
  }

  @Test("JSON round trip with sorted keys; numbers compare by value")
  func jsonRoundTrip() throws {
    let config: ConfigValue = [
      "stage1": ["lr": 3e-4, "steps": 3000, "losses": ["itm": 1, "itc": 1.0]],
      "name": "full", "frozen": true, "sizes": [1, 2.5, "x"],
    ]
    let json = try config.jsonString(pretty: false)
    #expect(json == #"{"frozen":true,"name":"full","sizes":[1,2.5,"x"],"stage1":{"losses":{"itc":1,"itm":1},"#
      + #""lr":0.0003,"steps":3000}}"#)
    #expect(try ConfigValue(json: json) == config)
    #expect(ConfigValue.int(2) == .double(2.0) && ConfigValue.int(2).hashValue == ConfigValue.double(2.0).hashValue)
    #expect(ConfigValue.int(2) != .string("2"))
    #expect(throws: (any Error).self) { try ConfigValue(json: #"{"a": null}"#) }
  }

  @Test("values print Lua-like, keys sorted")
  func descriptions() {
    let value: ConfigValue = ["name": "a \"b\"", "sizes": [1, 2], "lr": 0.5, "on": true, "empty": [:]]
    #expect(value.description == #"{ empty = {}, lr = 0.5, name = "a \"b\"", on = true, sizes = { 1, 2 } }"#)
  }
}
