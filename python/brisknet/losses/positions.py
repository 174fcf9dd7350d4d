"""Outputs with several positions per sample (batch, steps..., units): a sequence model's
prediction at every step. As in Keras, a built-in loss and the metrics take each position as a
row: a sample's loss is the mean over its positions, sample weights are per sample (then every
position of it) or per position (batch, steps...), and 'sum_over_batch_size' divides by samples
x positions. A custom loss gets the whole arrays."""
from __future__ import annotations

import math

import numpy as np


def count(sample_shape) -> int:
    """Positions per sample of an output of this per-sample shape (1: a flat output)."""
    return math.prod(sample_shape[:-1]) if len(sample_shape) > 1 else 1


def _rows_of(loss, y_pred) -> bool:
    return y_pred.ndim > 2 and not loss._is_custom()


def rows(y_true, y_pred, sample_weight):
    """(targets, predictions, sample weights) with one row per position."""
    n, units = y_pred.shape[0], y_pred.shape[-1]
    p = y_pred.size // max(1, n * units)
    y_rows = np.asarray(y_true).reshape((n * p,) + np.shape(y_true)[y_pred.ndim - 1:])
    if sample_weight is not None:
        sw = np.asarray(sample_weight, np.float32)
        sample_weight = sw.reshape(-1) if sw.size == n * p and sw.ndim > 1 else np.repeat(sw.reshape(-1), p)
    return y_rows, y_pred.reshape(n * p, units), sample_weight


def per_sample(loss, y_true, y_pred, sample_weight=None, return_grad=False, grad_scale=1.0, from_logits=None):
    """loss.per_sample, positions as rows (each sample's loss the mean over its positions)."""
    if not _rows_of(loss, y_pred):
        return loss.per_sample(y_true, y_pred, sample_weight, return_grad, grad_scale, from_logits)
    n = y_pred.shape[0]
    p = y_pred.size // max(1, n * y_pred.shape[-1])
    y_rows, pred_rows, sw_rows = rows(y_true, y_pred, sample_weight)
    out = loss.per_sample(y_rows, pred_rows, sw_rows, return_grad, grad_scale / p, from_logits)
    per = (out[0] if return_grad else out).reshape(n, p).mean(axis=1)
    return (per, out[1].reshape(y_pred.shape)) if return_grad else per


def prepare_targets(loss, y, sample_shape, what="y"):
    """loss.prepare_targets for an output of this per-sample shape: y of shape (samples,
    positions..., targets of one position), checked and converted position by position."""
    if len(sample_shape) <= 1 or loss._is_custom():
        return loss.prepare_targets(y, sample_shape[-1])
    steps = tuple(sample_shape[:-1])
    n = y.shape[0]
    if tuple(y.shape[1:1 + len(steps)]) != steps:
        raise ValueError(f"{what} has shape {y.shape}, but the model outputs {steps} positions of {sample_shape[-1]} "
                         f"values per sample: {what} must be (samples, {', '.join(map(str, steps))}, ...)")
    prepared = loss.prepare_targets(y.reshape((n * math.prod(steps),) + y.shape[1 + len(steps):]), sample_shape[-1])
    return prepared.reshape((n,) + steps + prepared.shape[1:])


def check_sample_weight(sample_weight, sample_shape):
    """Sample weights per sample (samples,), or per position (samples, positions...)."""
    if sample_weight is None or sample_weight.ndim == 1:
        return sample_weight
    steps = tuple(sample_shape[:-1])
    if len(sample_shape) <= 1 or tuple(sample_weight.shape[1:]) != steps:
        raise ValueError(f"sample_weight has shape {sample_weight.shape}; expected (samples,)" +
                         (f" or (samples, {', '.join(map(str, steps))}) (one weight per position)" if steps else ""))
    return sample_weight


def masked_weights(sample_weight, mask, reduction):
    """Keras' apply_mask: the output's mask (samples, positions) as weights per position, scaled
    so that a mean reduction averages over the positions kept; times the sample weights."""
    weights = np.asarray(mask, np.float32)
    if reduction in ("sum_over_batch_size", "mean"):
        weights *= weights.size / (weights.sum() + 1e-7)
    if sample_weight is not None:
        sw = np.asarray(sample_weight, np.float32)
        weights = weights * sw.reshape(sw.shape + (1,) * (weights.ndim - sw.ndim))
    return weights
