"""numpy truth for every kernel: activations, losses and Keras' optimizer update rules, written
straight from the formulas (float64 unless the caller passes float32)."""
from __future__ import annotations

import math

import numpy as np

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
EPS = 1e-7


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def sigmoid(x):
    return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(x):
    s = x - x.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))),
    "gelu": lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))),
    "gelu_tanh": lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
    "sigmoid": sigmoid,
    "hard_sigmoid": lambda x: np.clip(x / 6 + 0.5, 0, 1),
    "tanh": np.tanh,
    "softplus": lambda x: np.logaddexp(0, x),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "swish": lambda x: x * sigmoid(x),
    "softmax": softmax,
    "log_softmax": log_softmax,
    "exponential": np.exp,
    "mish": lambda x: x * np.tanh(np.logaddexp(0, x)),
    "hard_silu": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "log_sigmoid": lambda x: -np.logaddexp(0, -x),
    "hard_tanh": lambda x: np.clip(x, -1, 1),
}


# ------------------------------------------------------------------------------ losses (per sample)
def _normalised_clipped(p):
    p = p / p.sum(axis=-1, keepdims=True)
    return np.clip(p, EPS, 1 - EPS)


def sparse_cce(labels, pred, from_logits=False):
    rows = np.arange(pred.shape[0])
    if from_logits:
        return -log_softmax(pred)[rows, labels]
    return -np.log(_normalised_clipped(pred)[rows, labels])


def cce(target, pred, from_logits=False):
    if from_logits:
        return -(target * log_softmax(pred)).sum(axis=-1)
    return -(target * np.log(_normalised_clipped(pred))).sum(axis=-1)


def bce(target, pred, from_logits=False):
    if from_logits:
        return (np.maximum(pred, 0) - pred * target + np.log1p(np.exp(-np.abs(pred)))).mean(axis=-1)
    p = np.clip(pred, EPS, 1 - EPS)
    return -(target * np.log(p) + (1 - target) * np.log(1 - p)).mean(axis=-1)


def mse(target, pred):
    return ((pred - target) ** 2).mean(axis=-1)


def mae(target, pred):
    return np.abs(pred - target).mean(axis=-1)


def huber(target, pred, delta=1.0):
    e = np.abs(pred - target)
    return np.where(e <= delta, 0.5 * e**2, delta * (e - 0.5 * delta)).mean(axis=-1)


# ------------------------------------------------------------------- optimizers (Keras 3 rules)
def sgd(p, g, v, lr=0.01, momentum=0.0, nesterov=False):
    if momentum == 0:
        return p - lr * g, v
    v = momentum * v - lr * g
    return (p + momentum * v - lr * g if nesterov else p + v), v


def adam(p, g, m, v, t, lr=0.001, b1=0.9, b2=0.999, eps=1e-7, vhat=None, weight_decay=0.0):
    p = p - p * weight_decay * lr
    alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
    m = m + (g - m) * (1 - b1)
    v = v + (g * g - v) * (1 - b2)
    denom = v
    if vhat is not None:
        vhat = np.maximum(vhat, v)
        denom = vhat
    return p - alpha * m / (np.sqrt(denom) + eps), m, v, vhat


def rmsprop(p, g, vel, lr=0.001, rho=0.9, momentum=0.0, eps=1e-7, avg=None, mom=None):
    vel = rho * vel + (1 - rho) * g * g
    if avg is not None:
        avg = rho * avg + (1 - rho) * g
        denom = vel - avg * avg + eps
    else:
        denom = vel + eps
    inc = lr * g / np.sqrt(denom)
    if momentum > 0:
        mom = momentum * mom + inc
        return p - mom, vel, avg, mom
    return p - inc, vel, avg, mom


def adagrad(p, g, acc, lr=0.001, eps=1e-7):
    acc = acc + g * g
    return p - lr * g / np.sqrt(acc + eps), acc
