"""Recurrent layers: the fused whole-sequence kernels (kernels/recurrent.cpp) against the same cells
stepped with keras.ops, their gradients against float64 central differences, masks, initial and
returned states, stateful layers, RNN(cell) with a user's cell, Bidirectional, and bad input."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import _core, ops
from brisknet.layers.recurrent import _fused_sequence
from test_autodiff import gradcheck

rng = np.random.default_rng(0)
CELLS = [("lstm", keras.layers.LSTMCell, 2), ("gru", keras.layers.GRUCell, 1),
         ("simple_rnn", keras.layers.SimpleRNNCell, 1)]


def _mask(batch, steps, lengths=None):
    lengths = lengths or [steps - k % 3 for k in range(batch)]
    return np.arange(steps)[None, :] < np.asarray(lengths)[:, None]


def _weights(kind, features, units):
    g = {"lstm": 4, "gru": 3, "simple_rnn": 1}[kind] * units
    bias = rng.standard_normal((2, g) if kind == "gru" else (g,)) * 0.3
    return rng.standard_normal((features, g)) * 0.5, rng.standard_normal((units, g)) * 0.5, bias


@pytest.mark.parametrize("kind, cell_cls, n_states", CELLS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_fused_sequence_gradients_in_float64(kind, cell_cls, n_states, reverse, masked):
    x = rng.standard_normal((3, 4, 2))
    k, r, b = _weights(kind, 2, 3)
    states = [rng.standard_normal((3, 3)) * 0.5 for _ in range(n_states)]
    mask = _mask(3, 4) if masked else None

    def f(x, k, r, b, *states):
        return _fused_sequence(kind, x, [(k, r, b, states, reverse)], mask, "tanh")
    gradcheck(f, x, k, r, b, *states)


@pytest.mark.parametrize("kind, cell_cls, n_states", CELLS)
def test_two_runs_at_once_and_their_gradients(kind, cell_cls, n_states):
    """Bidirectional's two directions as one op (a thread each): each run as it is alone, and the
    gradients (x's summed over both runs) against central differences."""
    x = rng.standard_normal((2, 3, 2))
    weights = [_weights(kind, 2, 3) for _ in range(2)]
    states = [[rng.standard_normal((2, 3)) * 0.5 for _ in range(n_states)] for _ in range(2)]
    mask = _mask(2, 3)

    def f(x, k1, r1, b1, k2, r2, b2, *s):
        return _fused_sequence(kind, x, [(k1, r1, b1, s[:n_states], False), (k2, r2, b2, s[n_states:], True)],
                               mask, "tanh")
    both = gradcheck(f, x, *weights[0], *weights[1], *states[0], *states[1])
    for k, reverse in enumerate((False, True)):
        alone = _fused_sequence(kind, x, [(*weights[k], states[k], reverse)], mask, "tanh")
        np.testing.assert_array_equal(both[k], alone[0])


def _stepped_and_fused(cell, x, states, mask, go_backwards):
    """The layer's two paths on the same cell: keras.ops step by step, and the fused kernel."""
    layer = keras.layers.RNN(cell, return_sequences=True, go_backwards=go_backwards)
    layer(x[:, :1].astype(np.float32))  # builds the cell
    stepped, s_states = layer._stepped(x, states, mask, False)
    fused, f_states = layer._fused(keras.layers.recurrent._FUSED[type(cell)], x, states, mask, False)
    return (stepped, s_states), (fused, f_states)


@pytest.mark.parametrize("kind, cell_cls, n_states", CELLS)
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_the_fused_kernel_computes_what_the_cell_computes_step_by_step(kind, cell_cls, n_states, go_backwards,
                                                                      masked):
    x = rng.standard_normal((4, 5, 3)).astype(np.float32)
    states = [rng.standard_normal((4, 6)).astype(np.float32) for _ in range(n_states)]
    mask = _mask(4, 5) if masked else None
    (stepped, s_states), (fused, f_states) = _stepped_and_fused(cell_cls(6), x, states, mask, go_backwards)
    np.testing.assert_allclose(fused, stepped, rtol=2e-5, atol=2e-6)
    for a, b in zip(f_states, s_states):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


def _numpy_loop(kind, x, kernel, recurrent, bias, go_backwards):
    """Keras' cells written out in numpy, float64."""
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    b, steps, _ = x.shape
    u = recurrent.shape[0]
    h, c, outs = np.zeros((b, u)), np.zeros((b, u)), []
    for t in (range(steps - 1, -1, -1) if go_backwards else range(steps)):
        if kind == "lstm":
            z = x[:, t] @ kernel + h @ recurrent + bias
            i, f, g, o = sig(z[:, :u]), sig(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]), sig(z[:, 3 * u:])
            c = f * c + i * g
            h = o * np.tanh(c)
        elif kind == "gru":
            xz, xr, xh = np.split(x[:, t] @ kernel + bias[0], 3, axis=1)
            rz, rr, rh = np.split(h @ recurrent + bias[1], 3, axis=1)
            z, r = sig(xz + rz), sig(xr + rr)
            h = z * h + (1 - z) * np.tanh(xh + r * rh)
        else:
            h = np.tanh(x[:, t] @ kernel + bias + h @ recurrent)
        outs.append(h)
    return np.stack(outs, axis=1)


@pytest.mark.parametrize("layer_cls, kind", [(keras.layers.LSTM, "lstm"), (keras.layers.GRU, "gru"),
                                             (keras.layers.SimpleRNN, "simple_rnn")])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_each_layer_against_a_numpy_loop(layer_cls, kind, go_backwards):
    x = rng.standard_normal((2, 4, 3))
    layer = layer_cls(5, return_sequences=True, go_backwards=go_backwards)
    layer(x[:, :1].astype(np.float32))
    layer.set_weights([w * 3 for w in layer.get_weights()])  # (non-zero biases, larger weights)
    want = _numpy_loop(kind, x, *[w.astype(np.float64) for w in layer.get_weights()], go_backwards)
    np.testing.assert_allclose(layer(x.astype(np.float32)), want, rtol=2e-5, atol=2e-6)
    last = layer_cls.from_config({**layer.get_config(), "return_sequences": False})
    last(x[:, :1].astype(np.float32))
    last.set_weights(layer.get_weights())
    np.testing.assert_allclose(last(x.astype(np.float32)), want[:, -1], rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "leaky_relu", "elu"])
def test_simple_rnn_takes_other_activations_fused(activation):
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    cell = keras.layers.SimpleRNNCell(5, activation=activation)
    (stepped, _), (fused, _) = _stepped_and_fused(cell, x, [np.zeros((2, 5), np.float32)], None, False)
    np.testing.assert_allclose(fused, stepped, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("layer_cls", [keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN])
def test_a_masked_batch_gives_what_each_unpadded_sequence_gives_alone(layer_cls):
    lengths = [5, 2, 4]
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    layer = layer_cls(6, return_sequences=True, return_state=True)
    seq, *states = layer(x, mask=_mask(3, 5, lengths))
    for i, n in enumerate(lengths):
        alone_seq, *alone_states = layer(x[i:i + 1, :n])
        np.testing.assert_allclose(seq[i, :n], alone_seq[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(seq[i, n:], np.repeat(alone_seq[0, -1:], 5 - n, axis=0), rtol=1e-5, atol=1e-6)
        for a, b in zip(states, alone_states):
            np.testing.assert_allclose(a[i], b[0], rtol=1e-5, atol=1e-6)


def test_zero_output_for_mask_and_go_backwards_with_a_mask():
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    mask = _mask(2, 4, [4, 2])
    layer = keras.layers.GRU(3, return_sequences=True, go_backwards=True, zero_output_for_mask=True)
    y = layer(x, mask=mask)
    np.testing.assert_array_equal(y[1, :2], 0)  # processing order: the padding comes first backwards
    alone = layer(x[1:2, :2])
    np.testing.assert_allclose(y[1, 2:], alone[0], rtol=1e-5, atol=1e-6)


def test_initial_state_return_state_and_gradients_through_states():
    """An encoder's states start a decoder, as in Keras' RNN guide; the gradients with respect to
    both sequences (through the fused kernels and both states) against central differences."""
    enc, dec = keras.layers.LSTM(4, return_state=True), keras.layers.LSTM(3)
    xe, xd = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 4, 3))
    _, h, c = enc(xe.astype(np.float32))
    with pytest.raises(ValueError, match="initial state must be \\(batch, 3\\)"):
        dec(xd.astype(np.float32), initial_state=[h, c])
    dec = keras.layers.LSTM(4)

    def f(xe, xd):
        _, h, c = enc(xe)
        return dec(xd, initial_state=[h, c])
    out = gradcheck(f, xe, xd, tol=1e-5)
    np.testing.assert_allclose(out, dec(xd.astype(np.float32), initial_state=[h, c]), rtol=1e-5, atol=1e-6)


def test_stateful_layers_carry_their_states_from_call_to_call_until_reset():
    x = rng.standard_normal((2, 6, 3)).astype(np.float32)
    layer = keras.layers.LSTM(4, stateful=True)
    whole = keras.layers.LSTM(4, return_sequences=True)
    whole(x)
    layer(x[:, :1])
    layer.set_weights(whole.get_weights())
    layer.reset_states()
    first, second = layer(x[:, :3]), layer(x[:, 3:])
    want = whole(x)
    np.testing.assert_allclose(first, want[:, 2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(second, want[:, 5], rtol=1e-5, atol=1e-6)
    layer.reset_states()
    np.testing.assert_allclose(layer(x[:, :3]), want[:, 2], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="stateful"):
        layer(x[:1])


class MinimalRNNCell(keras.layers.Layer):
    """The RNN guide's own cell."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units, self.state_size = units, units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                name="recurrent_kernel")

    def call(self, inputs, states):
        prev_output = states[0]
        h = ops.matmul(inputs, self.kernel)
        output = h + ops.matmul(prev_output, self.recurrent_kernel)
        return output, [output]


def test_rnn_of_a_users_cell_trains_in_a_model():
    x = rng.standard_normal((64, 5, 3)).astype(np.float32)
    y = (x.sum(axis=(1, 2)) > 0).astype(np.float32)
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.RNN(MinimalRNNCell(8)),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy")
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]
    cell = model.layers[0].cell
    h = np.zeros((64, 8), np.float32)
    for t in range(5):
        h = x[:, t] @ cell.kernel.numpy() + h @ cell.recurrent_kernel.numpy()
    np.testing.assert_allclose(model.layers[0](x), h, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
def test_bidirectional_of_each_layer_kind(merge_mode):
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    for cls in (keras.layers.GRU, keras.layers.SimpleRNN):
        layer = keras.layers.Bidirectional(cls(3, return_sequences=True), merge_mode=merge_mode)
        y = layer(x)
        yf = layer.forward_layer(x)
        yb = layer.backward_layer(x)[:, ::-1]
        want = {"concat": np.concatenate([yf, yb], -1), "sum": yf + yb, "mul": yf * yb, "ave": (yf + yb) / 2}
        np.testing.assert_allclose(y, want[merge_mode], rtol=1e-6, atol=1e-6)


def test_dropout_in_training_only_and_recurrent_dropout_steps():
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    for layer in (keras.layers.LSTM(4, dropout=0.5, seed=1), keras.layers.GRU(4, recurrent_dropout=0.5, seed=1)):
        a, b = layer(x, training=True), layer(x, training=True)
        assert not np.allclose(a, b)
        np.testing.assert_array_equal(layer(x), layer(x, training=False))


def test_bad_input_names_the_layer():
    layer = keras.layers.LSTM(3, name="encoder")
    with pytest.raises(ValueError, match="encoder.*\\(batch, steps, features\\)"):
        layer(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="encoder.*mask must be \\(batch, steps\\)"):
        layer(np.zeros((2, 4, 3), np.float32), mask=np.ones((2, 5), bool))
    with pytest.raises(ValueError, match="units must be a positive int"):
        keras.layers.GRU(0)
    with pytest.raises(ValueError, match="dropout must be in"):
        keras.layers.SimpleRNN(3, dropout=1.5)
    x, one = np.zeros((2, 3, 4), np.float32), [np.zeros((2, 3), np.float32)]
    run = dict(x=x, mask=None, activation=_core.Activation.tanh, alpha=0.0, reverse=[False],
               kernel=[np.zeros((4, 12), np.float32)], recurrent_kernel=[np.zeros((3, 12), np.float32)], bias=[None],
               recurrent_bias=[None], h0=one, c0=one, states=[np.zeros((2, 2, 3, 3), np.float32)],
               gates=[np.zeros((2, 3, 12), np.float32)], recurrent_gates=[np.zeros(0, np.float32)],
               h_prev=[np.zeros((2, 3, 3), np.float32)])
    _core.recurrent_forward("lstm", **run)
    with pytest.raises(ValueError, match="cell: expected 'lstm'"):
        _core.recurrent_forward("rnn", **run)
    with pytest.raises(ValueError, match="recurrent_kernel: expected shape \\(units, 4 \\* units\\)"):
        _core.recurrent_forward("lstm", **{**run, "recurrent_kernel": [np.zeros((3, 9), np.float32)]})
    with pytest.raises(ValueError, match="one entry per run"):
        _core.recurrent_forward("lstm", **{**run, "h0": one * 2})
    with pytest.raises(ValueError, match="mask: expected \\(batch, steps\\)"):
        _core.recurrent_forward("lstm", **{**run, "mask": np.ones((2, 4), bool)})
    with pytest.raises(TypeError, match="kernel: expected dtype float32"):
        _core.recurrent_forward("lstm", **{**run, "kernel": [np.zeros((4, 12))]})


def test_the_kernels_are_bit_identical_across_thread_counts():
    x = rng.standard_normal((16, 12, 32)).astype(np.float32)
    layer = keras.layers.Bidirectional(keras.layers.LSTM(48, return_sequences=True))
    layer(x)
    before = _core.get_num_threads()
    try:
        outs = []
        for n in (1, 2, 3):
            _core.set_num_threads(n)
            outs.append(layer(x))
    finally:
        _core.set_num_threads(before)
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])


def _sequence_model():
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(20, 4, mask_zero=True)(inputs)
    x = keras.layers.Bidirectional(keras.layers.GRU(3, return_sequences=True))(x)
    x = keras.layers.TimeDistributed(keras.layers.Dense(4, activation="tanh"))(x)
    x = keras.layers.SimpleRNN(3, return_sequences=True, go_backwards=True)(x)
    return keras.Model(inputs, keras.layers.Dense(1)(keras.layers.LSTM(2)(x)))


@pytest.mark.parametrize("ext", ["keras", "brisk"])
def test_recurrent_models_save_and_load(tmp_path, ext):
    model = _sequence_model()
    assert model.output_shape == (None, 1) and model.layers[2].output.shape == (None, None, 6)
    tokens = np.random.default_rng(0).integers(0, 20, (4, 9))
    tokens[1, 5:] = 0
    path = str(tmp_path / f"m.{ext}")
    model.save(path)
    loaded = keras.models.load_model(path)
    for steps in (9, 3):
        np.testing.assert_array_equal(loaded.predict(tokens[:, :steps], verbose=0),
                                      model.predict(tokens[:, :steps], verbose=0))


def test_keras_reads_our_gru_simple_rnn_and_time_distributed_model(tmp_path):
    from keras3 import keras_predictions
    model = _sequence_model()
    tokens = np.random.default_rng(1).integers(0, 20, (3, 6))
    tokens[0, 3:] = 0
    np.testing.assert_allclose(keras_predictions(model, tokens, tmp_path), model.predict(tokens, verbose=0),
                               rtol=1e-5, atol=1e-6)


def _encoder_decoder():
    """The RNN guide's functional encoder-decoder: the encoder's states start the decoder."""
    encoder_input = keras.layers.Input(shape=(7,))
    embedded = keras.layers.Embedding(input_dim=50, output_dim=8)(encoder_input)
    _, state_h, state_c = keras.layers.LSTM(6, return_state=True, name="encoder")(embedded)
    decoder_input = keras.layers.Input(shape=(5,))
    embedded = keras.layers.Embedding(input_dim=40, output_dim=8)(decoder_input)
    decoded = keras.layers.LSTM(6, name="decoder")(embedded, initial_state=[state_h, state_c])
    return keras.Model([encoder_input, decoder_input], keras.layers.Dense(3)(decoded))


def test_return_state_in_a_functional_model_trains_saves_and_moves_to_keras(tmp_path):
    model = _encoder_decoder()
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer", "InputLayer", "Embedding", "Embedding",
                                                                "LSTM", "LSTM", "Dense"]  # (Keras' order)
    r = np.random.default_rng(3)
    a, b = r.integers(0, 50, (16, 7)), r.integers(0, 40, (16, 5))
    model.compile("adam", "mse")
    model.fit([a, b], np.zeros((16, 3)), epochs=1, verbose=0)
    want = model.predict([a, b], verbose=0)
    for ext in ("keras", "brisk"):
        model.save(str(tmp_path / f"m.{ext}"))
        np.testing.assert_array_equal(keras.models.load_model(str(tmp_path / f"m.{ext}")).predict([a, b], verbose=0),
                                      want)
    from keras3 import keras_predictions
    np.testing.assert_allclose(keras_predictions(model, [a[:3], b[:3]], tmp_path)[0], want[:3], rtol=1e-5, atol=1e-6)


def test_an_encoders_states_get_their_gradient_through_the_graph():
    """The decoder's loss reaches the encoder's weights only through the states (return_state)."""
    model = _encoder_decoder()
    r = np.random.default_rng(4)
    a, b = r.integers(0, 50, (8, 7)), r.integers(0, 40, (8, 5))
    before = [w.copy() for w in model.get_layer("encoder").get_weights()]
    model.compile(keras.optimizers.SGD(0.5), "mse")
    model.fit([a, b], np.ones((8, 3)), epochs=1, verbose=0)
    assert all(not np.array_equal(w, v) for w, v in zip(model.get_layer("encoder").get_weights(), before))


def test_we_read_keras_encoder_decoder(tmp_path):
    from keras3 import run_keras
    script = ("import json, sys, keras, numpy as np\n"
              "L = keras.layers\n"
              "ei = L.Input(shape=(7,)); _, h, c = L.LSTM(6, return_state=True)(L.Embedding(50, 8)(ei))\n"
              "di = L.Input(shape=(5,)); d = L.GRU(6)(L.Embedding(40, 8)(di), initial_state=[h])\n"
              "m = keras.Model([ei, di], L.Dense(3)(L.concatenate([d, c])))\n"
              "m.save(sys.argv[1] + '/theirs.keras')\n"
              "a, b = np.arange(14).reshape(2, 7) % 50, np.arange(10).reshape(2, 5) % 40\n"
              "print(json.dumps(keras.ops.convert_to_numpy(m.predict([a, b], verbose=0)).tolist()))\n")
    theirs = np.asarray(run_keras(["-c", script, str(tmp_path)], cwd=str(tmp_path)))
    loaded = keras.models.load_model(str(tmp_path / "theirs.keras"))
    a, b = np.arange(14).reshape(2, 7) % 50, np.arange(10).reshape(2, 5) % 40
    np.testing.assert_allclose(loaded.predict([a, b], verbose=0), theirs, rtol=1e-5, atol=1e-6)


class _Twin(keras.Model):
    """The shared-LSTM graph below as a subclassed model (the traced path, checked on its own)."""

    def __init__(self, lstm, mix, dense):
        super().__init__()
        self.lstm, self.mix, self.dense = lstm, mix, dense

    def call(self, x):
        o1, h1, _ = self.lstm(x)
        _, _, c2 = self.lstm(self.mix(x))
        return self.dense(ops.concatenate([h1, c2, o1], axis=-1))


def test_a_graph_of_several_outputs_gets_the_gradients_of_the_same_model_traced():
    """Each output of a return_state call (and a layer called twice) takes its own gradient."""
    a = keras.Input((5, 3))
    lstm, mix, dense = keras.layers.LSTM(4, return_state=True), keras.layers.Dense(3), keras.layers.Dense(1)
    o1, h1, _ = lstm(a)
    _, _, c2 = lstm(mix(a))
    graph = keras.Model(a, dense(keras.layers.concatenate([h1, c2, o1])))
    r = np.random.default_rng(5)
    x = r.standard_normal((8, 5, 3)).astype(np.float32)
    y = r.standard_normal((8, 1)).astype(np.float32)
    start = graph.get_weights()
    twin = _Twin(keras.layers.LSTM(4, return_state=True), keras.layers.Dense(3), keras.layers.Dense(1))
    twin(x)
    twin.set_weights([start[i] for i in _twin_order(graph, twin)])
    deltas = []
    for model in (graph, twin):
        model.compile(keras.optimizers.SGD(1.0), "mse")
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        deltas.append({w.path.split("/", 1)[-1] + str(w.shape): v - s for w, v, s in
                       zip(model.weights, model.get_weights(), start if model is graph else
                           [start[i] for i in _twin_order(graph, twin)])})
    assert sorted(deltas[0]) == sorted(deltas[1])
    for key, g in deltas[0].items():
        np.testing.assert_allclose(g, deltas[1][key], rtol=1e-4, atol=1e-6, err_msg=key)
        assert np.abs(g).max() > 0, key


def _twin_order(graph, twin):
    """Where each of the twin's weights is among the graph's (matched by kind and shape)."""
    names = [type(w._layer).__name__ + str(w.shape) for w in graph.weights]
    return [names.index(type(w._layer).__name__ + str(w.shape)) for w in twin.weights]


def test_gru_with_reset_after_false_as_keras_2_wrote_it(tmp_path):
    """reset_after=False: r scales the state before the candidate's projection, one bias of 3
    units; the layer steps its cell (the fused op has the other formulation). Against a numpy
    loop, its gradients against central differences, and Keras 3 predicting from our file."""
    x = rng.standard_normal((2, 5, 3))
    layer = keras.layers.GRU(4, reset_after=False, return_sequences=True)
    layer(x[:, :1].astype(np.float32))
    assert [w.shape for w in layer.get_weights()] == [(3, 12), (4, 12), (12,)]
    layer.set_weights([w + rng.uniform(-0.5, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    kernel, recurrent, bias = (w.astype(np.float64) for w in layer.get_weights())
    h, want = np.zeros((2, 4)), []
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    for t in range(5):
        xz, xr, xh = np.split(x[:, t] @ kernel + bias, 3, axis=-1)
        z, r = sigmoid(xz + h @ recurrent[:, :4]), sigmoid(xr + h @ recurrent[:, 4:8])
        h = z * h + (1 - z) * np.tanh(xh + (r * h) @ recurrent[:, 8:])
        want.append(h)
    np.testing.assert_allclose(layer(x.astype(np.float32)), np.stack(want, axis=1), rtol=2e-5, atol=2e-6)
    assert layer.get_config()["reset_after"] is False
    gradcheck(lambda v: keras.layers.GRU(3, reset_after=False, seed=1)(v), x, tol=1e-5)
    inputs = keras.Input((5, 3))  # (the layer called eagerly, then on a symbolic input: its weights kept)
    model = keras.Model(inputs, keras.layers.Dense(2)(layer(inputs)))
    from keras3 import keras_predictions
    np.testing.assert_allclose(keras_predictions(model, x.astype(np.float32), tmp_path),
                               model.predict(x.astype(np.float32), verbose=0), rtol=1e-5, atol=1e-6)


def test_rnn_of_a_list_of_cells_stacks_them_as_keras(tmp_path):
    """RNN([LSTMCell, GRUCell]) (StackedRNNCells): the same as the two layers one after the other
    with the same weights, its gradients against central differences, its file read by Keras 3
    and by us."""
    x = rng.standard_normal((3, 6, 5)).astype(np.float32)
    inputs = keras.Input((6, 5))
    rnn = keras.layers.RNN([keras.layers.LSTMCell(4), keras.layers.GRUCell(3)], return_sequences=True)
    model = keras.Model(inputs, rnn(inputs))
    assert isinstance(rnn.cell, keras.layers.StackedRNNCells) and rnn.state_size == [4, 4, 3]
    weights = model.get_weights()
    first, second = keras.layers.LSTM(4, return_sequences=True), keras.layers.GRU(3, return_sequences=True)
    first(x[:, :1])
    second(np.zeros((3, 1, 4), np.float32))
    first.set_weights(weights[:3])
    second.set_weights(weights[3:])
    want = second(first(x))
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    gradcheck(lambda v: keras.layers.RNN(keras.layers.StackedRNNCells(
        [keras.layers.SimpleRNNCell(3, seed=1), keras.layers.GRUCell(2, seed=2)]))(v), x[:2, :3].astype(np.float64),
        tol=1e-5)
    from keras3 import keras_predictions
    np.testing.assert_allclose(keras_predictions(model, x, tmp_path), want, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "stacked.keras")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "stacked.keras").predict(x, verbose=0), want,
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="StackedRNNCells"):
        keras.layers.RNN([])
