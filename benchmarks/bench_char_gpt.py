"""The character-level GPT benchmark (char_gpt.py: nanoGPT's small configuration in brisknet
beside PyTorch eager), run once on tiny sizes as a plain test so that it keeps working; run the
script itself for the figures."""
import pathlib
import sys


def test_char_gpt_benchmark_runs(monkeypatch):
    monkeypatch.setenv("REPEATS", "1")
    monkeypatch.setenv("PEERS", "torch eager")  # bench_gpt.py runs the other peers' code
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    try:
        import char_gpt
        monkeypatch.setattr(char_gpt, "SIZES", dict(VOCAB=11, CONTEXT=8, WIDTH=8, HEADS=2, LAYERS=1, BATCH=4,
                                                    SAMPLES=8))
        rates = char_gpt.main()
    finally:
        sys.path.pop(0)
    assert rates["brisknet"] > 0
