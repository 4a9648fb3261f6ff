// Errors a script author can act on: the script's file and line and a plain sentence.

import Foundation

/// An error in a Lua script, located in the script: `file:line: message`.
///
/// Syntax errors, runtime errors (including errors raised by `lab.*` functions, which point at the line of the
/// script that called them) and errors found after the script ran (an unknown `--set` key) all end up here.
/// ```
/// experiments/ablation.lua:12: lab.losses: unknown key 'itgg' (did you mean 'itg'?)
/// ```
public struct ScriptError: Error, LocalizedError, Equatable, Sendable {
  /// What kind of error this is.
  public enum Kind: String, Sendable {
    /// The chunk did not compile.
    case syntax
    /// The chunk raised an error while running.
    case runtime
    /// The script ran, but its setup was wrong (for example a `--set` key no `lab.option` read).
    case setup
  }

  /// What kind of error this is.
  public var kind: Kind
  /// The script file (as given when it was run), if the error can be placed in one.
  public var file: String?
  /// The 1-based line in `file`, if known.
  public var line: Int?
  /// The plain sentence, without the position.
  public var message: String
  /// Lua's stack traceback at the error, when there was a stack (for `--verbose` style output).
  public var traceback: String?

  /// An error with its parts.
  public init(kind: Kind, file: String?, line: Int?, message: String, traceback: String? = nil) {
    self.kind = kind
    self.file = file
    self.line = line
    self.message = message
    self.traceback = traceback
  }

  /// `file:line: message`, `file: message` without a line, or the message alone.
  public var errorDescription: String? {
    switch (file, line) {
    case let (file?, line?): "\(file):\(line): \(message)"
    case let (file?, nil): "\(file): \(message)"
    default: message
    }
  }
}

/// An error raised by Swift code called from Lua (a `lab.*` function or an object's method). It travels back to
/// Lua as an ordinary Lua error (never a `longjmp` across Swift frames) raised at the caller's line.
public struct LabError: Error, LocalizedError, Equatable, Sendable {
  /// The sentence, usually starting with the function's name: `lab.losses: unknown key 'itgg'`.
  public var message: String

  /// An error with `message`.
  public init(_ message: String) { self.message = message }

  /// The message.
  public var errorDescription: String? { message }
}

extension Error {
  /// The error's sentence: `errorDescription` for a `LocalizedError`, else its description.
  var sentence: String {
    if let localized = self as? LocalizedError, let text = localized.errorDescription { return text }
    return String(describing: self)
  }
}

/// Edit-distance suggestions for misspelt names (keys, methods, options).
enum Suggestions {
  /// The candidate closest to `word` (ignoring case) within a third of its length (at least 1 edit); ties go
  /// to the alphabetically first. `ConfigReader`'s rule, with a swap of neighbours counting as one edit.
  static func closest(to word: String, in candidates: [String]) -> String? {
    let scored = candidates.map { (name: $0, distance: editDistance(word.lowercased(), $0.lowercased())) }
    return scored.filter { $0.distance <= max(1, $0.name.count / 3) }
      .min { ($0.distance, $0.name) < ($1.distance, $1.name) }?.name
  }

  /// ` (did you mean 'x'?)`, or nothing when no candidate is close.
  static func hint(for word: String, in candidates: [String]) -> String {
    closest(to: word, in: candidates).map { " (did you mean '\($0)'?)" } ?? ""
  }

  /// The Lua function `(word, names) -> " (did you mean 'x'?)"` or `""` (for misspelt fields and methods).
  static func hintFunction(_ arguments: LuaArguments) throws -> [LuaValue] {
    guard case let .string(word) = try arguments.value(1), case let .list(names) = try arguments.value(2) else {
      return [.string("")]
    }
    let candidates = names.compactMap { name -> String? in if case let .string(text) = name { text } else { nil } }
    return [.string(hint(for: word, in: candidates))]
  }

  /// The optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two neighbouring
  /// characters each count 1 (so `stpes` is 1 from `steps`: swapped letters are the commonest typo).
  static func editDistance(_ left: String, _ right: String) -> Int {
    let left = Array(left), right = Array(right)
    guard !left.isEmpty else { return right.count }
    guard !right.isEmpty else { return left.count }
    var table = [[Int]](repeating: [Int](repeating: 0, count: right.count + 1), count: left.count + 1)
    for i in 0 ... left.count { table[i][0] = i }
    for j in 0 ... right.count { table[0][j] = j }
    for i in 1 ... left.count {
      for j in 1 ... right.count {
        let cost = left[i - 1] == right[j - 1] ? 0 : 1
        table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
        if i > 1, j > 1, left[i - 1] == right[j - 2], left[i - 2] == right[j - 1] {
          table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
        }
      }
    }
    return table[left.count][right.count]
  }
}
