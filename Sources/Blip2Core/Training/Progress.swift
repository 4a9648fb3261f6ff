// Progress bars for training phases: redrawn in place on a terminal, every 10% otherwise (logs, CI).

import Foundation

/// Prints a phase's progress with the latest losses and an ETA.
public final class ProgressPrinter: @unchecked Sendable {
  private let title: String
  private let interactive: Bool
  private let write: (String) -> Void
  private var start: Date?
  private var lastDecile = -1

  /// A printer for `title`; `write` receives whole lines (or, on a terminal, carriage-return updates).
  public init(title: String, write: @escaping (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
    self.title = title
    self.interactive = isatty(STDERR_FILENO) != 0
    self.write = write
  }

  /// Reports a completed step.
  public func update(_ report: StepReport) {
    if start == nil { start = Date() }
    let done = report.step + 1
    let fraction = Double(done) / Double(Swift.max(report.totalSteps, 1))
    let elapsed = Date().timeIntervalSince(start ?? Date())
    let remaining = done > 0 ? elapsed / Double(done) * Double(report.totalSteps - done) : 0
    let losses = report.losses.keys.sorted().filter { $0 != "total" || report.losses.count == 1 }
      .map { String(format: "%@ %.3f", $0, Double(report.losses[$0] ?? 0)) }.joined(separator: "  ")
    let width = 24
    let filled = Int(fraction * Double(width))
    let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
    let line = "\(title) [\(bar)] \(done)/\(report.totalSteps)  \(losses)  ETA \(Self.clock(remaining))"
    if interactive {
      write("\r\u{1B}[K" + line + (done == report.totalSteps ? "\n" : ""))
    } else {
      let decile = Int(fraction * 10)
      if decile != lastDecile || done == report.totalSteps {
        lastDecile = decile
        write(line + "\n")
      }
    }
  }

  /// 75 s as "1:15".
  static func clock(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
  }
}
