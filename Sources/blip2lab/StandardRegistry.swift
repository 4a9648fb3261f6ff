// The registry of every built-in plugin: one registration line per component family.

import Blip2Core
import DecoderLM
import EncoderDecoderLM
import Shapes

/// All built-in components, by family and name.
func makeStandardRegistry() throws -> Registry {
  var registry = Registry()
  try ShapesPlugin.register(into: &registry)
  try DecoderLMPlugin.register(into: &registry)
  try EncoderDecoderLMPlugin.register(into: &registry)
  return registry
}

/// The built-in tokenizer: the Shapes grammar's words plus those of the VQA prompt ("Question: ... Answer:").
func builtInTokenizer() -> WordTokenizer {
  WordTokenizer(words: Array(Set(ShapesDataset.vocabulary + ["question", "answer", ":"])).sorted())
}
