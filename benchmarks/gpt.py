"""The miniature GPT benchmark (issue 26): the keras-io example "Text generation with a miniature
GPT" as its code stands (token and position embeddings, one causal Transformer block, logits at
every position, model(inputs, [logits, x]) with loss=[loss, None]), trained by brisknet beside
the same network in PyTorch eager and through torch.compile (nn.Embedding, a causal
F.scaled_dot_product_attention, LayerNorm, the same Adam) and the same code in Keras 3 (on
TensorFlow and on PyTorch, where their virtualenvs are present: peers.keras_pythons), on the same
random token batches, epochs interleaved, the same threads. Prints tokens/s (medians of REPEATS
epochs) and brisknet's ratio to each peer ($PEERS picks them: peers.TOKEN_PEERS).

    python benchmarks/gpt.py     # VOCAB=5000 MAXLEN=80 EMBED=128 HEADS=2 FF=128 BATCH=32 SAMPLES=1280

The example's own sizes are VOCAB=20000 EMBED=256 FF=256 BATCH=128 (minutes per epoch on 2 cores).
BF16=1: brisknet under mixed_bfloat16 against PyTorch under bf16 autocast (eager and compiled).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (the benchmarks' shared helpers, beside this file)

SIZES = {k: int(os.environ.get(k, v)) for k, v in
         dict(VOCAB=5000, MAXLEN=80, EMBED=128, HEADS=2, FF=128, BATCH=32, SAMPLES=1280).items()}

# The example's layers, as written there (dropout 0.1 included); `keras` is brisknet here.
PROGRAM = r"""
class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = layers.MultiHeadAttention(num_heads, embed_dim)
        self.ffn = keras.Sequential([layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs):
        attention_output = self.att(inputs, inputs, use_causal_mask=True)
        attention_output = self.dropout1(attention_output)
        out1 = self.layernorm1(inputs + attention_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(0, maxlen, 1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions


def create_model(maxlen, vocab_size, embed_dim, num_heads, feed_forward_dim):
    inputs = layers.Input(shape=(maxlen,), dtype="int32")
    embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
    x = embedding_layer(inputs)
    transformer_block = TransformerBlock(embed_dim, num_heads, feed_forward_dim)
    x = transformer_block(x)
    outputs = layers.Dense(vocab_size)(x)
    model = keras.Model(inputs=inputs, outputs=[outputs, x])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile("adam", loss=[loss_fn, None])
    return model
"""


def make_model_source():
    """The code that builds the model from PROGRAM at SIZES, for brisknet and for Keras."""
    s = SIZES
    return PROGRAM + f"""
def make_model():
    return create_model({s["MAXLEN"]}, {s["VOCAB"]}, {s["EMBED"]}, {s["HEADS"]}, {s["FF"]})
"""


def brisknet_model():
    import brisknet as keras
    space = {"keras": keras, "layers": keras.layers, "ops": keras.ops}
    exec(make_model_source(), space)
    return space["make_model"]()


def torch_epoch(torch, x, y, compiled=False, autocast=False):
    """The same network in PyTorch eager: one epoch of Adam (Keras' epsilon) steps."""
    nn, F = torch.nn, torch.nn.functional
    s = SIZES
    heads, embed = s["HEADS"], s["EMBED"]

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.k, self.v = (nn.Linear(embed, heads * embed) for _ in range(3))  # key_dim = embed
            self.o = nn.Linear(heads * embed, embed)
            self.ffn = nn.Sequential(nn.Linear(embed, s["FF"]), nn.ReLU(), nn.Linear(s["FF"], embed))
            self.ln1, self.ln2 = nn.LayerNorm(embed, eps=1e-6), nn.LayerNorm(embed, eps=1e-6)
            self.drop1, self.drop2 = nn.Dropout(0.1), nn.Dropout(0.1)

        def forward(self, h):
            b, t, _ = h.shape
            q, k, v = (f(h).view(b, t, heads, embed).transpose(1, 2) for f in (self.q, self.k, self.v))
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, heads * embed)
            out1 = self.ln1(h + self.drop1(self.o(a)))
            return self.ln2(out1 + self.drop2(self.ffn(out1)))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = nn.Embedding(s["VOCAB"], embed), nn.Embedding(s["MAXLEN"], embed)
            self.block, self.head = Block(), nn.Linear(embed, s["VOCAB"])

        def forward(self, tokens):
            h = self.tok(tokens) + self.pos(torch.arange(tokens.shape[1]))
            return self.head(self.block(h))

    return peers.torch_epoch(torch, GPT(), x.astype(np.int64), y, s["BATCH"],
                             peers.token_cross_entropy(torch, s["VOCAB"]), compiled=compiled, autocast=autocast)


def main():
    s = SIZES
    if os.environ.get("BF16") == "1":  # brisknet under mixed_bfloat16, PyTorch under bf16 autocast
        import brisknet
        brisknet.mixed_precision.set_global_policy("mixed_bfloat16")
    tokens = np.random.default_rng(0).integers(0, s["VOCAB"], (s["SAMPLES"], s["MAXLEN"] + 1))
    return peers.token_rates(brisknet_model(), tokens[:, :-1], tokens[:, 1:], s["BATCH"], torch_epoch, s,
                             keras_definitions=make_model_source())


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
