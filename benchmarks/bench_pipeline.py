"""The input-pipeline benchmark (pipeline.py: a folder of images decoded, augmented and trained on,
against in-memory arrays and Keras 3's tf.data), run once on a small folder as a plain test so
that it keeps working; run the script itself for the figures."""
import pathlib
import sys

import pytest


def test_pipeline_benchmark_runs(monkeypatch, capsys):
    pytest.importorskip("PIL")
    monkeypatch.setenv("REPEATS", "1")
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    try:
        import pipeline
        monkeypatch.setattr(pipeline, "IMAGES", 96)
        rates = pipeline.main()
    finally:
        sys.path.pop(0)
    assert rates["brisknet"] > 0 and rates["brisknet in memory"] > 0
    assert "pipeline / in memory" in capsys.readouterr().out
