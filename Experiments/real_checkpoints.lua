-- Real checkpoints: how whole BLIP-2 checkpoints do on the built-in Shapes data, and which Hugging Face vision
-- tower goes best with which language model. Put checkpoint folders (config.json, model.safetensors or a sharded
-- model.safetensors.index.json, and tokenizer.json for language models; nothing is downloaded) in the folder
-- --set checkpoints=DIR names (default: checkpoints/), one folder each:
--   * whole BLIP-2 models (Blip2ForConditionalGeneration with OPT or FlanT5, e.g. Salesforce/blip2-opt-2.7b):
--     evaluated as they are, zero-shot captions and VQA ("Question: ... Answer:") on Shapes test images;
--   * vision towers (CLIPVisionModel, ViTModel, Blip2VisionModel) and language models (OPT, GPT-2, T5 / FlanT5),
--     and the tower and LM inside each BLIP-2 folder: every tower x LM pairing gets a fresh Q-Former trained
--     briefly (stage 1, then stage 2) on Shapes, then retrieval, captions and VQA (--set pairs=false skips them).
-- One table compares them all (printed, and written to runs/real_checkpoints/comparison.md). With no checkpoint
-- folder there, the script says what to put there and ends successfully.
--
--   .build/release/blip2lab run Experiments/real_checkpoints.lua --set checkpoints=/data/hf
--   .build/release/blip2lab run Experiments/real_checkpoints.lua --dry-run       (checks the script)
--   --set images=32 --set stage1Steps=200 --set stage2Steps=200 --set trainImages=512 --set queries=16
--
-- Time and memory: dominated by the frozen parts, held as F32 (4 bytes per parameter: ViT-g ~4 GB, OPT-2.7B
-- ~10.8 GB, FlanT5-XL ~12 GB; see the README), all loaded at once: keep the folder to what fits in memory. Each
-- image goes through a tower once (features are cached); each stage-2 step and each generated token runs the LM.
-- Caveats: Shapes draws 32...224-pixel images, so a tower of another size is skipped; pixels are Shapes' [0, 1]
-- values, not normalized with the tower's preprocessor mean/std; the pairings' Q-Formers are trained for minutes,
-- not BLIP-2's days, so compare pairings with each other, not with the whole checkpoints.

local folder = lab.option("checkpoints", "checkpoints", "folder holding Hugging Face checkpoint folders")
local images = lab.option("images", 16, "Shapes test images each model is evaluated on")
local pairings = lab.option("pairs", true, "pair every vision tower with every language model (fresh Q-Former)")
local trainImages = lab.option("trainImages", 256, "Shapes training images for the pairings' Q-Formers")
local stage1Steps = lab.option("stage1Steps", 100, "stage-1 steps of each pairing's Q-Former")
local stage2Steps = lab.option("stage2Steps", 100, "stage-2 steps of each pairing's Q-Former")
local batch = lab.option("batch", 8, "batch size of the pairings' training")
local queries = lab.option("queries", 32, "queries of the pairings' Q-Formers (the paper's 32)")

local output = lab.folder() .. "/comparison.md"
local found = lab.checkpoints(folder)
if #found == 0 then
  local message = ("real_checkpoints: no checkpoint in '%s' (missing or empty). Put Hugging Face folders there, "
    .. "one each: whole BLIP-2 models (Blip2ForConditionalGeneration, OPT or FlanT5), vision towers "
    .. "(CLIPVisionModel, ViTModel) or language models (OPT, GPT-2, T5/FlanT5), each with config.json and "
    .. "model.safetensors (LMs also tokenizer.json); or --set checkpoints=DIR. Nothing to compare."):format(folder)
  print(message)
  local file = assert(io.open(output, "w"))
  file:write(message, "\n")
  file:close()
  return
end

-- Shapes at each tower's image size (one dataset per size).
local datasets = {}
local function shapes(size)
  if size == nil or size < 32 or size > 224 then return nil end
  datasets[size] = datasets[size] or lab.data.shapes{ train = trainImages, val = 0, test = images, imageSize = size, seed = 1 }
  return datasets[size]
end

local function skipped(size)
  return ("image size %s: Shapes draws 32...224"):format(tostring(size))
end

local rows = {}
local function add(row, started)
  row.seconds = os.time() - started
  rows[#rows + 1] = row
  print(("%s: %s"):format(row.model, row.note or ("CIDEr %.3f, VQA %.1f"):format(row.CIDEr or 0, row.VQA or 0)))
end

-- Evaluates `run`, filling the row's metrics.
local function evaluate(row, run, tasks)
  local m = run:evaluate{ tasks = tasks, limit = images, rerank = 8 }
  row.CIDEr, row["BLEU-4"], row.VQA = m["caption.cider"], m["caption.bleu4"], m["vqa.accuracy"]
  row["i2t R@1"] = m["retrieval.r1ImageToText"]
end

-- Whole BLIP-2 checkpoints, as trained.
local towers, lms = {}, {}
for _, c in ipairs(found) do
  if c.kind == "blip2" then
    local started = os.time()
    local row = { model = c.name, kind = "BLIP-2 (" .. (c.lm == "decoder" and "decoder LM" or "encoder-decoder LM") .. ")" }
    local data = shapes(c.imageSize)
    if data == nil then
      row.note = skipped(c.imageSize)
    else
      local ok, problem = pcall(function()
        local model = lab.blip2{ checkpoint = c.path }
        row["params.total"], row["params.trainable"] = model:parameters()
        evaluate(row, lab.run{ name = c.name, model = model, data = data }, { "caption", "vqa" })
      end)
      if not ok then row.note = tostring(problem) end
    end
    add(row, started)
  end
  if c.kind == "vision" or c.kind == "blip2" then towers[#towers + 1] = c end
  if c.kind == "decoder" or c.kind == "encoderDecoder" or c.kind == "blip2" then lms[#lms + 1] = c end
end

-- Every tower with every LM, through a fresh Q-Former trained briefly. Parts are loaded once and shared.
local encoders, languageModels = {}, {}
local function encoder(c)
  if not encoders[c.path] then
    -- A BLIP-2 tower gives the state before post_layernorm (the Q-Former's ln_vision normalizes it); CLIP and
    -- ViT towers their second-last block, as the paper.
    encoders[c.path] = c.kind == "blip2" and lab.encoder.vit{ checkpoint = c.path, featureLayer = -1 }
      or lab.encoder.vit{ checkpoint = c.path }
  end
  return encoders[c.path]
end
local function languageModel(c)
  if not languageModels[c.path] then
    local family = c.kind == "blip2" and c.lm or c.kind
    languageModels[c.path] = family == "decoder" and lab.lm.decoder{ checkpoint = c.path }
      or lab.lm.encoderDecoder{ checkpoint = c.path }
  end
  return languageModels[c.path]
end

if pairings then
  for _, t in ipairs(towers) do
    for _, l in ipairs(lms) do
      local started = os.time()
      local name = t.name .. " + " .. l.name
      local row = { model = name, kind = "pairing (Q-Former trained here)" }
      local data = shapes(t.imageSize)
      if data == nil then
        row.note = skipped(t.imageSize)
      else
        local ok, problem = pcall(function()
          local vision = encoder(t)
          local model = lab.compose{ encoder = vision, lm = languageModel(l), seed = 1,
                                     bridge = lab.bridge.qformer{ size = "sandbox", queries = queries,
                                                                 imageWidth = vision:featureDim(), seed = 1 } }
          row["params.total"], row["params.trainable"] = model:parameters()
          local run = lab.run{ name = "pair " .. t.name .. " + " .. l.name, model = model, data = data }
          run:stage1{ steps = stage1Steps, batch = batch, lr = 1e-3 }
          run:stage2{ steps = stage2Steps, batch = batch, lr = 1e-3 }
          evaluate(row, run, { "retrieval", "caption", "vqa" })
        end)
        if not ok then row.note = tostring(problem) end
      end
      add(row, started)
    end
  end
end

local columns = { "model", "kind", "CIDEr", "BLEU-4", "VQA", "i2t R@1", "params.total", "params.trainable", "seconds", "note" }
local used = {}
for _, column in ipairs(columns) do
  for _, row in ipairs(rows) do
    if row[column] ~= nil then used[#used + 1] = column break end
  end
end
local comparison = lab.table(rows, used)
print(comparison)
comparison:write(output)
print("written to " .. output)
