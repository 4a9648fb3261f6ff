// `blip2lab export --run DIR --out DIR`: a trained run's model (rebuilt as `blip2lab attention` rebuilds it) written
// in transformers' `Blip2ForConditionalGeneration` layout, which `Blip2Checkpoint.load` and `from_pretrained` read.

import ArgumentParser
import Blip2Checkpoints
import Foundation
import LabKit

/// `blip2lab export`.
struct ExportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export",
    abstract: "Write a trained run's model as a Hugging Face BLIP-2 folder (config.json, model.safetensors, tokenizer.json).",
    discussion: """
      The run folder is one `blip2lab run` wrote (runs/<script>/<run>/seed-<n>/). Its script is re-executed up to \
      the run (nothing is trained) and the weights of its newest finished phase loaded; then the Q-Former, its \
      query tokens and the projection are written, with the vision tower and the language model when they have a \
      transformers layout (a BLIP-2-named ViT; OPT, GPT-2 or T5) and the LM's tokenizer.json when it has one. Parts \
      that cannot be written are listed (transformers would initialize them randomly). A model whose bridge is not \
      a Q-Former, or that has no language model, is refused.
      Example: blip2lab export --run runs/real_checkpoints/opt/seed-1 --out exported/opt
      """)

  @OptionGroup var rebuild: RunFolderOptions

  @Option(help: "The folder to write (created if needed; its files are replaced).")
  var out: String

  @Option(help: "image_token_index to write (an id of the LM's vocabulary; transformers' processor puts it where the queries go).")
  var imageTokenId: Int?

  func run() throws {
    do {
      let (rebuilt, report) = try RunExport.export(run: rebuild.directory, to: URL(fileURLWithPath: out),
                                                   phase: rebuild.phase, imageTokenId: imageTokenId,
                                                   script: rebuild.script, settings: rebuild.settings,
                                                   output: rebuild.output)
      print("exported \(rebuilt.name) (seed \(rebuilt.seed), \(rebuilt.phase ?? "untrained") step \(rebuilt.step ?? 0)): "
        + "\(report.tensors.count) tensors to \(out)")
      for omitted in report.omitted { print("  not written: \(omitted)") }
    } catch {
      FileHandle.standardError.write(Data("error: \(error.localizedDescription)\n".utf8))
      throw ExitCode.failure
    }
  }
}
