"""The miniature GPT benchmark (gpt.py: the keras-io example's model in brisknet beside PyTorch
eager), run once on tiny sizes as a plain test so that it keeps working; run the script itself
for the figures."""
import pathlib
import sys


def test_gpt_benchmark_runs(monkeypatch):
    monkeypatch.setenv("REPEATS", "1")
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    try:
        import gpt
        monkeypatch.setattr(gpt, "SIZES", dict(VOCAB=50, MAXLEN=8, EMBED=8, HEADS=2, FF=8, BATCH=4, SAMPLES=16))
        rates = gpt.main()
    finally:
        sys.path.pop(0)
    assert rates["brisknet"] > 0
