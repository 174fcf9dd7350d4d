"""`python -m brisknet gpt --text FILE`: a character-level GPT trains on a text file and samples."""
import subprocess
import sys

import pytest

from brisknet import char_gpt


def test_a_small_gpt_learns_a_text_and_samples_from_it(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text("abcdefgh é " * 60, encoding="utf-8")
    lines = []
    losses = char_gpt.run(str(path), epochs=3, steps=20, batch=16, context=16, width=32, heads=2, depth=1,
                          sample_length=30, verbose=0, print_fn=lines.append)
    assert losses[-1] < 0.6 * losses[0]
    sample = lines[-1][len("sample: "):]
    assert len(sample) == 16 + 30 and set(sample) <= set("abcdefgh é")


def test_bad_arguments_are_explained(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("too short", encoding="utf-8")
    with pytest.raises(ValueError, match="needs more than the context"):
        char_gpt.run(str(path), context=64)
    path.write_text("x" * 200, encoding="utf-8")
    with pytest.raises(ValueError, match="not a multiple of heads"):
        char_gpt.run(str(path), width=30, heads=4, context=8)


def test_the_command_line(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text("the cat sat on the mat. " * 20, encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "brisknet", "gpt", "--text", str(path), "--steps", "3",
                          "--context", "8", "--width", "16", "--heads", "2", "--layers", "1", "--sample", "10"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "a character-level GPT" in out.stdout and "sample: " in out.stdout


def test_sampling_traces_the_model_once():
    """The generation loop predicts one window after another at one shape: after its first
    predict no layer traces its call() again (each custom layer keeps one program per shape)."""
    import numpy as np
    model = char_gpt.build(vocab=7, context=8, width=16, heads=2, depth=2, dropout=0.0)
    custom = [layer for layer in model.layers if hasattr(layer, "_programs") or type(layer).__name__ == "Block"]
    rng = np.random.default_rng(0)
    char_gpt.sample(model, list(range(7)) + [0], 1, 1.0, rng)
    traced = {layer.name: len(layer.__dict__.get("_programs", {})) for layer in custom}
    assert traced and all(n >= 1 for n in traced.values())
    char_gpt.sample(model, list(range(7)) + [0], 12, 1.0, rng)
    assert {layer.name: len(layer._programs) for layer in custom} == traced
