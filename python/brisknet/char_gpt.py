"""A character-level GPT trained on any text file (`python -m brisknet gpt --text FILE`): the
seed's "large language model" story at laptop size. The model is written as a Keras user writes
it (layers subclassed with keras.ops, MultiHeadAttention with a causal mask, pre-norm Transformer
blocks as in nanoGPT), trained with fit on random windows of the text, then sampled character by
character at a temperature."""
from __future__ import annotations

import numpy as np


def build(vocab, context, width, heads, depth, dropout):
    import brisknet as keras
    from brisknet import layers, ops

    class TokenAndPosition(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.tokens = layers.Embedding(vocab, width)
            self.positions = layers.Embedding(context, width)

        def call(self, x):
            return self.tokens(x) + self.positions(ops.arange(0, ops.shape(x)[-1], 1))

    class Block(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.norm1, self.norm2 = layers.LayerNormalization(), layers.LayerNormalization()
            self.attention = layers.MultiHeadAttention(heads, width // heads, dropout=0.0)
            self.ffn = keras.Sequential([layers.Dense(4 * width, activation="gelu"), layers.Dense(width)])
            self.drop1, self.drop2 = layers.Dropout(dropout), layers.Dropout(dropout)

        def call(self, x):
            h = self.norm1(x)
            x = x + self.drop1(self.attention(h, h, use_causal_mask=True))
            return x + self.drop2(self.ffn(self.norm2(x)))

    inputs = keras.Input((context,), dtype="int32")
    x = TokenAndPosition()(inputs)
    for _ in range(depth):
        x = Block()(x)
    model = keras.Model(inputs, layers.Dense(vocab)(layers.LayerNormalization()(x)))
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def windows(ids, context, count, rng):
    """`count` random windows of the text: inputs (count, context) and their next characters."""
    starts = rng.integers(0, len(ids) - context - 1, count)
    idx = starts[:, None] + np.arange(context + 1)[None, :]
    chunk = ids[idx]
    return chunk[:, :-1], chunk[:, 1:]


def sample(model, prompt_ids, length, temperature, rng):
    """`length` characters after the prompt (its last `context` characters are the window)."""
    window = list(prompt_ids)
    out = []
    context = model.input_shape[1]
    for _ in range(length):
        logits = model.predict(np.asarray([window[-context:]], np.int32), verbose=0)[0, -1].astype(np.float64)
        p = np.exp((logits - logits.max()) / max(temperature, 1e-6))
        nxt = int(rng.choice(len(p), p=p / p.sum()))
        out.append(nxt)
        window.append(nxt)
    return out


def run(text_path, epochs=1, steps=200, batch=32, context=64, width=64, heads=4, depth=2, dropout=0.1,
        sample_length=200, temperature=0.8, seed=0, verbose=1, print_fn=print):
    import brisknet as keras
    with open(text_path, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    if len(text) < context + 2:
        raise ValueError(f"{text_path}: the text has {len(text)} characters; it needs more than the context "
                         f"({context}) + 1")
    if width % heads:
        raise ValueError(f"width {width} is not a multiple of heads {heads}")
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    index = {c: i for i, c in enumerate(chars)}
    ids = np.array([index[c] for c in text], np.int32)
    model = build(len(chars), context, width, heads, depth, dropout)
    print_fn(f"brisknet {keras.__version__}: a character-level GPT ({depth} blocks, width {width}, {heads} heads, "
             f"context {context}, {model.count_params():,} weights) on {text_path}: {len(text):,} characters, "
             f"{len(chars)} distinct; {keras.get_num_threads()} threads")
    x, y = windows(ids, context, steps * batch * epochs, rng)
    history = model.fit(x, y, batch_size=batch, epochs=epochs, verbose=verbose)
    prompt = ids[:context]
    generated = sample(model, prompt, sample_length, temperature, rng)
    print_fn("sample: " + "".join(chars[i] for i in prompt) + "".join(chars[i] for i in generated))
    return history.history["loss"]
