"""Keras programs as people write them (keras_programs.py: the Keras 3 guides and docstring
examples) run on brisknet unchanged and give Keras' results: the values Keras 3 recorded
(keras_programs_expected.json) and, where Keras 3 is installed, Keras run live on the same programs.
Training results agree to 1e-4 (same weights, same batches, float32 in both)."""
import json
import os

import numpy as np
import pytest

import brisknet
import keras_programs
from keras3 import run_keras


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    return keras_programs.run_all(brisknet, str(tmp_path_factory.mktemp("brisknet")))


@pytest.fixture(scope="module")
def keras_live(tmp_path_factory):
    here = os.path.dirname(os.path.abspath(__file__))
    return run_keras([os.path.join(here, "keras_programs.py")], cwd=str(tmp_path_factory.mktemp("keras")))


def assert_same(ours, theirs, path=""):
    """Equal structure; numbers to rtol 1e-4 (atol 1e-5), everything else exactly."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), f"{path}: {ours!r}"
        assert "error" not in ours, f"{path}: {ours['error']}"
        assert sorted(ours) == sorted(theirs), f"{path}: keys {sorted(ours)} != Keras' {sorted(theirs)}"
        for key in theirs:
            assert_same(ours[key], theirs[key], f"{path}/{key}")
    elif isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), f"{path}: {ours!r} != Keras' {theirs!r}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{path}[{i}]")
    elif isinstance(theirs, float) or (isinstance(theirs, int) and not isinstance(theirs, bool)):
        assert isinstance(ours, (int, float)) and not isinstance(ours, bool), f"{path}: {ours!r}"
        assert np.isclose(ours, theirs, rtol=1e-4, atol=1e-5, equal_nan=True), f"{path}: {ours} != Keras' {theirs}"
    else:
        assert ours == theirs, f"{path}: {ours!r} != Keras' {theirs!r}"


@pytest.mark.parametrize("program", sorted(keras_programs.PROGRAMS))
def test_program_gives_what_keras_recorded(program, ours):
    with open(keras_programs.EXPECTED) as f:
        expected = json.load(f)
    assert_same(ours[program], expected[program], program)


@pytest.mark.parametrize("program", sorted(keras_programs.PROGRAMS))
def test_program_gives_what_keras_gives_now(program, ours, keras_live):
    assert_same(ours[program], keras_live[program], program)
