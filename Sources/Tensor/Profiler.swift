// An op-level profiler: where a training step spends its time, per op and output shape, forward and backward.
//
// Off by default (one flag check per op). `OpProfiler.profile { step() }` turns it on for the block and
// returns a report; `blip2lab bench stage1|stage2 --profile` prints one for a benchmarked step.
// Forward time of an op is the wall time since the previous op finished (or since the block started), so
// bookkeeping between ops counts toward the op that follows it; backward time is the op's own gradient pass.

import Foundation

/// One row of a profile: an op at one output shape, or a named section (`OpProfiler.section`).
public struct OpProfileEntry: Sendable {
  /// The op's name (`Op.rawValue`) or the section's.
  public let name: String
  public let shape: [Int]
  public var calls = 0
  public var forwardSeconds = 0.0
  public var backwardSeconds = 0.0
  public var totalSeconds: Double { forwardSeconds + backwardSeconds }
}

/// What `OpProfiler.profile` measured.
public struct OpProfile: Sendable {
  /// The wall time of the whole block.
  public let wallSeconds: Double
  /// Per op and shape, most expensive first.
  public let entries: [OpProfileEntry]
  /// Time spent in the block outside recorded ops and named sections.
  public var otherSeconds: Double { wallSeconds - entries.reduce(0) { $0 + $1.totalSeconds } }

  /// Per op (all shapes summed), most expensive first.
  public var byOp: [OpProfileEntry] {
    var merged: [String: OpProfileEntry] = [:]
    for e in entries {
      var m = merged[e.name] ?? OpProfileEntry(name: e.name, shape: [])
      m.calls += e.calls
      m.forwardSeconds += e.forwardSeconds
      m.backwardSeconds += e.backwardSeconds
      merged[e.name] = m
    }
    return merged.values.sorted { $0.totalSeconds > $1.totalSeconds }
  }

  /// A plain-text report: the per-op summary, then the `top` most expensive op/shape rows.
  public func report(top: Int = 25, divideBy runs: Int = 1) -> String {
    let n = Double(max(1, runs))
    func ms(_ s: Double) -> String { String(format: "%8.1f", s * 1000 / n) }
    var lines = [String(format: "profile: %.1f ms per step, %.1f ms outside ops and named sections (glue)",
                        wallSeconds * 1000 / n, otherSeconds * 1000 / n),
                 "", "   fwd ms    bwd ms  calls  op"]
    for e in byOp { lines.append("\(ms(e.forwardSeconds))  \(ms(e.backwardSeconds))  \(String(format: "%5d", e.calls / max(1, runs)))  \(e.name)") }
    lines += ["", "   fwd ms    bwd ms  calls  op  output shape   (top \(top))"]
    for e in entries.prefix(top) {
      lines.append("\(ms(e.forwardSeconds))  \(ms(e.backwardSeconds))  \(String(format: "%5d", e.calls / max(1, runs)))  \(e.name)  \(e.shape)")
    }
    return lines.joined(separator: "\n")
  }
}

/// The process-wide op profiler. It records the ops of the thread that turned it on (a training step's ops run
/// on its calling thread; the kernels' own worker threads are inside them), so other threads' work, such as
/// tests running beside it, never lands in its table.
public enum OpProfiler {
  private struct Key: Hashable { let name: String; let shape: [Int] }
  private final class State: @unchecked Sendable {
    let lock = NSLock()
    var enabled = false
    var owner = pthread_self()
    var lastMark = 0.0
    var started = 0.0
    var table: [Key: OpProfileEntry] = [:]
  }
  private static let state = State()

  /// Whether this thread's ops are being timed (read without the lock: a stale read only skips or adds one
  /// sample).
  @inline(__always) static var isEnabled: Bool { state.enabled && pthread_equal(state.owner, pthread_self()) != 0 }

  /// Runs `body` with the profiler on and returns its result and the profile.
  public static func profile<T>(_ body: () throws -> T) rethrows -> (T, OpProfile) {
    begin()
    var finished = false
    defer { if !finished { _ = end() } }
    let value = try body()
    finished = true
    return (value, end())
  }

  /// Turns the profiler on with an empty table (for spans that a closure cannot wrap; pair with `end`).
  public static func begin() {
    state.lock.lock()
    state.table = [:]
    state.started = clock()
    state.lastMark = state.started
    state.owner = pthread_self()
    state.enabled = true
    state.lock.unlock()
  }

  /// Turns the profiler off and returns what it measured since `begin`.
  public static func end() -> OpProfile {
    let t = clock()
    state.lock.lock()
    defer { state.lock.unlock() }
    state.enabled = false
    let entries = state.table.values.sorted { $0.totalSeconds > $1.totalSeconds }
    return OpProfile(wallSeconds: t - state.started, entries: entries)
  }

  /// Called when an op has produced its output: charges the time since the previous mark to its forward.
  static func forwardDone(_ op: Op, shape: [Int]) {
    let t = clock()
    state.lock.lock()
    defer { state.lock.unlock() }
    let key = Key(name: op.rawValue, shape: shape)
    var e = state.table[key] ?? OpProfileEntry(name: op.rawValue, shape: shape)
    e.calls += 1
    e.forwardSeconds += t - state.lastMark
    state.table[key] = e
    state.lastMark = t
  }

  /// Times one op's backward pass.
  static func backward(_ op: Op, shape: [Int], _ body: () -> Void) {
    let t0 = clock()
    body()
    let t = clock()
    state.lock.lock()
    defer { state.lock.unlock() }
    let key = Key(name: op.rawValue, shape: shape)
    var e = state.table[key] ?? OpProfileEntry(name: op.rawValue, shape: shape)
    e.backwardSeconds += t - t0
    state.table[key] = e
    state.lastMark = t
  }

  /// Runs `body` as a named section (e.g. the optimizer's update): its time is its own row, not charged to
  /// the next op, and ops inside it are not recorded separately. When the profiler is off this is `body()`.
  public static func section<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
    guard isEnabled else { return try body() }
    // Ops inside the section are not recorded on their own: the section's row holds all of its time.
    state.lock.lock()
    state.enabled = false
    state.lock.unlock()
    let t0 = clock()
    defer {
      state.lock.lock()
      state.enabled = true
      state.lock.unlock()
    }
    let value = try body()
    let t = clock()
    state.lock.lock()
    defer { state.lock.unlock() }
    let key = Key(name: name, shape: [])
    var e = state.table[key] ?? OpProfileEntry(name: name, shape: [])
    e.calls += 1
    e.forwardSeconds += t - t0
    state.table[key] = e
    state.lastMark = t
    return value
  }

  private static func clock() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
  }
}
