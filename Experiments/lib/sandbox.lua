-- The miniature BLIP-2 setting the ablation scripts share, with the sizes of quickstart.lua: the built-in
-- Shapes data, frozen parts pre-trained once on one modality each (cached in runs/cache, so the second
-- script that needs a part restores it in seconds), and a small Q-Former.
--
--   local sandbox = require "lib.sandbox"
--   local data, vit, lm = sandbox.data(), sandbox.encoder("vit"), sandbox.lm("decoder")
--   local qformer = sandbox.qformer{ seed = 1, imageWidth = vit:featureDim() }
--
-- Options every script that uses it takes (--set name=value): train, encoderObjective, encoderSteps, lmSteps, seeds.

local sandbox = {}

local data
--- The Shapes data: `train` training images (option), 200 validation and 200 test images.
function sandbox.data()
  data = data or lab.data.shapes{ train = lab.option("train", 4000, "training images"), val = 200, test = 200 }
  return data
end

local encoders = {
  vit = function() return lab.encoder.vit{ size = "tiny", layers = 4 } end,          -- 64 tokens + CLS, width 192
  convnet = function() return lab.encoder.convnet{ size = "tiny" } end,               -- 8x8 cells + pooled, width 128
}
--- A frozen image encoder ("vit" or "convnet"), pre-trained without the LM: by default on the training images
--- alone (masked-patch reconstruction, 300 steps: what the README's ablation tables were measured with); with
--- --set encoderObjective=tags, by supervised tagging as the quickstart does (1,000 steps at lr 2e-3 unless
--- encoderSteps says otherwise).
function sandbox.encoder(kind)
  local make = encoders[kind] or error("sandbox.encoder: no encoder '" .. tostring(kind) .. "' (vit, convnet)", 2)
  local encoder = make()
  local objective = lab.option("encoderObjective", "masked", "how the encoders are pre-trained (masked, tags, ...)")
  local tags = objective == "tags"
  lab.pretrain.encoder{ encoder = encoder, data = sandbox.data(), batch = 32, lr = tags and 2e-3 or 1e-3,
                        objective = objective,
                        steps = lab.option("encoderSteps", tags and 1000 or 300, "pre-training steps of each encoder") }
  return encoder
end

local lms = {
  decoder = function() return lab.lm.decoder{ width = 128, layers = 3, heads = 4, feedForwardWidth = 512 } end,
  encoderDecoder = function()
    return lab.lm.encoderDecoder{ width = 128, heads = 4, feedForwardWidth = 512, encoderLayers = 2, decoderLayers = 2 }
  end,
}
--- A frozen language model ("decoder": OPT-style, or "encoderDecoder": T5-style), pre-trained on the text alone.
function sandbox.lm(kind)
  local make = lms[kind] or error("sandbox.lm: no lm '" .. tostring(kind) .. "' (decoder, encoderDecoder)", 2)
  local lm = make()
  lab.pretrain.lm{ lm = lm, data = sandbox.data(), batch = 32, lr = 1e-3,
                   steps = lab.option("lmSteps", 600, "text-only pre-training steps of each LM") }
  return lm
end

--- A fresh Q-Former for an encoder `imageWidth` wide, its weights drawn from `seed` (quickstart's sizes; see
--- quickstart.lua for why initStd is 0.1 and both layers cross-attend).
function sandbox.qformer(options)
  return lab.bridge.qformer{ size = "sandbox", hidden = 128, layers = 2, heads = 4, intermediate = 512, queries = 16,
                             embedDim = 64, initStd = 0.1, crossEvery = 1, imageWidth = options.imageWidth,
                             seed = options.seed }
end

--- The seeds 1, 2, ..., n, where n is the option `seeds` (by default `count`).
function sandbox.seeds(count)
  local seeds = {}
  for seed = 1, lab.option("seeds", count, "seeds 1...n for every variant") do seeds[seed] = seed end
  return seeds
end

return sandbox
