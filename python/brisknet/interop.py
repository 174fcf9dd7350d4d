"""Ways in and out of the tools users already have: PyTorch (from_torch / to_torch, a
torch.nn.Sequential of Linear, activation, Dropout and Flatten modules, weights included) and ONNX
(export_onnx, from onnx_export.py, a graph onnxruntime runs). torch and onnx are optional:
imported only when called."""
from __future__ import annotations


import numpy as np

from . import layers as layers_module
from .layers import ELU, Activation, Dense, Dropout, Flatten, LeakyReLU
from .models import Sequential
from .onnx_export import export_onnx, require

__all__ = ["from_torch", "to_torch", "export_onnx"]

_ALPHA_DEFAULT = {"leaky_relu": 0.2, "elu": 1.0}  # Keras' defaults, which the layers use


# ----------------------------------------------------------------------------------- PyTorch
def _torch_activation(module):
    """(Keras activation name, alpha) of a torch activation module, or None if it is not one."""
    nn = require("torch", "torch").nn
    simple = {nn.ReLU: "relu", nn.ReLU6: "relu6", nn.Mish: "mish", nn.Hardswish: "hard_silu",
              nn.LogSigmoid: "log_sigmoid", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.SELU: "selu", nn.SiLU: "swish",
              nn.Softsign: "softsign", nn.Hardsigmoid: "hard_sigmoid", nn.Identity: "linear"}
    for cls, name in simple.items():
        if type(module) is cls:
            return name, None
    if type(module) is nn.Hardtanh and module.min_val == -1 and module.max_val == 1:
        return "hard_tanh", None
    if type(module) is nn.GELU:
        return ("gelu_tanh" if module.approximate == "tanh" else "gelu"), None
    if type(module) is nn.ELU:
        return "elu", float(module.alpha)
    if type(module) is nn.LeakyReLU:
        return "leaky_relu", float(module.negative_slope)
    if type(module) is nn.Softplus:
        if module.beta != 1:
            raise ValueError(f"from_torch: Softplus(beta={module.beta}) has no Keras equivalent (beta must be 1)")
        return "softplus", None
    if type(module) in (nn.Softmax, nn.LogSoftmax):
        if module.dim not in (-1, 1, None):
            raise ValueError(f"from_torch: {type(module).__name__}(dim={module.dim}) must act on the last axis")
        return ("softmax" if type(module) is nn.Softmax else "log_softmax"), None
    return None


def from_torch(module, input_shape=None):
    """The brisknet Sequential equivalent to a torch.nn.Sequential of Linear, activation, Dropout
    and Flatten modules, with the same weights (kernel = weight.T). Returns an uncompiled, built
    model; an activation right after a Linear becomes that Dense layer's activation."""
    torch = require("torch", "torch")
    nn = torch.nn
    if not isinstance(module, nn.Sequential):
        raise TypeError(f"from_torch: expected a torch.nn.Sequential, got {type(module).__name__}")
    stack, weights = [], []
    for i, m in enumerate(module):
        act = _torch_activation(m)
        if isinstance(m, nn.Linear):
            stack.append(Dense(m.out_features, use_bias=m.bias is not None))
            weights.append(m.weight.detach().cpu().double().numpy().T)
            if m.bias is not None:
                weights.append(m.bias.detach().cpu().double().numpy())
            if input_shape is None and len(stack) == 1:
                input_shape = (m.in_features,)
        elif act is not None:
            name, alpha = act
            last = stack[-1] if stack else None
            if alpha is not None and alpha != _ALPHA_DEFAULT[name]:  # a layer of its own keeps the parameter
                stack.append(LeakyReLU(alpha) if name == "leaky_relu" else ELU(alpha))
            elif isinstance(last, Dense) and last.activation == "linear" and name != "linear":
                stack[-1] = Dense(last.units, activation=name, use_bias=last.use_bias)
            elif name != "linear":
                stack.append(Activation(name))
        elif isinstance(m, nn.Dropout):
            stack.append(Dropout(float(m.p)))
        elif isinstance(m, nn.Flatten):
            if m.start_dim != 1 or m.end_dim != -1:
                raise ValueError("from_torch: only Flatten(start_dim=1, end_dim=-1) is supported")
            stack.append(Flatten())
        else:
            raise ValueError(f"from_torch: module {i} ({type(m).__name__}) has no brisknet equivalent; "
                             "supported: Linear, activations, Dropout, Flatten")
    if input_shape is None:
        raise ValueError("from_torch: give input_shape (the module has no Linear to infer it from)")
    model = Sequential([layers_module.Input(tuple(input_shape)), *stack])
    model.set_weights(weights)
    return model


def _torch_modules_for(name, alpha):
    """alpha: the layer's slope (leaky_relu) or alpha (elu)."""
    nn = require("torch", "torch").nn
    modules = {"linear": [], "relu": [nn.ReLU()], "relu6": [nn.ReLU6()], "tanh": [nn.Tanh()], "sigmoid": [nn.Sigmoid()],
            "selu": [nn.SELU()], "swish": [nn.SiLU()], "softsign": [nn.Softsign()],
            "hard_sigmoid": [nn.Hardsigmoid()], "gelu": [nn.GELU()], "gelu_tanh": [nn.GELU(approximate="tanh")],
            "elu": [nn.ELU(alpha)], "leaky_relu": [nn.LeakyReLU(alpha)], "softplus": [nn.Softplus()],
            "softmax": [nn.Softmax(dim=-1)], "log_softmax": [nn.LogSoftmax(dim=-1)], "mish": [nn.Mish()],
            "hard_silu": [nn.Hardswish()], "log_sigmoid": [nn.LogSigmoid()], "hard_tanh": [nn.Hardtanh()]}.get(name)
    if modules is None:
        raise ValueError(f"to_torch: activation {name!r} has no torch module")
    return modules


def to_torch(model):
    """A torch.nn.Sequential computing the same function as a built brisknet Sequential (float32
    weights copied; Dropout stays Dropout, active only in torch's train mode)."""
    torch = require("torch", "torch")
    nn = torch.nn
    model._require_built("to_torch")
    if not model._runs_as_chain():
        raise ValueError(f"to_torch: {model.name!r} is a graph of layers (merge or shared layers, several inputs or "
                         "outputs), which has no torch.nn.Sequential form; export_onnx writes it")
    modules = []
    for layer in model._run_order():
        if isinstance(layer, Dense):
            linear = nn.Linear(layer.input_shape[0], layer.units, bias=layer.use_bias)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.kernel.numpy().T)))
                if layer.use_bias:
                    linear.bias.copy_(torch.from_numpy(layer.bias.numpy()))
            modules += [linear, *_torch_modules_for(layer.activation, layer._alpha)]
        elif isinstance(layer, Activation):
            modules += _torch_modules_for(layer.activation, layer._alpha)
        elif isinstance(layer, Dropout):
            modules.append(nn.Dropout(layer.rate))
        elif isinstance(layer, Flatten):
            modules.append(nn.Flatten())
        else:
            raise ValueError(f"to_torch: layer {layer.name!r} ({type(layer).__name__}) has no torch equivalent")
    return nn.Sequential(*modules)
