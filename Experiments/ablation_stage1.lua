-- Does stage 1 matter? BLIP-2's Figure 5 in miniature: zero-shot VQA accuracy over stage-2 training steps,
-- with and without stage-1 representation learning, for a decoder-only LM (OPT-style) and an encoder-decoder
-- LM (T5-style), over seeds 1, 2, 3.
--
--   .build/release/blip2lab run Experiments/ablation_stage1.lua             20 min measured on this 2-core machine*
--   .build/release/blip2lab run Experiments/ablation_stage1.lua --dry-run   a few seconds: checks the script
--   .build/release/blip2lab run Experiments/ablation_stage1.lua --set stage2Steps=500 --set seeds=5
--   * with the ViT and the decoder LM already cached by quickstart.lua (the encoder-decoder LM pre-trained
--     in the run), 7 of the 20 min shared with a test run; stage 1 takes 0.46 s a step, stage 2 0.23 s.
--
-- The paper finds that without stage 1 both LMs reach lower zero-shot VQA accuracy, and the decoder-only LM
-- (OPT) suffers catastrophic forgetting: its accuracy drops as stage 2 goes on. Stage 1 does not involve the
-- LM, so both LMs of one seed start stage 2 from the same stage-1 Q-Former (the second variant restores it).
-- Each stage-2 run stops `evaluations` times (stopAt) to be evaluated, then goes on; the sweep records every
-- evaluation with the step it was made at.
--
-- Results in runs/ablation_stage1/figure5/: curves.md/.csv/.json (accuracy at each evaluated step: mean, std,
-- min, max over seeds), curve-stage2-vqa.accuracy.svg (the same as a plot, with the range over seeds),
-- summary.md/.csv/.json (the final accuracy), runs.csv/.json (every seed), loss-*.svg (training curves).
-- A re-run restores what is done.

local sandbox = require "lib.sandbox"

local stage1Steps = lab.option("stage1Steps", 600, "stage-1 steps (ITC + ITM + ITG), as quickstart.lua")
local stage2Steps = lab.option("stage2Steps", 240, "stage-2 steps")
local evaluations = lab.option("evaluations", 4, "zero-shot VQA evaluations along stage 2, evenly spaced")
local testImages = lab.option("testImages", 100, "test images (with their questions) per VQA evaluation")

local data = sandbox.data()
local vit = sandbox.encoder("vit")
local lms = { decoder = sandbox.lm("decoder"), encoderDecoder = sandbox.lm("encoderDecoder") }

local results = lab.sweep{
  name = "figure5",
  seeds = sandbox.seeds(3),   -- --set seeds=n: seeds 1...n
  variants = {
    { name = "decoder, stage 1", lm = "decoder", stage1 = true },
    { name = "decoder, no stage 1", lm = "decoder", stage1 = false },
    { name = "encoder-decoder, stage 1", lm = "encoderDecoder", stage1 = true },
    { name = "encoder-decoder, no stage 1", lm = "encoderDecoder", stage1 = false },
  },
  run = function(variant, seed)
    local qformer = sandbox.qformer{ seed = seed, imageWidth = vit:featureDim() }
    if variant.stage1 then
      local stage1 = lab.run{ name = "stage 1", model = lab.compose{ encoder = vit, bridge = qformer }, data = data, seed = seed }
      stage1:stage1{ steps = stage1Steps, batch = 32, lr = 1e-3 }
    end
    local model = lab.compose{ encoder = vit, bridge = qformer, lm = lms[variant.lm], seed = seed }
    local run = lab.run{ name = variant.name, model = model, data = data, seed = seed }
    local accuracy
    for i = 1, evaluations do
      run:stage2{ steps = stage2Steps, batch = 32, lr = 1e-3, stopAt = stage2Steps * i // evaluations }
      accuracy = run:evaluate{ tasks = "vqa", limit = testImages }["vqa.accuracy"]   -- recorded with its step: the sweep plots it
    end
    return { ["vqa.accuracy"] = accuracy }
  end,
}
print(results)
