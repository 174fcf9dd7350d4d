"""Attention alone (issue 26): scaled dot-product attention forward + backward, causal, float32,
brisknet's fused kernel (keras.ops.dot_product_attention's primitive: kernels/attention.cpp)
beside PyTorch's scaled_dot_product_attention and a plain softmax(QK^T)V in PyTorch, interleaved,
the same threads. Prints milliseconds per forward + backward (medians) and the ratios.

    python benchmarks/attention.py     # BATCH=32 HEADS=8 SIZE=64 TOKENS=256 REPEATS=5
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

SIZES = {k: int(os.environ.get(k, v)) for k, v in dict(BATCH=32, HEADS=8, SIZE=64, TOKENS=256, REPEATS=5).items()}


def main():
    import torch
    import brisknet
    from brisknet.autodiff.rules import PRIMITIVES
    threads = brisknet.runtime.get_num_threads()
    torch.set_num_threads(threads)
    s = SIZES
    shape = (s["BATCH"], s["TOKENS"], s["HEADS"], s["SIZE"])  # (batch, steps, heads, size): Keras' layout
    rng = np.random.default_rng(0)
    q, k, v, g = (rng.standard_normal(shape).astype(np.float32) for _ in range(4))
    scale = 1.0 / np.sqrt(s["SIZE"])
    prim = PRIMITIVES["dot_product_attention"]

    def ours():
        out, lse = prim.forward(q, k, v, scale=scale, causal=True)
        prim.vjp(g, out, [q, k, v], {"scale": scale, "causal": True, "saved": lse})

    tq, tk, tv, tg = (torch.tensor(a).transpose(1, 2).contiguous() for a in (q, k, v, g))  # (batch, heads, steps, size)

    def sdpa():
        a, b, c = (t.detach().requires_grad_() for t in (tq, tk, tv))
        torch.nn.functional.scaled_dot_product_attention(a, b, c, is_causal=True).backward(tg)

    causal = torch.ones(s["TOKENS"], s["TOKENS"], dtype=torch.bool).tril()

    def plain():
        a, b, c = (t.detach().requires_grad_() for t in (tq, tk, tv))
        scores = (a @ b.transpose(-1, -2)) * scale
        (torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1) @ c).backward(tg)

    sides = {"brisknet": peers.timed(ours), "torch sdpa": peers.timed(sdpa), "torch plain": peers.timed(plain)}
    for run in sides.values():
        run()
    seconds = peers.interleaved(sides, s["REPEATS"])
    print(f"# {peers.machine(threads)}; {s}")
    print("ms per forward + backward: " + ", ".join(f"{k} {v * 1e3:,.1f}" for k, v in seconds.items()) +
          f"; sdpa / brisknet {seconds['torch sdpa'] / seconds['brisknet']:.2f}, "
          f"plain / brisknet {seconds['torch plain'] / seconds['brisknet']:.2f}")


if __name__ == "__main__":
    main()
