"""export_onnx: a model's inference graph as ONNX (opset 17), which onnxruntime runs with
model.predict's results. Takes the model as an argument and imports nothing of brisknet.models;
onnx is an optional extra, imported only when called."""
from __future__ import annotations

import math

import numpy as np

from . import layers as L
from .brisk_format import atomic_write
from .layers.normalization import EPSILON


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


def _calls(model):
    """(layer, input tensor names, output name) in an order where each reads only earlier outputs,
    the graph's input names and output names: a functional model's graph, or a Sequential's chain."""
    g = getattr(model, "_graph", None)
    if g is None:
        calls, current = [], "input"
        for i, layer in enumerate(model._run_order()):
            calls.append((layer, [current], f"layer{i}_{layer.name}"))
            current = calls[-1][2]
        return calls, ["input"], [current]
    names = ["input"] if g.n_inputs == 1 else [f"input_{name}" for name in model.input_names]
    for i, node in enumerate(g.nodes):
        names.append(f"node{i}_{node.layer.name}")
    calls = [(node.layer, [names[j] for j in node.inputs], names[node.output]) for node in g.nodes]
    return calls, names[:g.n_inputs], [names[i] for i in g.outputs]


def _gamma_beta(layer):
    """A normalization layer's gamma and beta, ones and zeros where it has none."""
    gamma, beta = layer._gamma_beta()
    n = layer.input_shape[-1]
    return (np.ones(n, np.float32) if gamma is None else np.asarray(gamma, np.float32),
            np.zeros(n, np.float32) if beta is None else np.asarray(beta, np.float32))


def _layer_nodes(layer, ins, out, make, add_initializer):
    """ONNX nodes computing `out` from `ins` as the layer does at inference."""
    node, const = make
    x = ins[0]
    if isinstance(layer, L.Dense):
        inputs = [x, add_initializer(out + "_kernel", layer.kernel)]
        if layer.use_bias:
            inputs.append(add_initializer(out + "_bias", layer.bias))
        if layer.use_bias and len(layer.input_shape) > 1:  # (Gemm takes matrices alone)
            z = [node("MatMul", inputs[:2], [out + "_xw"]), node("Add", [out + "_xw", inputs[2]], [out + "_z"])]
        else:
            z = [node("Gemm" if layer.use_bias else "MatMul", inputs, [out + "_z"])]
        return z + _onnx_activation(layer.activation, out + "_z", out, make, layer._alpha)
    if isinstance(layer, L.Activation):
        return _onnx_activation(layer.activation, x, out, make, layer._alpha)
    if isinstance(layer, (L.Dropout, L.GaussianNoise, L.GaussianDropout, L.Identity)):
        return [node("Identity", [x], [out])]
    if isinstance(layer, L.Flatten):
        return [node("Flatten", [x], [out], axis=1)]
    if isinstance(layer, (L.Add, L.Maximum, L.Minimum, L.Average)):
        op = {L.Add: "Sum", L.Maximum: "Max", L.Minimum: "Min", L.Average: "Mean"}[type(layer)]
        return [node(op, ins, [out])]
    if isinstance(layer, L.Subtract):
        return [node("Sub", ins, [out])]
    if isinstance(layer, L.Multiply):
        if len(ins) == 1:
            return [node("Identity", ins, [out])]
        steps, current = [], ins[0]
        for k, other in enumerate(ins[1:], 1):
            name = out if k == len(ins) - 1 else f"{out}_{k}"
            steps.append(node("Mul", [current, other], [name]))
            current = name
        return steps
    if isinstance(layer, L.Concatenate):
        return [node("Concat", ins, [out], axis=layer._sample_axis(len(layer.input_shape[0])) + 1)]
    if isinstance(layer, L.BatchNormalization):  # inference: one scale and shift per feature
        gamma, beta = _gamma_beta(layer)
        scale = gamma / np.sqrt(layer._weights[-1] + np.float32(layer.epsilon))
        shift = np.asarray(beta, np.float32) - layer._weights[-2] * scale
        return [node("Mul", [x, add_initializer(out + "_scale", scale)], [out + "_s"]),
                node("Add", [out + "_s", add_initializer(out + "_shift", shift)], [out])]
    if isinstance(layer, L.LayerNormalization):
        gamma, beta = _gamma_beta(layer)
        return [node("LayerNormalization", [x, add_initializer(out + "_gamma", gamma),
                                            add_initializer(out + "_beta", beta)], [out], axis=-1,
                     epsilon=layer.epsilon)]
    if isinstance(layer, L.Embedding):
        return [node("Cast", [x], [out + "_idx"], to=7),  # int64
                node("Gather", [add_initializer(out + "_table", layer.embeddings), out + "_idx"], [out], axis=0)]
    if isinstance(layer, L.Reshape):
        shape = np.array([0, *layer.target_shape], np.int64)  # 0: the batch dimension as it is
        return [node("Reshape", [x, add_initializer(out + "_shape", shape)], [out])]
    if isinstance(layer, L.Permute):
        return [node("Transpose", [x], [out], perm=[0, *layer.dims])]
    if isinstance(layer, L.RepeatVector):
        return [node("Unsqueeze", [x, add_initializer(out + "_axis", np.array([1], np.int64))], [out + "_u"]),
                node("Tile", [out + "_u", add_initializer(out + "_reps", np.array([1, layer.n, 1], np.int64))],
                     [out])]
    if isinstance(layer, (L.GlobalAveragePooling1D, L.GlobalAveragePooling2D, L.GlobalMaxPooling1D,
                          L.GlobalMaxPooling2D)):
        op = "ReduceMean" if "Average" in type(layer).__name__ else "ReduceMax"
        return [node(op, [x], [out], axes=list(range(1, layer.rank + 1)), keepdims=int(layer.keepdims))]
    if isinstance(layer, L.Dot) and len(layer.input_shape[0]) == 1:  # (n,) . (n,) -> (1,)
        a, b = ins
        steps = []
        if layer.normalize:
            steps += [node("LpNormalization", [a], [out + "_na"], axis=1, p=2),
                      node("LpNormalization", [b], [out + "_nb"], axis=1, p=2)]
            a, b = out + "_na", out + "_nb"
        return steps + [node("Mul", [a, b], [out + "_p"]),
                        node("ReduceSum", [out + "_p", add_initializer(out + "_axes", np.array([1], np.int64))],
                             [out], keepdims=1)]
    if isinstance(layer, L.Normalization):
        mean, var = layer._stats()
        scale = np.maximum(np.sqrt(var), np.float32(EPSILON))
        if layer.invert:
            return [node("Mul", [x, add_initializer(out + "_scale", scale)], [out + "_s"]),
                    node("Add", [out + "_s", add_initializer(out + "_mean", mean)], [out])]
        return [node("Sub", [x, add_initializer(out + "_mean", mean)], [out + "_c"]),
                node("Div", [out + "_c", add_initializer(out + "_scale", scale)], [out])]
    if isinstance(layer, (L.Conv2D, L.MaxPooling1D, L.MaxPooling2D, L.AveragePooling1D, L.AveragePooling2D)):
        return _image_nodes(layer, x, out, make, add_initializer)  # (ONNX convolves NCHW: transposes around it)
    if isinstance(layer, L.ZeroPadding2D):
        (t, b), (left, r) = layer.padding
        return [node("Pad", [x, add_initializer(out + "_pads", np.array([0, t, left, 0, 0, b, r, 0], np.int64))], [out])]
    if isinstance(layer, L.Cropping2D):
        (t, _), (left, _) = layer.cropping
        h, w, _ = layer.output_shape
        return [node("Slice", [x, add_initializer(out + "_starts", np.array([t, left], np.int64)),
                               add_initializer(out + "_ends", np.array([t + h, left + w], np.int64)),
                               add_initializer(out + "_axes", np.array([1, 2], np.int64))], [out])]
    if isinstance(layer, L.UpSampling2D):
        scales = np.array([1, layer.size[0], layer.size[1], 1], np.float32)
        return [node("Resize", [x, "", add_initializer(out + "_scales", scales)], [out], mode="nearest",
                     nearest_mode="floor", coordinate_transformation_mode="asymmetric")]
    if isinstance(layer, (L.SpatialDropout1D, L.SpatialDropout2D)):
        return [node("Identity", [x], [out])]
    if isinstance(layer, L.Rescaling):
        return [node("Mul", [x, const(out + "_scale", layer._scale)], [out + "_s"]),
                node("Add", [out + "_s", const(out + "_offset", layer._offset)], [out])]
    raise ValueError(f"export_onnx: layer {layer.name!r} ({type(layer).__name__}) has no ONNX form")


def _image_nodes(layer, x, out, make, add_initializer):
    """Conv2D/Conv1D/DepthwiseConv2D and the windowed pooling layers: channels_last samples as
    NCHW (a 1-D layer's steps as a row of one), the ONNX operator, and back."""
    node = make[0]
    one = layer.rank == 1
    nodes = []
    if one:
        nodes.append(node("Unsqueeze", [x, add_initializer(out + "_row", np.array([1], np.int64))], [out + "_2d"]))
        x = out + "_2d"
    nodes.append(node("Transpose", [x], [out + "_nchw"], perm=[0, 3, 1, 2]))
    image, *_ = layer._geometry(layer.input_shape)  # (a transposed convolution: its output)
    if isinstance(layer, L.Conv2D):
        _, outs, pad, kernel, strides, dilation = layer._geometry(layer.input_shape)
    else:
        _, kernel, strides, pad, outs = layer._geometry(layer.input_shape)
        dilation = (1, 1)
    # the padding after: what the last window reaches past the image (Keras' 'same')
    after = [max((o - 1) * s + d * (k - 1) + 1 - size - p, 0)
             for o, s, d, k, size, p in zip(outs, strides, dilation, kernel, image[:2], pad)]
    attrs = dict(kernel_shape=list(kernel), strides=list(strides), pads=[pad[0], pad[1], after[0], after[1]])
    if isinstance(layer, L.Conv2DTranspose):  # the convolution's image is this layer's output
        size = image[:2]
        ins = layer.input_shape[:2]
        span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
        end = [s * (i - 1) + k - p - o for s, i, k, p, o in zip(strides, ins, span, pad, size)]
        w = np.asarray(layer._weights[0], np.float32)  # (kh, kw, filters, in) -> (in, filters, kh, kw)
        inputs = [out + "_nchw", add_initializer(out + "_w", np.ascontiguousarray(w.transpose(3, 2, 0, 1)))]
        if layer.use_bias:
            inputs.append(add_initializer(out + "_b", layer._weights[1]))
        # rows past the last window (Keras' 'valid' when the kernel is shorter than the stride) are
        # ONNX's output_padding
        nodes.append(node("ConvTranspose", inputs, [out + "_y"], kernel_shape=list(kernel), strides=list(strides),
                          dilations=list(dilation), pads=[pad[0], pad[1], max(end[0], 0), max(end[1], 0)],
                          output_padding=[max(-end[0], 0), max(-end[1], 0)]))
    elif isinstance(layer, L.SeparableConv2D):  # the depthwise convolution, then a 1 x 1 one
        depth = np.asarray(layer._weights[0], np.float32).reshape(kernel + (1, layer.filters))
        nodes.append(node("Conv", [out + "_nchw", add_initializer(out + "_dw", np.ascontiguousarray(
            depth.transpose(3, 2, 0, 1)))], [out + "_depth"], dilations=list(dilation), group=layer.groups, **attrs))
        inputs = [out + "_depth", add_initializer(out + "_pw", np.ascontiguousarray(
            np.asarray(layer._weights[1], np.float32).transpose(3, 2, 0, 1)))]
        if layer.use_bias:
            inputs.append(add_initializer(out + "_b", layer._weights[2]))
        nodes.append(node("Conv", inputs, [out + "_y"], kernel_shape=[1, 1]))
    elif isinstance(layer, L.Conv2D):
        w = np.asarray(layer._weights[0], np.float32).reshape(kernel + (image[2] // layer.groups, layer.filters))
        inputs = [out + "_nchw", add_initializer(out + "_w", np.ascontiguousarray(w.transpose(3, 2, 0, 1)))]
        if layer.use_bias:
            inputs.append(add_initializer(out + "_b", layer._weights[1]))
        nodes.append(node("Conv", inputs, [out + "_y"], dilations=list(dilation), group=layer.groups, **attrs))
    elif layer.takes_max:
        nodes.append(node("MaxPool", [out + "_nchw"], [out + "_y"], **attrs))
    else:
        nodes.append(node("AveragePool", [out + "_nchw"], [out + "_y"], count_include_pad=0, **attrs))
    last = out + "_nhwc" if one or getattr(layer, "activation", "linear") != "linear" else out
    nodes.append(node("Transpose", [out + "_y"], [last], perm=[0, 2, 3, 1]))
    if one:
        squeezed = out + "_1d" if getattr(layer, "activation", "linear") != "linear" else out
        nodes.append(node("Squeeze", [last, add_initializer(out + "_sq", np.array([1], np.int64))], [squeezed]))
        last = squeezed
    if getattr(layer, "activation", "linear") != "linear":
        nodes += _onnx_activation(layer.activation, last, out, make, layer._alpha)
    return nodes


def export_onnx(model, path, opset=17):
    """Writes an ONNX graph of the model for inference (input 'input' of shape (batch, ...) -
    several inputs: 'input_<name>' - and output 'output', or 'output_<name>' per output);
    onnxruntime's predictions equal model.predict to float32 rounding. Dropout and noise layers
    are identities (inference). The file is written atomically."""
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

    def add_initializer(name, value):
        value = np.asarray(value)
        initializers.append(numpy_helper.from_array(value if value.dtype == np.int64 else value.astype(np.float32),
                                                    name))
        return name

    calls, input_names, output_tensors = _calls(model)
    for layer, ins, out in calls:
        nodes += _layer_nodes(layer, ins, out, (node, const), add_initializer)
    several_out = len(output_tensors) > 1
    output_names = [f"output_{n}" for n in model.output_names] if several_out else ["output"]
    for t, name in zip(output_tensors, output_names):
        nodes.append(node("Identity", [t], [name]))
    in_shapes = model._declared_in_shapes if hasattr(model, "_declared_in_shapes") else [tuple(model._input_shape)]
    out_shapes = model._declared_out_shapes if hasattr(model, "_declared_out_shapes") else [model.output_shape[1:]]
    # sizes known only at run time: named dimensions
    in_shapes, out_shapes = ([[f"size_{k}" if d is None else d for k, d in enumerate(s)] for s in shapes]
                             for shapes in (in_shapes, out_shapes))
    graph = helper.make_graph(
        nodes, model.name,
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", *s]) for n, s in zip(input_names, in_shapes)],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", *s]) for n, s in zip(output_names, out_shapes)],
        initializers)
    proto = helper.make_model(graph, producer_name="brisknet", opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(proto)
    atomic_write(path, proto.SerializeToString())
