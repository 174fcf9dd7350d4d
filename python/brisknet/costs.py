"""How much compute and memory a model needs: the FLOP and memory counts model.summary() prints
(estimate.py times real steps for a fit's wall time)."""
from __future__ import annotations

import math


# Element-wise work per output value, beside the matrix products (which dominate): bias add,
# activation, its gradient. Counted as one FLOP each; a tanh is really ~20, but all of them
# together are a few percent of a Dense layer's 2 * inputs FLOPs per output.


def layer_flops(layer) -> tuple:
    """(forward, backward) FLOPs per sample of a built layer: a Dense layer's matrix products
    (2 x inputs x units forward; the same again for dW and, but in the first layer, for dX)."""
    from .layers import RNN, Bidirectional, Conv2D, Dense
    if isinstance(layer, Bidirectional):  # its two directions, on its input
        (f1, b1), (f2, b2) = (_rnn_flops(r, layer.input_shape) for r in (layer.forward_layer, layer.backward_layer))
        return f1 + f2, b1 + b2
    if isinstance(layer, RNN):
        return _rnn_flops(layer, layer.input_shape)
    if isinstance(layer, Conv2D):  # a GEMM per output position: 2 x taps x filters / groups
        positions = math.prod(layer.output_shape[:-1])
        mm = 2 * positions * math.prod(layer.kernel_size) * (layer.input_shape[-1] // layer.groups) * layer.filters
        return mm, 2 * mm
    if layer.output_shape is None:  # (a custom layer's sublayer run in line: its ops are not counted)
        return 0, 0
    if not isinstance(layer, Dense):
        n = math.prod(layer.output_shape)
        elementwise = ("Activation", "Dropout", "Softmax", "ReLU", "LeakyReLU", "ELU", "Normalization", "Rescaling",
                       "BatchNormalization", "LayerNormalization", "Add", "Subtract", "Multiply", "Average",
                       "Maximum", "Minimum", "GaussianNoise", "GaussianDropout")
        return (n, n) if type(layer).__name__ in elementwise else (0, 0)
    positions = math.prod(layer.input_shape[:-1])  # (a sequence: each step through the same kernel)
    mm = 2 * positions * layer.input_shape[-1] * layer.units
    extra = positions * layer.units * (int(layer.use_bias) + int(layer.activation != "linear"))
    return mm + extra, 2 * mm + extra  # backward: dW and dX (the caller drops dX of the first layer)


def _rnn_flops(layer, input_shape) -> tuple:
    """A built-in recurrent layer's: per step, the input and the recurrent products of every gate."""
    from .layers.recurrent import _FUSED
    if input_shape is None or isinstance(input_shape, list) or type(layer.cell) not in _FUSED \
            or None in input_shape or getattr(layer.cell, "kernel", None) is None:
        return 0, 0
    steps, features = input_shape
    gates = layer.cell.kernel.shape[1]
    mm = 2 * steps * (features + layer.cell.units) * gates
    return mm, 2 * mm


def model_flops(model) -> dict:
    """FLOPs per sample: 'forward' (inference) and 'training' (forward + backward + update)."""
    forward = backward = 0
    first = True
    for layer in model._layers:
        f, b = layer_flops(layer)
        if first and type(layer).__name__ == "Dense":  # no gradient is needed for the model's input
            b -= 2 * math.prod(layer.input_shape) * layer.units
            first = False
        elif first and hasattr(layer, "filters"):
            b -= f
            first = False
        forward, backward = forward + f, backward + b
    return {"forward": forward, "training": forward + backward}


def _state_arrays_per_param(optimizer) -> int:
    if optimizer is None:
        return 0
    if optimizer._size is not None:
        return len(optimizer.state_arrays())
    # not built yet: what _build_state would allocate
    return {"Adam": 2 + int(getattr(optimizer, "amsgrad", False)), "AdamW": 2 + int(getattr(optimizer, "amsgrad", False)),
            "SGD": int(getattr(optimizer, "momentum", 0) > 0), "Adagrad": 1,
            "RMSprop": 1 + int(getattr(optimizer, "centered", False)) + int(getattr(optimizer, "momentum", 0) > 0),
            "Adamax": 2, "Nadam": 2, "Adadelta": 2, "Lion": 1}.get(type(optimizer).__name__, 0)


def model_memory(model, batch_size: int) -> dict:
    """Bytes of float32 parameters, their gradients, the optimizer state and the activations
    kept for the backward pass at `batch_size` (inputs, pre-activations and outputs)."""
    params = 4 * model.count_params()
    # (several inputs: side by side; sizes known only at run time: the layers' sizes now)
    per_sample = math.prod(model._input_shape) if None not in model._input_shape else \
        math.prod(model._run_order()[0].input_shape)
    for layer in model._layers:
        if layer.output_shape is None:
            continue
        n = math.prod(layer.output_shape)
        nonlinear = getattr(layer, "activation", "linear") != "linear" or type(layer).__name__ == "Dropout"
        per_sample += n * (2 if nonlinear else 1) * 2  # the values and their gradient
    return {"parameters": params, "gradients": params,
            "optimizer_state": params * _state_arrays_per_param(model.optimizer),
            "activations": 4 * per_sample * batch_size}
