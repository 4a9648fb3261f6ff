// `blip2lab forward --checkpoint DIR --input IN.safetensors --output OUT.safetensors [--part vision|qformer|lm|model]`:
// a loaded checkpoint (a whole BLIP-2 folder, a vision tower or a language model) run on stored inputs, its outputs
// stored, for inspection and comparison with transformers (`Blip2Forward` says what each part reads and writes).

import ArgumentParser
import Blip2Checkpoints
import Foundation
import Tensor

/// `blip2lab forward`.
struct ForwardCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "forward",
    abstract: "Run a checkpoint's vision tower, Q-Former, language model or whole BLIP-2 model on stored inputs.",
    discussion: """
      The checkpoint is a Hugging Face folder: a whole BLIP-2 model (Blip2ForConditionalGeneration: every part; \
      default: model), a vision tower (CLIP, ViT, BLIP-2 vision: the vision part) or an OPT, GPT-2 or T5 language \
      model (the lm part). Inputs and outputs are safetensors tensors named as transformers names them; each part's \
      outputs are the next one's inputs:
        vision   pixel_values [B,3,S,S] (normalized)              -> image_features [B,N,W] (before post_layernorm)
        qformer  image_features                                  -> query_output [B,Q,H], language_model_inputs [B,Q,D]
        lm       input_ids [B,T] (I64, special tokens included), attention_mask, language_model_inputs (optional),
                 decoder_input_ids + decoder_attention_mask (T5)  -> logits, encoder_last_hidden_state (T5)
        model    pixel_values, input_ids, attention_mask, decoder_input_ids (T5)
                                                                 -> all of the above
      With model, input_ids may start with the image tokens transformers' processor puts there (they are dropped: \
      the soft prompt takes their place). Padding must be on the right. A tensor a part does not read is an error. \
      The output is written atomically, as F32.
      Example: blip2lab forward --checkpoint blip2-opt-2.7b --input in.safetensors --output out.safetensors --part qformer
      """)

  @Option(help: "The checkpoint folder (config.json, model.safetensors or a sharded index, tokenizer.json).")
  var checkpoint: String

  @Option(help: "The safetensors file of inputs.")
  var input: String

  @Option(help: "The safetensors file to write the outputs to.")
  var output: String

  @Option(help: "vision, qformer, lm or model (default: model for a whole BLIP-2 folder, else the part it holds).")
  var part: String?

  func validate() throws {
    if let part, ForwardPart(rawValue: part) == nil {
      throw ValidationError("--part must be one of " + ForwardPart.allCases.map(\.rawValue).joined(separator: ", ")
        + ", got \"\(part)\".")
    }
  }

  func run() throws {
    do {
      let outputs = try Blip2Forward.run(checkpoint: URL(fileURLWithPath: checkpoint), part: part,
                                         input: URL(fileURLWithPath: input), output: URL(fileURLWithPath: output))
      for (name, tensor) in outputs { print("\(name) \(tensor.shape)") }
      print("wrote \(output)")
    } catch {
      FileHandle.standardError.write(Data("error: \(error.localizedDescription)\n".utf8))
      throw ExitCode.failure
    }
  }
}
