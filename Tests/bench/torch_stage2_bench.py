#!/usr/bin/env python3
"""PyTorch (CPU, float32) baseline for `blip2lab bench stage2`: one BLIP-2 stage-2 training step of a
decoder-only LM (LAVIS's blip2_opt): the Q-Former's query pass over frozen image features, a linear projection
to the LM's width, the projected queries as a soft prompt before [BOS] caption [EOS] in a frozen OPT, the
captioning loss (labels on the caption and [EOS] only), backward through the frozen LM, AdamW on the Q-Former
and the projection.

    python3 Tests/bench/torch_stage2_bench.py --threads N --config sandbox|paper [--json]

Configs (same as the Swift bench):
  sandbox: Q-Former hidden 256, 4 layers, 32 queries, 197 image tokens of width 384; OPT-style LM width 256,
           4 layers, 4 heads, ffn 1024; caption 16-32 tokens; batch 16
  paper:   Q-Former hidden 768, 12 layers, 257 image tokens of width 1024; LM of OPT-125m's shape (width 768,
           12 layers, 12 heads, ffn 3072); batch 8
Both: LM vocabulary 50272 (OPT's), Q-Former vocabulary 30523 (its word embeddings exist but the query pass does
not read them), cross-attention every 2 layers, AdamW (betas 0.9/0.98, weight decay 0.05). The LM is
transformers' OPTForCausalLM (as LAVIS runs it; SDPA attention) when transformers is importable, else the same
model written here with F.scaled_dot_product_attention.

Prints ms per step and samples/s; with --json the last line is {"torch", "threads", "config", "lm",
"ms_per_step", "samples_per_s"}. Needs torch; not run by CI.
"""

import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_stage1_bench import QFormer, parse_args, report  # noqa: E402  (the stage-1 baseline's Q-Former)

CONFIGS = {
    "sandbox": dict(hidden=256, layers=4, heads=4, ffn=1024, queries=32, image_tokens=197, image_width=384,
                    lm_width=256, lm_layers=4, lm_heads=4, lm_ffn=1024, text=32, batch=16),
    "paper": dict(hidden=768, layers=12, heads=12, ffn=3072, queries=32, image_tokens=257, image_width=1024,
                  lm_width=768, lm_layers=12, lm_heads=12, lm_ffn=3072, text=32, batch=8),
}
LM_VOCAB, PAD, BOS, EOS = 50272, 1, 2, 2


class OPTBlock(nn.Module):
    """Pre-LN OPT decoder layer (ReLU feed-forward)."""

    def __init__(self, width, heads, ffn):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.out = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.fc1, self.fc2 = nn.Linear(width, ffn), nn.Linear(ffn, width)

    def forward(self, x, mask):
        b, t, w = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.out(a.transpose(1, 2).reshape(b, t, w))
        return x + self.fc2(F.relu(self.fc1(self.ln2(x))))


class OPT(nn.Module):
    """OPT-style decoder LM taking input embeddings (the fallback when transformers is absent)."""

    def __init__(self, c):
        super().__init__()
        w = c["lm_width"]
        self.embed_tokens = nn.Embedding(LM_VOCAB, w)
        self.pos = nn.Embedding(2050, w)
        self.blocks = nn.ModuleList([OPTBlock(w, c["lm_heads"], c["lm_ffn"]) for _ in range(c["lm_layers"])])
        self.final = nn.LayerNorm(w)

    def get_input_embeddings(self):
        return self.embed_tokens

    def forward(self, inputs_embeds, attention_mask, labels):
        b, t, _ = inputs_embeds.shape
        positions = (attention_mask.cumsum(1) - 1).clamp(min=-1) + 2
        x = inputs_embeds + self.pos(positions)
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        mask = (causal[None] & attention_mask.bool()[:, None, :])[:, None]
        for block in self.blocks:
            x = block(x, mask)
        logits = F.linear(self.final(x), self.embed_tokens.weight)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, LM_VOCAB), labels[:, 1:].reshape(-1), ignore_index=-100)
        return loss


def make_lm(c):
    try:
        from transformers import OPTConfig, OPTForCausalLM
    except ImportError:
        return OPT(c), "written here (SDPA)"
    config = OPTConfig(vocab_size=LM_VOCAB, hidden_size=c["lm_width"], num_hidden_layers=c["lm_layers"],
                       num_attention_heads=c["lm_heads"], ffn_dim=c["lm_ffn"], max_position_embeddings=2048,
                       word_embed_proj_dim=c["lm_width"], dropout=0.0, attention_dropout=0.0,
                       pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS)
    model = OPTForCausalLM(config)
    try:
        model.config._attn_implementation = "sdpa"
    except Exception:
        pass
    return model, "transformers OPTForCausalLM (sdpa)"


def lm_loss(lm, embeds, attention_mask, labels):
    out = lm(inputs_embeds=embeds, attention_mask=attention_mask, labels=labels)
    return out if torch.is_tensor(out) else out.loss


def step(qformer, projection, lm, opt, image_feats, ids, valid, labels):
    c = qformer.c
    B = ids.shape[0]
    image = qformer.ln_vision(image_feats)
    queries = qformer.query_tokens.expand(B, -1, -1)
    q_out, _ = qformer.run(qformer.embed(queries=queries), c["queries"], image)
    prompt = projection(q_out)                                            # [B, Q, lm_width]
    text = lm.get_input_embeddings()(ids)                                 # [B, T, lm_width]
    embeds = torch.cat([prompt, text], 1)
    attention_mask = torch.cat([torch.ones(B, c["queries"], dtype=torch.long), valid.long()], 1)
    full_labels = torch.cat([torch.full((B, c["queries"]), -100, dtype=torch.long), labels], 1)
    loss = lm_loss(lm, embeds, attention_mask, full_labels)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def main():
    args = parse_args(__doc__, CONFIGS)
    c = CONFIGS[args.config]
    qformer = QFormer(c)
    projection = nn.Linear(c["hidden"], c["lm_width"])
    lm, lm_name = make_lm(c)
    lm.eval()
    for p in lm.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(list(qformer.parameters()) + list(projection.parameters()), lr=1e-4,
                            betas=(0.9, 0.98), weight_decay=0.05)
    B, L = c["batch"], c["text"]
    image_feats = torch.randn(B, c["image_tokens"], c["image_width"])
    # [BOS] caption [EOS], captions of L/2..L tokens, right-padded; labels on the caption and [EOS].
    lengths = torch.randint(L // 2, L + 1, (B,))
    T = L + 2
    ids = torch.full((B, T), PAD, dtype=torch.long)
    labels = torch.full((B, T), -100, dtype=torch.long)
    for b in range(B):
        n = int(lengths[b])
        caption = torch.randint(1000, 50000, (n,))
        ids[b, 0], ids[b, 1:n + 1], ids[b, n + 1] = BOS, caption, EOS
        labels[b, 1:n + 2] = ids[b, 1:n + 2]
    valid = ids != PAD
    valid[:, 0] = True
    report(args, "stage-2", B, lambda: step(qformer, projection, lm, opt, image_feats, ids, valid, labels), lm=lm_name)


if __name__ == "__main__":
    main()
