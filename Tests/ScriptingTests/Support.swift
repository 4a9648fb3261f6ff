// Helpers for the lab tests: an engine whose output is captured, and unwrapping values from Lua.

import Blip2Core
import Testing
@testable import Scripting

/// Collects what a script prints.
final class OutputBuffer {
  var lines: [String] = []
  var text: String { lines.joined(separator: "\n") }
}

/// An engine over `registry` with `settings`, printing into the returned buffer.
func makeEngine(registry: Registry = Registry(), settings: [String] = [], dryRun: Bool = false) throws
  -> (ScriptEngine, OutputBuffer) {
  let buffer = OutputBuffer()
  let engine = try ScriptEngine(registry: registry, settings: settings, dryRun: dryRun) { buffer.lines.append($0) }
  return (engine, buffer)
}

/// The Swift value of the object a chunk returns first.
func returnedObject<Value>(_ engine: ScriptEngine, _ code: String, as type: Value.Type) throws -> Value {
  let results = try engine.run(code, chunkName: "test.lua")
  guard case let .object(object)? = results.first, let value = object.value as? Value else {
    throw LabError("the chunk returned \(results.first?.kindName ?? "nothing"), not a \(Value.self)")
  }
  return value
}

/// The string a chunk returns first.
func returnedString(_ engine: ScriptEngine, _ code: String) throws -> String {
  let results = try engine.run(code, chunkName: "test.lua")
  guard case let .string(text)? = results.first else {
    throw LabError("the chunk returned \(results.first?.kindName ?? "nothing"), not a string")
  }
  return text
}
