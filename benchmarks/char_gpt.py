"""The character-level GPT benchmark (issue 26): nanoGPT's small configuration (6 pre-norm blocks,
6 heads, width 384, 256 characters of context, dropout 0.2, GELU feed-forward of 4x the width) as
brisknet's `python -m brisknet gpt` builds it (char_gpt.build: the model a Keras user writes),
beside the same network in PyTorch, eager and through torch.compile (nn.LayerNorm, causal
F.scaled_dot_product_attention), and the same code in Keras 3 where its virtualenvs are present,
on the same random windows, epochs interleaved, the same threads. Prints tokens/s and the ratios.

    python benchmarks/char_gpt.py     # VOCAB=65 CONTEXT=256 WIDTH=384 HEADS=6 LAYERS=6 BATCH=8 SAMPLES=48
BF16=1: brisknet under mixed_bfloat16 against PyTorch under bf16 autocast (eager and compiled).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

SIZES = {k: int(os.environ.get(k, v)) for k, v in
         dict(VOCAB=65, CONTEXT=256, WIDTH=384, HEADS=6, LAYERS=6, BATCH=8, SAMPLES=48).items()}
DROPOUT = 0.2


def brisknet_model():
    from brisknet import char_gpt
    s = SIZES
    return char_gpt.build(s["VOCAB"], s["CONTEXT"], s["WIDTH"], s["HEADS"], s["LAYERS"], DROPOUT)


def keras_definitions():
    """char_gpt.build's own code for Keras' worker: it imports brisknet, which is Keras there."""
    import inspect
    from brisknet import char_gpt
    s = SIZES
    return ("sys.modules['brisknet'] = keras\n" + inspect.getsource(char_gpt.build) +
            f"\ndef make_model():\n    return build({s['VOCAB']}, {s['CONTEXT']}, {s['WIDTH']}, {s['HEADS']}, "
            f"{s['LAYERS']}, {DROPOUT})\n")


def torch_epoch(torch, x, y, compiled=False, autocast=False):
    """The same network in PyTorch eager: one epoch of Adam (Keras' epsilon) steps."""
    nn, F = torch.nn, torch.nn.functional
    s = SIZES
    width, heads = s["WIDTH"], s["HEADS"]

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1, self.norm2 = nn.LayerNorm(width, eps=1e-3), nn.LayerNorm(width, eps=1e-3)
            self.q, self.k, self.v = (nn.Linear(width, width) for _ in range(3))
            self.o = nn.Linear(width, width)
            self.ffn = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
            self.drop1, self.drop2 = nn.Dropout(DROPOUT), nn.Dropout(DROPOUT)

        def forward(self, x):
            b, t, _ = x.shape
            h = self.norm1(x)
            q, k, v = (f(h).view(b, t, heads, width // heads).transpose(1, 2) for f in (self.q, self.k, self.v))
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, width)
            x = x + self.drop1(self.o(a))
            return x + self.drop2(self.ffn(self.norm2(x)))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = nn.Embedding(s["VOCAB"], width), nn.Embedding(s["CONTEXT"], width)
            self.blocks = nn.Sequential(*[Block() for _ in range(s["LAYERS"])])
            self.norm, self.head = nn.LayerNorm(width, eps=1e-3), nn.Linear(width, s["VOCAB"])

        def forward(self, tokens):
            h = self.tok(tokens) + self.pos(torch.arange(tokens.shape[1]))
            return self.head(self.norm(self.blocks(h)))

    return peers.torch_epoch(torch, GPT(), x.astype(np.int64), y, s["BATCH"],
                             peers.token_cross_entropy(torch, s["VOCAB"]), compiled=compiled, autocast=autocast)


def main():
    s = SIZES
    if os.environ.get("BF16") == "1":  # brisknet under mixed_bfloat16, PyTorch under bf16 autocast
        import brisknet
        brisknet.mixed_precision.set_global_policy("mixed_bfloat16")
    tokens = np.random.default_rng(0).integers(0, s["VOCAB"], (s["SAMPLES"], s["CONTEXT"] + 1))
    return peers.token_rates(brisknet_model(), tokens[:, :-1], tokens[:, 1:], s["BATCH"], torch_epoch, s,
                             keras_definitions=keras_definitions())


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
