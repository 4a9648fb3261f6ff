-- What does ITG's mask do? Stage 1 with the paper's multimodal-causal ITG mask against two variants:
--   * queries see text: the queries may also attend to the caption. Text then reaches later text through the
--     queries (the leak check below says so), so ITG can copy instead of generating from the image;
--   * curriculum: a mask schedule written as a Lua function of the step: for the first `textOnly` steps the
--     text sees only earlier text (no image at all, plain language modelling), then the paper's mask.
-- Measured over seeds 1, 2, 3: retrieval R@1 (ITC top-k re-ranked by ITM) and the ITG loss at the last step.
--
--   .build/release/blip2lab run Experiments/mask_schedules.lua             about 22 min on an idle 2-core machine*
--   .build/release/blip2lab run Experiments/mask_schedules.lua --dry-run   a few seconds: checks the script
--   .build/release/blip2lab run Experiments/mask_schedules.lua --set steps=600 --set textOnly=200
--   * estimated from measured CPU time per step (stage 1 0.46 s, stage 2 0.23 s at batch 32; ViT
--     pre-training 0.4 s, skipped when quickstart.lua has cached it); a machine shared with other jobs takes longer.
--
-- Expect the leaking variant to reach a much lower ITG loss (it copies) without better retrieval.
-- Results in runs/mask_schedules/itg-masks/: summary.md/.csv/.json, runs.csv/.json, loss-stage1-*.svg.

local sandbox = require "lib.sandbox"

local steps = lab.option("steps", 250, "stage-1 steps")
local textOnly = lab.option("textOnly", 80, "curriculum: steps before ITG may see the image")
local rerank = lab.option("rerank", 16, "ITM re-ranks the ITC top-k candidates")

-- Masks as block rules: row segment -> column segment -> "all", "none", "causal" or "diagonal".
local queriesSeeText = { queries = { queries = "all", text = "all" }, text = { queries = "all", text = "causal" } }
local textOnlyCausal = { queries = { queries = "all" }, text = { text = "causal" } }

local small = lab.layout{ queries = 3, text = 4 }
for _, case in ipairs{ { "paper (multimodal causal)", lab.mask.itg(small) },
                       { "queries see text", lab.mask.blocks(small, queriesSeeText) } } do
  local leaks = case[2]:leaks()
  print(case[1] .. ":\n" .. case[2]:render() .. (#leaks == 0 and "no leaks\n" or table.concat(leaks, "\n") .. "\n"))
end

local data = sandbox.data()
local vit = sandbox.encoder("vit")

local results = lab.sweep{
  name = "itg-masks",
  seeds = sandbox.seeds(3),   -- --set seeds=n: seeds 1...n
  variants = {
    { name = "paper", masks = lab.schedule{} },
    { name = "queries see text", masks = lab.schedule{ itg = { default = queriesSeeText } } },
    { name = "curriculum", masks = lab.schedule{
        itg = function(step) return step < textOnly and textOnlyCausal or "multimodalCausal" end } },
  },
  run = function(variant, seed)
    local model = lab.compose{ encoder = vit, bridge = sandbox.qformer{ seed = seed, imageWidth = vit:featureDim() } }
    local run = lab.run{ name = variant.name, model = model, data = data, seed = seed }
    local losses = run:stage1{ steps = steps, batch = 32, lr = 1e-3, masks = variant.masks }
    local m = run:evaluate{ tasks = "retrieval", rerank = rerank }
    return { ["i2t R@1"] = m["retrieval.r1ImageToText"], ["t2i R@1"] = m["retrieval.r1TextToImage"], ["itg loss"] = losses.itg }
  end,
}
print(results)
