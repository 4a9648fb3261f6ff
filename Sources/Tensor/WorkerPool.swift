// The threads `parallelFor` and `gemm` split work over: `Threads.count - 1` long-lived workers beside the
// calling thread. A training step issues hundreds of small parallel ops back to back; waking a sleeping
// thread for each (what DispatchQueue.concurrentPerform does) cost more than many of them compute, e.g. 0.27 ms
// for an add over [96, 16, 128] that takes 0.05 ms on one thread. So a worker spins for a short while after
// each part before it sleeps, and the next op finds it awake.

import Foundation
import Synchronization

/// A fixed set of worker threads, each with its own mailbox: the caller writes a part into an idle worker's
/// mailbox and marks it assigned; the worker runs it and marks it done. One caller at a time: a call made
/// while the pool is busy (from inside a part, or from another thread) runs inline instead.
final class WorkerPool: @unchecked Sendable {
  /// The process's pool, with `Threads.count - 1` workers.
  static let shared = WorkerPool(workers: Threads.cached - 1)

  /// How long an idle worker spins before it sleeps.
  static let spinNanoseconds: UInt64 = 200_000

  private enum State {
    static let idle = 0, assigned = 1, done = 2, sleeping = 3
  }

  /// One worker's mailbox. `part` and `body` are written by the caller only while the state is idle or
  /// sleeping, and read by the worker only between assigned and done.
  private final class Mailbox: @unchecked Sendable {
    let state = Atomic<Int>(State.idle)
    let wake = NSCondition()
    var part = 0
    var body: ((Int) -> Void)?
  }

  private let mailboxes: [Mailbox]
  private let busy = Atomic<Bool>(false)

  /// The number of worker threads (besides the caller's).
  var workers: Int { mailboxes.count }

  init(workers: Int) {
    mailboxes = (0..<max(0, workers)).map { _ in Mailbox() }
    for mailbox in mailboxes {
      let thread = Thread { WorkerPool.serve(mailbox) }
      thread.name = "blip2lab-worker"
      thread.start()
    }
  }

  /// Runs `body(part)` for every part in `0..<parts` (at most `workers + 1`): part 0 on the calling thread, the
  /// others on the workers, and returns when all are done. Returns false without running anything when the
  /// pool is busy or too small; the caller then runs the parts itself.
  func run(parts: Int, _ body: (Int) -> Void) -> Bool {
    guard parts >= 2, parts <= mailboxes.count + 1,
          busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
    withoutActuallyEscaping(body) { body in
      for index in 1..<parts { assign(mailboxes[index - 1], part: index, body: body) }
      body(0)
      for index in 1..<parts {
        let mailbox = mailboxes[index - 1]
        while mailbox.state.load(ordering: .acquiring) != State.done {}
        mailbox.body = nil
        mailbox.state.store(State.idle, ordering: .releasing)
      }
    }
    busy.store(false, ordering: .releasing)
    return true
  }

  private func assign(_ mailbox: Mailbox, part: Int, body: @escaping (Int) -> Void) {
    mailbox.part = part
    mailbox.body = body
    if !mailbox.state.compareExchange(expected: State.idle, desired: State.assigned, ordering: .releasing).exchanged {
      // The worker went to sleep: wake it under its lock, so the signal cannot fall between its check and its wait.
      mailbox.wake.lock()
      mailbox.state.store(State.assigned, ordering: .releasing)
      mailbox.wake.signal()
      mailbox.wake.unlock()
    }
  }

  /// A worker's loop: wait for a part (spinning, then sleeping), run it, report it done.
  private static func serve(_ mailbox: Mailbox) {
    while true {
      var spins = 0
      var deadline = DispatchTime.now().uptimeNanoseconds + spinNanoseconds
      while mailbox.state.load(ordering: .acquiring) != State.assigned {
        spins += 1
        guard spins & 255 == 0, DispatchTime.now().uptimeNanoseconds > deadline else { continue }
        mailbox.wake.lock()
        if mailbox.state.compareExchange(expected: State.idle, desired: State.sleeping,
                                         ordering: .acquiringAndReleasing).exchanged {
          while mailbox.state.load(ordering: .acquiring) == State.sleeping { mailbox.wake.wait() }
        }
        mailbox.wake.unlock()
        deadline = DispatchTime.now().uptimeNanoseconds + spinNanoseconds
      }
      mailbox.body?(mailbox.part)
      mailbox.state.store(State.done, ordering: .releasing)
    }
  }
}
