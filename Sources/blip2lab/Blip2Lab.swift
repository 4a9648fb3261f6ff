import ArgumentParser

/// The `blip2lab` command line.
@main
struct Blip2LabCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "blip2lab",
    abstract: "A research sandbox for BLIP-2: frozen encoders, a trainable Q-Former, scriptable ablations.",
    subcommands: [RunCommand.self, MasksCommand.self, GraphCommand.self, AttentionCommand.self, MetricsCommand.self,
                  BenchCommand.self, ForwardCommand.self, ExportCommand.self])
}
