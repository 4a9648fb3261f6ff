-- Does bootstrapping the captions help? BLIP's CapFilt ablation (BLIP Table 1) in miniature, with BLIP-2's
-- filter: the Shapes training captions are made noisy on purpose (a fraction corrupted: a wrong colour, a
-- wrong shape, a wrong relation, another image's caption), a model is pre-trained on them (stage 1 + stage 2),
-- and that model then bootstraps the data for a fresh model:
--   none                 the fresh model is the one trained on the noisy captions
--   captioner            its captioner adds `samples` nucleus-sampled captions per image, nothing dropped
--   filter               no synthetic captions; its ITC keeps the `keep` best original captions per image
--   captioner + filter   the original and synthetic captions ranked by ITC, the best `keep` kept (BLIP-2's recipe)
-- Each variant over seeds 1, 2, 3 (the seed draws the Q-Former's weights and the training order; each seed
-- bootstraps with its own "none" model); test-split retrieval, captioning and zero-shot VQA on clean captions.
--
--   .build/release/blip2lab run Experiments/ablation_capfilt.lua             27 min on an idle 2-core machine*
--   .build/release/blip2lab run Experiments/ablation_capfilt.lua --set seeds=1   about 9 min
--   .build/release/blip2lab run Experiments/ablation_capfilt.lua --dry-run   a few seconds: checks the script
--   .build/release/blip2lab run Experiments/ablation_capfilt.lua --set noise=0.6 --set stage1Steps=800
--   (--set method=itm filters by ITM probability > 0.5, BLIP's rule; an ITM head that has not learned scores
--   every caption about 0.33, keeps none, and CapFilt stops with an error saying so)
--   * measured 2026-12-03 (26 min 56 s): 12 trainings of stage1Steps + stage2Steps (~1.8 min each with
--     evaluation; the CapFilt variants restore their seed's "none" run from its files) and 3 CapFilt passes
--     (~45 s each) over the training images; the frozen parts come from runs/cache when another script made
--     them (Experiments/lib/sandbox.lua), otherwise add about 3 minutes. With 250 + 150 steps the noisy-caption
--     model stayed at chance and its filter was random; 500 + 300 gives a filter above chance in every seed
--     (precision 47-49% vs 40.8% for random drops) and fits three seeds in 30 minutes.
--
-- BLIP finds captioner + filter better than either alone, and either better than none (its Table 1, on web
-- data). Expect the miniature to be limited by how good its captioner and filter are: the quickstart model is
-- weak (see the README), and the filter's precision and recall on the known corruptions say how weak.
--
-- Results in runs/ablation_capfilt/capfilt/: summary.md/.csv/.json (mean, std, min, max over seeds), runs.csv/.json,
-- loss-*.svg; each bootstrapping run's folder (noisy/seed-<n>/) has capfilt-<rule>.json, the filter's report;
-- the candidates and scores are cached in runs/cache/capfilt-<key>/. A re-run restores what is done, and an
-- interrupted CapFilt resumes at its first missing chunk of images.

local sandbox = require "lib.sandbox"

local noise = lab.option("noise", 0.4, "fraction of training captions corrupted")
local stage1Steps = lab.option("stage1Steps", 500, "stage-1 steps of every model")
local stage2Steps = lab.option("stage2Steps", 300, "stage-2 steps of every model")
local samples = lab.option("samples", 5, "synthetic captions per image (nucleus sampling, p = 0.9)")
local keep = lab.option("keep", 2, "captions kept per image by the ITC top-k filter")
local method = lab.option("method", "itc-topk", "the filter: itc-topk (BLIP-2) or itm (BLIP, threshold 0.5)")
local rerank = lab.option("rerank", 16, "ITM re-ranks the ITC top-k retrieval candidates")

local data = sandbox.data()
local vit, lm = sandbox.encoder("vit"), sandbox.lm("decoder")
-- The frozen parts learn from clean single-modality data (as BLIP-2's are given); the noise is in the pairs.
local noisy = lab.data.noisy{ data = data, fraction = noise, seed = 1 }

local function train(name, dataset, seed)
  local model = lab.compose{ encoder = vit, bridge = sandbox.qformer{ seed = seed, imageWidth = vit:featureDim() }, lm = lm }
  local run = lab.run{ name = name, model = model, data = dataset, seed = seed }
  run:stage1{ steps = stage1Steps, batch = 32, lr = 1e-3 }
  run:stage2{ steps = stage2Steps, batch = 32, lr = 1e-3 }
  return run
end

local filterOptions = method == "itm" and { method = "itm", threshold = 0.5 } or { method = "itc-topk", keep = keep }

local results = lab.sweep{
  name = "capfilt",
  seeds = sandbox.seeds(3),   -- --set seeds=n: seeds 1...n
  variants = {
    { name = "none" },
    { name = "captioner", capfilt = { samples = samples, method = "none" } },
    { name = "filter", capfilt = { samples = 0, method = filterOptions.method, keep = filterOptions.keep,
                                   threshold = filterOptions.threshold } },
    { name = "captioner + filter", capfilt = { samples = samples, method = filterOptions.method,
                                               keep = filterOptions.keep, threshold = filterOptions.threshold } },
  },
  run = function(variant, seed)
    local bootstrap = train("noisy", noisy, seed)   -- restored from its files after the first variant
    local run, report = bootstrap, {}
    if variant.capfilt then
      local options = { run = bootstrap, data = noisy }
      for key, value in pairs(variant.capfilt) do options[key] = value end
      local bootstrapped
      bootstrapped, report = lab.capfilt(options)
      run = train(variant.name, bootstrapped, seed)
    end
    local m = run:evaluate{ tasks = { "retrieval", "caption", "vqa" }, rerank = rerank }
    return {
      ["i2t R@1"] = m["retrieval.r1ImageToText"], ["t2i R@1"] = m["retrieval.r1TextToImage"],
      ["i2t R@5"] = m["retrieval.r5ImageToText"], ["t2i R@5"] = m["retrieval.r5TextToImage"],
      ["CIDEr"] = m["caption.cider"], ["BLEU-4"] = m["caption.bleu4"], ["VQA"] = m["vqa.accuracy"],
      ["captions dropped"] = report.dropped or 0, ["filter precision"] = report.precision,
      ["filter recall"] = report.recall,
    }
  end,
}
print(results)
