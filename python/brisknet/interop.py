"""Ways in and out of the tools users already have: PyTorch (from_torch / to_torch, a
torch.nn.Sequential of Linear, activation, Dropout and Flatten modules, weights included) and ONNX
(export_onnx, a graph onnxruntime runs). torch and onnx are optional: imported only when called."""
from __future__ import annotations

import math

import numpy as np

from . import layers as layers_module
from .layers import ELU, Activation, Dense, Dropout, Flatten, LeakyReLU

_ALPHA_DEFAULT = {"leaky_relu": 0.2, "elu": 1.0}  # Keras' defaults, which the layers use


def _require(module, extra):
    try:
        return __import__(module)
    except ImportError:
        raise ImportError(f"this needs {module}: pip install 'brisknet[{extra}]'") from None


# ----------------------------------------------------------------------------------- PyTorch
def _torch_activation(module):
    """(Keras activation name, alpha) of a torch activation module, or None if it is not one."""
    nn = _require("torch", "torch").nn
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
    torch = _require("torch", "torch")
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
    from .models import Sequential
    model = Sequential([layers_module.Input(tuple(input_shape)), *stack])
    model.set_weights(weights)
    return model


def _torch_modules_for(name, alpha):
    """alpha: the layer's slope (leaky_relu) or alpha (elu)."""
    nn = _require("torch", "torch").nn
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
    torch = _require("torch", "torch")
    nn = torch.nn
    model._require_built("to_torch")
    modules = []
    for layer in model._layers:
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


# ---------------------------------------------------------------------------------------- ONNX
def _onnx_activation(name, x, out, make, alpha):
    """Nodes computing out = activation(x): ONNX operators, or compositions of them (opset 17);
    alpha: the layer's slope (leaky_relu) or alpha (elu)."""
    node, const = make
    if name == "linear":
        return [node("Identity", [x], [out])]
    direct = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "softplus": "Softplus", "softsign": "Softsign"}
    if name in direct:
        return [node(direct[name], [x], [out])]
    if name == "elu":
        return [node("Elu", [x], [out], alpha=float(alpha))]
    if name == "leaky_relu":
        return [node("LeakyRelu", [x], [out], alpha=float(alpha))]
    if name == "relu6":
        return [node("Clip", [x, const(out + "_lo", 0.0), const(out + "_hi", 6.0)], [out])]
    if name == "hard_tanh":
        return [node("Clip", [x, const(out + "_lo1", -1.0), const(out + "_hi1", 1.0)], [out])]
    if name == "exponential":
        return [node("Exp", [x], [out])]
    if name == "hard_silu":
        return [node("HardSwish", [x], [out])]
    if name == "mish":  # x tanh(softplus(x))
        return [node("Softplus", [x], [out + "_sp"]), node("Tanh", [out + "_sp"], [out + "_t"]),
                node("Mul", [x, out + "_t"], [out])]
    if name == "log_sigmoid":  # -softplus(-x)
        return [node("Neg", [x], [out + "_n"]), node("Softplus", [out + "_n"], [out + "_sp"]),
                node("Neg", [out + "_sp"], [out])]
    if name == "selu":
        return [node("Selu", [x], [out], alpha=1.6732632423543772, gamma=1.0507009873554805)]
    if name == "hard_sigmoid":  # Keras 3: relu6(x + 3) / 6 = clip(x / 6 + 0.5, 0, 1)
        return [node("HardSigmoid", [x], [out], alpha=1.0 / 6.0, beta=0.5)]
    if name in ("softmax", "log_softmax"):
        return [node("Softmax" if name == "softmax" else "LogSoftmax", [x], [out], axis=-1)]
    if name == "swish":
        return [node("Sigmoid", [x], [out + "_sig"]), node("Mul", [x, out + "_sig"], [out])]
    if name == "gelu":  # 0.5 x (1 + erf(x / sqrt 2))
        return [node("Mul", [x, const(out + "_c", 1 / math.sqrt(2))], [out + "_s"]),
                node("Erf", [out + "_s"], [out + "_e"]),
                node("Add", [out + "_e", const(out + "_one", 1.0)], [out + "_p"]),
                node("Mul", [x, out + "_p"], [out + "_xp"]),
                node("Mul", [out + "_xp", const(out + "_half", 0.5)], [out])]
    if name == "gelu_tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        return [node("Mul", [x, x], [out + "_x2"]), node("Mul", [out + "_x2", x], [out + "_x3"]),
                node("Mul", [out + "_x3", const(out + "_k", 0.044715)], [out + "_kx3"]),
                node("Add", [x, out + "_kx3"], [out + "_in"]),
                node("Mul", [out + "_in", const(out + "_c", math.sqrt(2 / math.pi))], [out + "_arg"]),
                node("Tanh", [out + "_arg"], [out + "_t"]),
                node("Add", [out + "_t", const(out + "_one", 1.0)], [out + "_p"]),
                node("Mul", [x, out + "_p"], [out + "_xp"]),
                node("Mul", [out + "_xp", const(out + "_half", 0.5)], [out])]
    raise ValueError(f"export_onnx: no ONNX form for activation {name!r}")


def export_onnx(model, path, opset=17):
    """Writes an ONNX graph of the model for inference (input 'input' of shape (batch, ...),
    output 'output'); onnxruntime's predictions equal model.predict to float32 rounding. Dropout is
    left out (inference). The file is written atomically."""
    onnx = _require("onnx", "onnx")
    from onnx import TensorProto, helper, numpy_helper
    model._require_built("export_onnx")
    nodes, initializers, constants = [], [], {}

    def node(op, inputs, outputs, **attrs):
        return helper.make_node(op, inputs, outputs, name=outputs[0], **attrs)

    def const(name, value):
        if name not in constants:
            constants[name] = numpy_helper.from_array(np.array(value, np.float32), name)
            initializers.append(constants[name])
        return name

    current = "input"
    for i, layer in enumerate(model._layers):
        out = f"layer{i}_{layer.name}"
        if isinstance(layer, Dense):
            initializers.append(numpy_helper.from_array(np.array(layer.kernel, np.float32), out + "_kernel"))
            inputs = [current, out + "_kernel"]
            if layer.use_bias:
                initializers.append(numpy_helper.from_array(np.array(layer.bias, np.float32), out + "_bias"))
                inputs.append(out + "_bias")
                nodes.append(node("Gemm", inputs, [out + "_z"]))
            else:
                nodes.append(node("MatMul", inputs, [out + "_z"]))
            nodes += _onnx_activation(layer.activation, out + "_z", out, (node, const), layer._alpha)
        elif isinstance(layer, Activation):
            nodes += _onnx_activation(layer.activation, current, out, (node, const), layer._alpha)
        elif isinstance(layer, Dropout):
            continue
        elif isinstance(layer, Flatten):
            nodes.append(node("Flatten", [current], [out], axis=1))
        else:
            raise ValueError(f"export_onnx: layer {layer.name!r} ({type(layer).__name__}) has no ONNX form")
        current = out
    nodes.append(node("Identity", [current], ["output"]))
    graph = helper.make_graph(
        nodes, model.name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", *model.input_shape[1:]])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", *model.output_shape[1:]])],
        initializers)
    proto = helper.make_model(graph, producer_name="brisknet", opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(proto)
    from .brisk_format import atomic_write
    atomic_write(path, proto.SerializeToString())
