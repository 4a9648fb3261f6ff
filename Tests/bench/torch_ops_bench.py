#!/usr/bin/env python3
"""PyTorch (CPU, float32) baseline for `blip2lab bench ops`: the same shapes, done the way a competent
PyTorch user would (F.scaled_dot_product_attention, F.layer_norm, nn.Linear; no per-token Python loops).

    python3 Tests/bench/torch_ops_bench.py --threads N [--json] [--repeats R] [--min-time S]

Prints a table; with --json the last line is one JSON object:
    {"torch": "2.x", "threads": N,
     "matmul_gflops": {"MxKxN": GFLOP/s, ...},
     "attention_ms": ms, "attention_causal_ms": ms, "layernorm_ms": ms, "block_ms": ms}
Each figure: warm-up, then the median over `repeats` runs of the mean time of enough back-to-back calls to
fill `min-time` seconds. Attention, layer norm and block figures are forward + backward.

Needs torch (pip). Not run by CI.
"""

import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MATMUL_SHAPES = [(512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048),
                 (1024, 768, 3072), (2048, 256, 768), (2048, 1024, 256)]  # (M, K, N): C[M,N] = A[M,K] @ B[K,N]
ATTN = dict(batch=32, heads=4, seq=64, hidden=256)                          # head dim 64
LN_SHAPE = (32 * 64, 256)
BLOCK = dict(batch=32, seq=64, hidden=256, heads=4, intermediate=1024, eps=1e-12)


def timeit(fn, repeats, min_time, warmup=3):
    """Median (over `repeats`) of the mean seconds per call, each repeat running >= min_time seconds."""
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-6)
    iters = max(1, math.ceil(min_time / one))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        samples.append((time.perf_counter() - t0) / iters)
    return statistics.median(samples)


# --------------------------------------------------------------------------------------------- matmul
def bench_matmul(M, K, N, repeats, min_time):
    a, b = torch.randn(M, K), torch.randn(K, N)
    c = torch.empty(M, N)
    s = timeit(lambda: torch.mm(a, b, out=c), repeats, min_time)
    return 2.0 * M * K * N / s / 1e9


# ------------------------------------------------------------------------------------------ attention
def packed_sdpa(q, k, v, heads, mask):
    """q [B,Tq,H*D], k/v [B,Tk,H*D] -> [B,Tq,H*D]; mask: bool, True = may attend, broadcast over heads."""
    B, Tq, C = q.shape
    Tk = k.shape[1]
    D = C // heads
    qh = q.view(B, Tq, heads, D).transpose(1, 2)
    kh = k.view(B, Tk, heads, D).transpose(1, 2)
    vh = v.view(B, Tk, heads, D).transpose(1, 2)
    o = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=mask)
    return o.transpose(1, 2).reshape(B, Tq, C)


def bench_attention(causal, repeats, min_time):
    B, H, T, C = ATTN["batch"], ATTN["heads"], ATTN["seq"], ATTN["hidden"]
    q, k, v = (torch.randn(B, T, C, requires_grad=True) for _ in range(3))
    gout = torch.randn(B, T, C)
    mask = torch.ones(T, T, dtype=torch.bool).tril() if causal else None

    def step():
        out = packed_sdpa(q, k, v, H, mask)
        torch.autograd.grad(out, (q, k, v), gout)

    return timeit(step, repeats, min_time) * 1e3


# ----------------------------------------------------------------------------------------- layer norm
def bench_layernorm(repeats, min_time):
    n, c = LN_SHAPE
    x = torch.randn(n, c, requires_grad=True)
    w = (1 + 0.1 * torch.randn(c)).requires_grad_(True)
    b = (0.1 * torch.randn(c)).requires_grad_(True)
    gout = torch.randn(n, c)

    def step():
        out = F.layer_norm(x, (c,), w, b, eps=1e-12)
        torch.autograd.grad(out, (x, w, b), gout)

    return timeit(step, repeats, min_time) * 1e3


# ------------------------------------------------------------------------------------- BERT layer
class BertBlock(nn.Module):
    """Post-LN BERT encoder layer (Hugging Face BertLayer's math and parameter names), dropout off."""

    def __init__(self, hidden, heads, intermediate, eps):
        super().__init__()
        self.heads, self.eps = heads, eps
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
        self.attn_out = nn.Linear(hidden, hidden)
        self.attn_ln = nn.LayerNorm(hidden, eps=eps)
        self.inter = nn.Linear(hidden, intermediate)
        self.out = nn.Linear(intermediate, hidden)
        self.out_ln = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x, mask):  # mask: bool [B,1,T,T], True = may attend
        a = packed_sdpa(self.query(x), self.key(x), self.value(x), self.heads, mask)
        h = self.attn_ln(self.attn_out(a) + x)
        return self.out_ln(self.out(F.gelu(self.inter(h))) + h)


def bench_block(repeats, min_time):
    B, T, C = BLOCK["batch"], BLOCK["seq"], BLOCK["hidden"]
    block = BertBlock(C, BLOCK["heads"], BLOCK["intermediate"], BLOCK["eps"]).train()
    x = torch.randn(B, T, C, requires_grad=True)
    gout = torch.randn(B, T, C)
    lengths = torch.randint(T // 2, T + 1, (B,))                       # random key padding per sequence
    key_ok = torch.arange(T)[None, :] < lengths[:, None]               # [B,T]
    mask = key_ok[:, None, :].expand(B, T, T).contiguous()             # [B,T,T] as the Swift bench uses
    mask4 = mask[:, None]                                              # broadcast over heads

    def step():
        block.zero_grad(set_to_none=True)
        x.grad = None
        out = block(x, mask4)
        (out * gout).sum().backward()

    return timeit(step, repeats, min_time) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.3, help="seconds per repeat (at least one call)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(0)
    r, mt = args.repeats, args.min_time

    print(f"torch {torch.__version__}  threads {torch.get_num_threads()}  float32 CPU  "
          f"(median of {r} repeats, >= {mt}s each)")
    res = {"torch": torch.__version__, "threads": args.threads, "matmul_gflops": {}}
    def row(label, value, unit):
        print(f"{label:<46}{value:>10.2f} {unit}", flush=True)

    row_head = f"{'op':<46}{'value':>10}"
    print(row_head)
    print("-" * len(row_head))
    for M, K, N in MATMUL_SHAPES:
        g = bench_matmul(M, K, N, r, mt)
        res["matmul_gflops"][f"{M}x{K}x{N}"] = round(g, 2)
        row(f"matmul {M}x{K}x{N} (MxKxN)", g, "GFLOP/s")
    B, H, T, C = ATTN["batch"], ATTN["heads"], ATTN["seq"], ATTN["hidden"]
    for key, causal in (("attention_ms", False), ("attention_causal_ms", True)):
        ms = bench_attention(causal, r, mt)
        res[key] = round(ms, 3)
        row(f"attention fwd+bwd B{B} H{H} T{T} C{C}" + (" causal" if causal else ""), ms, "ms")
    ms = bench_layernorm(r, mt)
    res["layernorm_ms"] = round(ms, 3)
    row(f"layer norm fwd+bwd {LN_SHAPE[0]}x{LN_SHAPE[1]}", ms, "ms")
    ms = bench_block(r, mt)
    res["block_ms"] = round(ms, 3)
    B, T, C, I = BLOCK["batch"], BLOCK["seq"], BLOCK["hidden"], BLOCK["intermediate"]
    row(f"BERT block fwd+bwd B{B} T{T} C{C} H{BLOCK['heads']} I{I}", ms, "ms")
    if args.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
