-- The run behind the README's cross-attention picture (`make docs`): the quickstart's data and frozen ViT
-- (so the pre-trained encoder is shared through runs/cache), a Q-Former with the paper's 32 queries, and
-- stage 1 only (ITC + ITM + ITG): where the queries look is decided there. A few minutes on 2 cores.
--
--   blip2lab run Experiments/pictures.lua
--   blip2lab attention --run runs/pictures/queries/seed-1 --image shapes:test:3 --format png --out q.png

local data = lab.data.shapes{ train = 4000, val = 200, test = 200 }
local encoder = lab.encoder.vit{ size = "tiny", layers = 4 }
lab.pretrain.encoder{ encoder = encoder, data = data, steps = lab.option("encoderSteps", 300), batch = 32, lr = 1e-3 }

local model = lab.compose{
  encoder = encoder,
  bridge = lab.bridge.qformer{ size = "sandbox", hidden = 128, layers = 2, heads = 4, intermediate = 512,
                               queries = 32, embedDim = 64, imageWidth = 192, initStd = 0.1 },
}
print(model:summary())

local run = lab.run{ name = "queries", model = model, data = data, seed = 1 }
run:stage1{ steps = lab.option("stage1Steps", 400), batch = 32, lr = 1e-3 }
