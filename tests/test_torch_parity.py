"""A second opinion: PyTorch, given identical initial weights, computes the same activations,
losses, SGD/Adam steps and a short fit with validation_split. Skipped when torch is absent."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import layers, kernels

torch = pytest.importorskip("torch")
F = torch.nn.functional

TORCH_ACTIVATIONS = {
    "relu": F.relu, "leaky_relu": lambda x: F.leaky_relu(x, 0.2), "elu": F.elu, "selu": F.selu,
    "gelu": F.gelu, "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"), "sigmoid": torch.sigmoid,
    "hard_sigmoid": F.hardsigmoid, "tanh": torch.tanh, "softplus": F.softplus, "softsign": F.softsign,
    "swish": F.silu, "softmax": lambda x: F.softmax(x, -1), "log_softmax": lambda x: F.log_softmax(x, -1),
    "relu6": F.relu6, "exponential": torch.exp, "mish": F.mish, "hard_silu": F.hardswish,
    "log_sigmoid": F.logsigmoid, "hard_tanh": F.hardtanh,
}


@pytest.mark.parametrize("name", sorted(TORCH_ACTIVATIONS))
def test_activations_match_torch(rng, name):
    x = (rng.standard_normal((16, 9)) * 4).astype(np.float32)
    want = TORCH_ACTIVATIONS[name](torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(kernels.activation(x, name), want, rtol=2e-6, atol=2e-6)


def test_losses_match_torch(rng):
    logits = rng.standard_normal((32, 5)).astype(np.float32)
    labels = rng.integers(0, 5, 32)
    t_logits, t_labels = torch.from_numpy(logits), torch.from_numpy(labels)
    np.testing.assert_allclose(kernels.sparse_categorical_crossentropy(labels, logits, from_logits=True),
                               F.cross_entropy(t_logits, t_labels, reduction="none").numpy(), rtol=1e-5)
    onehot = np.eye(5, dtype=np.float32)[labels]
    np.testing.assert_allclose(kernels.categorical_crossentropy(onehot, logits, from_logits=True),
                               F.cross_entropy(t_logits, torch.from_numpy(onehot), reduction="none").numpy(), rtol=1e-5)
    target = rng.uniform(0, 1, (32, 5)).astype(np.float32)
    tt = torch.from_numpy(target)
    np.testing.assert_allclose(kernels.binary_crossentropy(target, logits, from_logits=True),
                               F.binary_cross_entropy_with_logits(t_logits, tt, reduction="none").mean(-1).numpy(), rtol=1e-5)
    probs = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(kernels.binary_crossentropy(target, probs),
                               F.binary_cross_entropy(torch.from_numpy(probs), tt, reduction="none").mean(-1).numpy(), rtol=1e-4)
    np.testing.assert_allclose(kernels.mean_squared_error(target, logits), F.mse_loss(t_logits, tt, reduction="none").mean(-1).numpy(), rtol=1e-5)
    np.testing.assert_allclose(kernels.mean_absolute_error(target, logits), F.l1_loss(t_logits, tt, reduction="none").mean(-1).numpy(), rtol=1e-5)
    np.testing.assert_allclose(kernels.huber(target, logits, delta=0.5),
                               F.huber_loss(t_logits, tt, reduction="none", delta=0.5).mean(-1).numpy(), rtol=1e-5)


def twin_models(rng, sizes=(12, 16, 8, 4)):
    """A brisknet MLP and a torch one holding the same weights (torch Linear weight = kernel.T)."""
    model = keras.Sequential([keras.Input((sizes[0],))] +
                             [layers.Dense(n, activation="relu") for n in sizes[1:-1]] +
                             [layers.Dense(sizes[-1], activation="softmax")])
    model.build()
    mods = []
    for i in range(len(sizes) - 1):
        mods.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            mods.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*mods)
    weights = model.get_weights()
    with torch.no_grad():
        for lin, (k, b) in zip([m for m in mods if isinstance(m, torch.nn.Linear)], zip(weights[::2], weights[1::2])):
            lin.weight.copy_(torch.from_numpy(k.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
    return model, net


def torch_kernels(net):
    out = []
    for m in net:
        if isinstance(m, torch.nn.Linear):
            out += [m.weight.detach().numpy().T, m.bias.detach().numpy()]
    return out


def assert_same_weights(model, net, tol):
    for a, b in zip(model.get_weights(), torch_kernels(net)):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_one_sgd_step(rng):
    model, net = twin_models(rng)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    x = rng.standard_normal((32, 12)).astype(np.float32)
    y = rng.integers(0, 4, 32)
    loss = model.train_on_batch(x, y)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    t_loss = F.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y))
    t_loss.backward()
    opt.step()
    assert loss == pytest.approx(t_loss.item(), rel=1e-5)
    assert_same_weights(model, net, 1e-5)


def test_adam_steps(rng):
    """torch adds eps after the bias correction, Keras before: with a negligible eps they agree."""
    model, net = twin_models(rng)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01, epsilon=1e-12),
                  loss="sparse_categorical_crossentropy")
    opt = torch.optim.Adam(net.parameters(), lr=0.01, eps=1e-12)
    for _ in range(5):
        x = rng.standard_normal((16, 12)).astype(np.float32)
        y = rng.integers(0, 4, 16)
        model.train_on_batch(x, y)
        opt.zero_grad()
        F.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        opt.step()
    assert_same_weights(model, net, 2e-5)


def test_short_fit_with_validation_split(rng):
    model, net = twin_models(rng)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x = rng.standard_normal((100, 12)).astype(np.float32)
    y = rng.integers(0, 4, 100)
    h = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.2, shuffle=False, verbose=0)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for epoch in range(3):
        total = 0.0
        for s in range(0, 80, 16):
            opt.zero_grad()
            loss = F.cross_entropy(net(xt[s:min(s + 16, 80)]), yt[s:min(s + 16, 80)])
            loss.backward()
            opt.step()
            total += loss.item() * min(16, 80 - s)
        with torch.no_grad():
            out = net(xt[80:])
            val_loss = F.cross_entropy(out, yt[80:]).item()
            val_acc = (out.argmax(1) == yt[80:]).float().mean().item()
        assert h.history["loss"][epoch] == pytest.approx(total / 80, rel=1e-5)
        assert h.history["val_loss"][epoch] == pytest.approx(val_loss, rel=1e-5)
        assert h.history["val_accuracy"][epoch] == pytest.approx(val_acc)
