// LabKit: what the `blip2lab` command puts together: the registry of every built-in plugin (one
// registration line per component family), the built-in tokenizer, and a script engine ready to run
// experiments. Tests use it to run scripts end to end.

import Blip2Core
import ConvNet
import DecoderLM
import EncoderDecoderLM
import Foundation
import ImageFolder
import LinearBridge
import QFormer
import Scripting
import Shapes
import ViT

/// All built-in components, by family and name.
public func makeStandardRegistry() throws -> Registry {
  var registry = Registry()
  try ShapesPlugin.register(into: &registry)
  try ImageFolderPlugin.register(into: &registry)
  try DecoderLMPlugin.register(into: &registry)
  try EncoderDecoderLMPlugin.register(into: &registry)
  try ViTPlugin.register(into: &registry)
  try ConvNetPlugin.register(into: &registry)
  try QFormerPlugin.register(into: &registry)
  try LinearBridgePlugin.register(into: &registry)
  return registry
}

/// The built-in tokenizer: the Shapes grammar's words plus those of the VQA prompt ("Question: ... Answer:").
public func builtInTokenizer() -> WordTokenizer {
  WordTokenizer(words: Array(Set(ShapesDataset.vocabulary + ["question", "answer", ":"])).sorted())
}

/// A script engine with every built-in component, the built-in tokenizer, and `lab.compose` / `lab.run`
/// writing under `runsDirectory/<experiment>` (experiment: the script's file name without extension). With
/// `recordRuns`, each run's folder gets a `RunRecord` (`run.json`) so that `RunRebuild` can rebuild it later.
public func makeExperimentEngine(script: String, runsDirectory: URL, settings: [String] = [], dryRun: Bool = false,
                                 recordRuns: Bool = true,
                                 output: @escaping (String) -> Void = ScriptEngine.writeLine) throws -> ScriptEngine {
  let engine = try ScriptEngine(registry: try makeStandardRegistry(), settings: settings, dryRun: dryRun,
                                buildContext: BuildContext(tokenizer: builtInTokenizer()), output: output)
  let experiment = URL(fileURLWithPath: script).deletingPathExtension().lastPathComponent
  try engine.installRunFunctions(runsDirectory: runsDirectory, experiment: experiment,
                                 runMethods: ["export": RunExport.luaMethod])
  try engine.installCheckpointFunctions()
  engine.addRenderer(typeName: LabTypeName.run, AttentionMaps.renderer)
  if recordRuns {
    try engine.recordRuns(script: script, runsDirectory: runsDirectory, experiment: experiment, settings: settings)
  }
  return engine
}
