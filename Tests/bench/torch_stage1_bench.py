#!/usr/bin/env python3
"""PyTorch (CPU, float32) baseline for `blip2lab bench stage1`: one BLIP-2 stage-1 training step
(ITC + ITM with hard negatives + ITG, then AdamW), written the way LAVIS computes it and the way a competent
PyTorch user would write it (fused SDPA, no per-token Python loops).

    python3 Tests/bench/torch_stage1_bench.py --threads N --config sandbox|paper [--json]

Configs (same as the Swift bench):
  sandbox: hidden 256, 4 layers, 4 heads, ffn 1024, 32 queries, 197 image tokens of width 384, text 32, batch 16
  paper:   hidden 768, 12 layers, 12 heads, ffn 3072, 32 queries, 257 image tokens of width 1024, text 32, batch 8
Both: vocabulary 30523 (BERT's 30522 + [DEC]), cross-attention every 2 layers, ITC/ITG label smoothing 0.1,
AdamW (betas 0.9/0.98, weight decay 0.05). Frozen image features are inputs (cached, as the frozen encoder
allows). ITG reuses the image pass's query keys/values (LAVIS's past_key_values).

Prints ms per step and samples/s; with --json the last line is {"torch", "threads", "config", "ms_per_step",
"samples_per_s"}. Needs torch; not run by CI.
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    "sandbox": dict(hidden=256, layers=4, heads=4, ffn=1024, queries=32, image_tokens=197, image_width=384,
                    text=32, batch=16),
    "paper": dict(hidden=768, layers=12, heads=12, ffn=3072, queries=32, image_tokens=257, image_width=1024,
                  text=32, batch=8),
}
VOCAB, DEC, CROSS_EVERY, EMBED = 30523, 30522, 2, 256


def heads_split(x, h):  # [B, T, H*D] -> [B, H, T, D]
    b, t, w = x.shape
    return x.view(b, t, h, w // h).transpose(1, 2)


def heads_merge(x):  # [B, H, T, D] -> [B, T, H*D]
    b, h, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, h * d)


class Attention(nn.Module):
    def __init__(self, hidden, heads, kv_width=None):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(hidden, hidden)
        self.k = nn.Linear(kv_width or hidden, hidden)
        self.v = nn.Linear(kv_width or hidden, hidden)
        self.o = nn.Linear(hidden, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, x, context=None, mask=None, past=None):
        """Post-norm attention block; `past` = (k, v) to prepend (ITG's cached query keys/values)."""
        src = x if context is None else context
        k, v = heads_split(self.k(src), self.heads), heads_split(self.v(src), self.heads)
        present = (k, v)
        if past is not None:
            k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
        a = F.scaled_dot_product_attention(heads_split(self.q(x), self.heads), k, v, attn_mask=mask)
        return self.norm(self.o(heads_merge(a)) + x), present


class FFN(nn.Module):
    def __init__(self, hidden, ffn):
        super().__init__()
        self.up, self.down, self.norm = nn.Linear(hidden, ffn), nn.Linear(ffn, hidden), nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, x):
        return self.norm(self.down(F.gelu(self.up(x))) + x)


class Layer(nn.Module):
    def __init__(self, c, cross):
        super().__init__()
        self.self_attn = Attention(c["hidden"], c["heads"])
        self.cross = Attention(c["hidden"], c["heads"], c["image_width"]) if cross else None
        self.ffn_text, self.ffn_query = FFN(c["hidden"], c["ffn"]), FFN(c["hidden"], c["ffn"])

    def forward(self, x, nq, image=None, mask=None, past=None):
        h, present = self.self_attn(x, mask=mask, past=past)
        q, t = h[:, :nq], h[:, nq:]
        if nq > 0:
            if self.cross is not None:
                q, _ = self.cross(q, context=image)
            q = self.ffn_query(q)
        if t.shape[1] > 0:
            t = self.ffn_text(t)
        return torch.cat([q, t], 1), present


class QFormer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.query_tokens = nn.Parameter(torch.randn(1, c["queries"], c["hidden"]) * 0.02)
        self.word = nn.Embedding(VOCAB, c["hidden"])
        self.pos = nn.Embedding(512, c["hidden"])
        self.emb_norm = nn.LayerNorm(c["hidden"], eps=1e-12)
        self.ln_vision = nn.LayerNorm(c["image_width"])
        self.layers = nn.ModuleList([Layer(c, i % CROSS_EVERY == 0) for i in range(c["layers"])])
        self.vision_proj, self.text_proj = nn.Linear(c["hidden"], EMBED), nn.Linear(c["hidden"], EMBED)
        self.itm_head = nn.Linear(c["hidden"], 2)
        self.lm_transform = nn.Sequential(nn.Linear(c["hidden"], c["hidden"]), nn.GELU(),
                                          nn.LayerNorm(c["hidden"], eps=1e-12))
        self.lm_bias = nn.Parameter(torch.zeros(VOCAB))
        self.temp = nn.Parameter(torch.tensor(0.07))

    def embed(self, ids=None, queries=None):
        parts = []
        if queries is not None:
            parts.append(queries)
        if ids is not None:
            parts.append(self.word(ids) + self.pos(torch.arange(ids.shape[1]))[None])
        return self.emb_norm(torch.cat(parts, 1))

    def run(self, x, nq, image=None, mask=None, pasts=None, keep=False):
        presents = []
        for i, layer in enumerate(self.layers):
            x, present = layer(x, nq, image, mask, None if pasts is None else pasts[i])
            presents.append(present)
        return x, presents


def key_mask(valid, rows):  # [B, 1, rows, T] bool from key validity [B, T]
    return valid[:, None, None, :].expand(-1, 1, rows, -1)


def step(model, opt, image_feats, ids, valid):
    c = model.c
    B, nq, L = ids.shape[0], c["queries"], ids.shape[1]
    image = model.ln_vision(image_feats)
    queries = model.query_tokens.expand(B, -1, -1)
    # image pass (queries only), keeping each layer's query keys/values for ITG
    q_out, pasts = model.run(model.embed(queries=queries), nq, image)
    image_feat = F.normalize(model.vision_proj(q_out), dim=-1)                # [B, Q, 256]
    # text pass (text only, padding mask)
    t_out, _ = model.run(model.embed(ids=ids), 0, mask=key_mask(valid, L))
    text_feat = F.normalize(model.text_proj(t_out[:, 0]), dim=-1)             # [B, 256]
    with torch.no_grad():
        model.temp.clamp_(0.001, 0.5)
    sim_q2t = torch.einsum("iqd,jd->ijq", image_feat, text_feat)
    sim_i2t = sim_q2t.max(-1).values / model.temp
    sim_t2i = torch.einsum("jd,iqd->jiq", text_feat, image_feat).max(-1).values / model.temp
    targets = torch.arange(B)
    loss_itc = (F.cross_entropy(sim_i2t, targets, label_smoothing=0.1)
                + F.cross_entropy(sim_t2i, targets, label_smoothing=0.1)) / 2
    # ITM with hard negatives sampled from the contrastive similarities
    with torch.no_grad():
        w_t2i = F.softmax(sim_t2i.clone().fill_diagonal_(-10000), 1)
        w_i2t = F.softmax(sim_i2t.clone().fill_diagonal_(-10000), 1)
        neg_img = torch.multinomial(w_t2i, 1).squeeze(1)
        neg_txt = torch.multinomial(w_i2t, 1).squeeze(1)
    ids_all = torch.cat([ids, ids, ids[neg_txt]])
    valid_all = torch.cat([valid, valid, valid[neg_txt]])
    image_all = torch.cat([image, image[neg_img], image])
    valid_joint = torch.cat([torch.ones(3 * B, nq, dtype=torch.bool), valid_all], 1)
    itm_out, _ = model.run(model.embed(ids_all, model.query_tokens.expand(3 * B, -1, -1)), nq, image_all,
                           mask=key_mask(valid_joint, nq + L))
    logits = model.itm_head(itm_out[:, :nq]).mean(1)
    labels = torch.cat([torch.ones(B, dtype=torch.long), torch.zeros(2 * B, dtype=torch.long)])
    loss_itm = F.cross_entropy(logits, labels)
    # ITG: [DEC] first; text attends to the cached query keys/values and causally to earlier text
    dec_ids = ids.clone()
    dec_ids[:, 0] = DEC
    causal = torch.ones(L, L, dtype=torch.bool).tril()
    mask = torch.cat([torch.ones(B, L, nq, dtype=torch.bool), causal[None] & valid[:, None, :]], 2)[:, None]
    g_out, _ = model.run(model.embed(ids=dec_ids), 0, mask=mask, pasts=pasts)
    scores = F.linear(model.lm_transform(g_out), model.word.weight, model.lm_bias)  # tied decoder
    labels_lm = dec_ids.masked_fill(~valid, -100)[:, 1:]
    loss_itg = F.cross_entropy(scores[:, :-1].reshape(-1, VOCAB), labels_lm.reshape(-1), ignore_index=-100,
                               label_smoothing=0.1)
    loss = loss_itc + loss_itm + loss_itg
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def parse_args(doc, configs):
    """The command line every stage bench script takes; sets torch's threads and seed."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--config", choices=sorted(configs), default="sandbox")
    ap.add_argument("--steps", type=int, default=5, help="timed steps (after 2 warm-up steps)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    return args


def report(args, phase, batch, step_fn, **extra):
    """Times `step_fn` (2 warm-up calls, then the median of --steps) and prints the figures (and JSON)."""
    for _ in range(2):
        step_fn()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step_fn()
        times.append(time.perf_counter() - t0)
    ms = statistics.median(times) * 1000
    notes = "".join(f", {k}: {v}" for k, v in extra.items())
    print(f"{phase} step ({args.config}, batch {batch}, {args.threads} threads{notes}): {ms:.1f} ms, "
          f"{batch / ms * 1000:.1f} samples/s")
    if args.json:
        print(json.dumps({"torch": torch.__version__, "threads": args.threads, "config": args.config, **extra,
                          "ms_per_step": ms, "samples_per_s": batch / ms * 1000}))


def main():
    args = parse_args(__doc__, CONFIGS)
    c = CONFIGS[args.config]
    model = QFormer(c)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.98), weight_decay=0.05)
    B, L = c["batch"], c["text"]
    image_feats = torch.randn(B, c["image_tokens"], c["image_width"])
    ids = torch.randint(1000, 30000, (B, L))
    ids[:, 0] = 101  # [CLS]
    lengths = torch.randint(L // 2, L + 1, (B,))
    valid = torch.arange(L)[None, :] < lengths[:, None]
    report(args, "stage-1", B, lambda: step(model, opt, image_feats, ids, valid))


if __name__ == "__main__":
    main()
