"""export_onnx: a model's inference graph as ONNX (opset 17), which onnxruntime runs with
model.predict's results. Takes the model as an argument and imports nothing of brisknet.models;
onnx is an optional extra, imported only when called."""
from __future__ import annotations

import math

import numpy as np

from .brisk_format import atomic_write
from .layers import Activation, Dense, Dropout, Flatten


def require(module, extra):
    """An optional extra, imported on first use, or ImportError saying how to install it."""
    try:
        return __import__(module)
    except ImportError:
        raise ImportError(f"this needs {module}: pip install 'brisknet[{extra}]'") from None


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
    onnx = require("onnx", "onnx")
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
    atomic_write(path, proto.SerializeToString())
