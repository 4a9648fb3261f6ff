// Registry-driven constructors: lab.<family>.<name>{...} with a fake factory, unknown names and keys, lab.help.

import Blip2Core
import Tensor
import Testing
@testable import Scripting

/// A bridge-like component with one trainable parameter matrix.
final class FakeBridge: Component {
  final class Parameters: Module, @unchecked Sendable {
    let weight: Tensor
    init(count: Int) {
      weight = Tensor.zeros([count, 10], requiresGrad: true)
      super.init()
    }
    override func ownParameters() -> [(String, Tensor)] { [("weight", weight)] }
  }

  let queries: Int
  let parameters: Parameters
  init(queries: Int) {
    self.queries = queries
    parameters = Parameters(count: queries)
  }
  var module: Module { parameters }
  var kind: String { "fake" }
  var summary: String { "FakeBridge (\(queries) queries)" }
}

@Suite struct LabComponentTests {
  static func registry() throws -> Registry {
    var registry = Registry()
    try registry.register(.bridge, "fake", summary: "a test bridge") { config, _ in
      FakeBridge(queries: try config.int("queries", default: 32, range: 1 ... 512))
    }
    try registry.register(.bridge, "other", summary: "another test bridge") { _, _ in FakeBridge(queries: 1) }
    return registry
  }

  @Test func buildsAComponentFromItsOptionTable() throws {
    let (engine, _) = try makeEngine(registry: try Self.registry())
    let results = try engine.run("""
      local bridge = lab.bridge.fake{ queries = 16 }
      return bridge, tostring(bridge), bridge:parameters()
      """, chunkName: "c.lua")
    guard case let .object(object) = results[0], let bridge = object.value as? FakeBridge else {
      Issue.record("got \(results)")
      return
    }
    #expect(bridge.queries == 16)
    guard case .string("FakeBridge (16 queries): 160 parameters, trainable") = results[1], case .int(160) = results[2] else {
      Issue.record("got \(results)")
      return
    }
  }

  @Test(arguments: [
    ("lab.bridge.fak{}", "lab.bridge: no bridge named \"fak\" (did you mean \"fake\"?); available: fake, other"),
    ("lab.bridge.fake{ querys = 4 }", "lab.bridge.fake: unknown key \"querys\" (did you mean \"queries\"?)"),
    ("lab.bridge.fake{ queries = 0 }", "lab.bridge.fake: \"queries\" must be an integer in 1...512, got 0"),
    ("lab.bridge.fake('x')", "lab.bridge.fake: give an option table"),
    ("lab.lm.decoder{}", "lab.lm: no lm named \"decoder\"; none is registered"),
    ("lab.bridge.fake{ f = function() end }", "lab.bridge.fake.f: a function cannot be an option value"),
  ])
  func componentErrors(code: String, expected: String) throws {
    let (engine, _) = try makeEngine(registry: try Self.registry())
    let error = try #require(throws: ScriptError.self) { try engine.run("local x\n" + code, chunkName: "r.lua") }
    #expect(error.file == "r.lua")
    #expect(error.line == 2)
    #expect(error.message.hasPrefix(expected), "\(error.message)")
  }

  @Test func helpListsFamiliesNamesAndSummaries() throws {
    let (engine, output) = try makeEngine(registry: try Self.registry())
    try engine.run("lab.help()", chunkName: "h.lua")
    #expect(output.text.contains("lab.bridge\n  fake   a test bridge\n  other  another test bridge"))
    #expect(output.text.contains("lab.encoder: (none registered)"))
  }
}
