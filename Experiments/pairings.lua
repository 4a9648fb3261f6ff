-- Which image encoder with which language model? Every pairing of the encoders {ViT, ConvNet} and the LMs
-- {decoder-only, encoder-decoder} (and the bridges the registry holds: the Q-Former) trained through both
-- stages, with retrieval, captioning and zero-shot VQA, trainable and total parameters, and wall time.
--
--   .build/release/blip2lab run Experiments/pairings.lua             about 21 min on an idle 2-core machine*
--   .build/release/blip2lab run Experiments/pairings.lua --dry-run   a few seconds: checks the script
--   .build/release/blip2lab run Experiments/pairings.lua --set seeds=3 --set stage1Steps=600
--   * estimated from measured CPU time per step (stage 1 0.46 s, stage 2 0.23 s at batch 32; ViT
--     pre-training 0.4 s, skipped when quickstart.lua has cached it); a machine shared with other jobs takes longer.
--
-- wallSeconds is what the pairing's own runs took (stage 1, stage 2, evaluation; the frozen parts are
-- pre-trained once, before the sweep). Results in runs/pairings/pairings/: summary.md/.csv/.json,
-- runs.csv/.json, loss-*.svg.

local sandbox = require "lib.sandbox"

local stage1Steps = lab.option("stage1Steps", 300, "stage-1 steps")
local stage2Steps = lab.option("stage2Steps", 300, "stage-2 steps")
local rerank = lab.option("rerank", 16, "ITM re-ranks the ITC top-k candidates")

local data = sandbox.data()
local encoders = { vit = sandbox.encoder("vit"), convnet = sandbox.encoder("convnet") }
local lms = { decoder = sandbox.lm("decoder"), encoderDecoder = sandbox.lm("encoderDecoder") }
local bridges = { qformer = sandbox.qformer }

local variants = {}
for _, encoder in ipairs{ "vit", "convnet" } do
  for _, lm in ipairs{ "decoder", "encoderDecoder" } do
    for _, bridge in ipairs{ "qformer" } do
      variants[#variants + 1] = { name = encoder .. " + " .. bridge .. " + " .. lm, encoder = encoder, lm = lm, bridge = bridge }
    end
  end
end

local results = lab.sweep{
  name = "pairings",
  seeds = sandbox.seeds(1),   -- --set seeds=n: seeds 1...n
  variants = variants,
  run = function(variant, seed)
    local encoder = encoders[variant.encoder]
    local model = lab.compose{ encoder = encoder, lm = lms[variant.lm], seed = seed,
                               bridge = bridges[variant.bridge]{ seed = seed, imageWidth = encoder:featureDim() } }
    local total, trainable = model:parameters()
    local run = lab.run{ name = variant.name, model = model, data = data, seed = seed }
    run:stage1{ steps = stage1Steps, batch = 32, lr = 1e-3 }
    run:stage2{ steps = stage2Steps, batch = 32, lr = 1e-3 }
    local m = run:evaluate{ tasks = { "retrieval", "caption", "vqa" }, rerank = rerank }
    return {
      ["i2t R@1"] = m["retrieval.r1ImageToText"], ["t2i R@1"] = m["retrieval.r1TextToImage"],
      ["CIDEr"] = m["caption.cider"], ["VQA"] = m["vqa.accuracy"],
      ["params.total"] = total, ["params.trainable"] = trainable,
    }
  end,
}
print(results)
