"""Keras' convolution layers over channels_last samples: Conv2D (rows, cols, channels) and Conv1D
(steps, channels; a Conv2D of one row). The forward pass is a GEMM per group over the image's
patches, packed straight from the images a chunk of images at a time (C++: kernels.h
conv2d_forward; a 3 x 3 stride-1 window of 16 or more channels and filters by Winograd's F(2x2,
3x3) instead), the bias in the GEMM's epilogue, then the activation; backward: dW = patches^T dZ
(the patches packed again), db = the column sums of dZ (taken while that GEMM packs dZ), dx =
col2im(dZ W^T)."""
from __future__ import annotations

import math

import numpy as np

from .. import _core, activations, constraints, initializers, kernels, regularizers
from ..serialization import serialize
from .layer import Layer


def as_tuple(value, rank, what, who):
    """An int or a sequence of `rank` ints, each >= 1, as a tuple."""
    values = (value,) * rank if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else \
        tuple(value) if isinstance(value, (list, tuple)) else None
    if values is None or len(values) != rank or \
            any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in values):
        raise ValueError(f"{who}: {what} must be a positive int or {rank} of them, got {value!r}")
    return tuple(int(v) for v in values)


def window_geometry(size, kernel, stride, dilation, padding):
    """(output size, padding before) of a window over one axis, as Keras computes them ('causal':
    the dilated kernel's reach in zeros before the input, none after, so that output step t sees
    input steps up to t * stride)."""
    span = dilation * (kernel - 1) + 1
    if padding == "causal":
        return (size - 1) // stride + 1, span - 1
    if padding == "valid":
        return (size - span) // stride + 1 if size >= span else 0, 0
    out = -(-size // stride)
    return out, max((out - 1) * stride + span - size, 0) // 2


def check_padding(padding, who, allowed=("valid", "same")):
    padding = padding.lower() if isinstance(padding, str) else padding
    if padding not in allowed:
        raise ValueError(f"{who}: padding must be one of {', '.join(map(repr, allowed))}, got {padding!r}")
    return padding


class Conv2D(Layer):
    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        who = type(self).__name__
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters < 1:
            raise ValueError(f"{who}: filters must be a positive int, got {filters!r}")
        if data_format not in (None, "channels_last"):
            raise NotImplementedError(f"{who}: only data_format='channels_last' (Keras' default) is supported")
        if activity_regularizer is not None:
            raise NotImplementedError(f"{who}: activity_regularizer is not supported")
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.filters = int(filters)
        self.kernel_size = as_tuple(kernel_size, self.rank, "kernel_size", who)
        self.strides = as_tuple(strides, self.rank, "strides", who)
        self.dilation_rate = as_tuple(dilation_rate, self.rank, "dilation_rate", who)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{who}: strides > 1 and dilation_rate > 1 cannot be combined (as in Keras)")
        self.padding = check_padding(padding, who, ("valid", "same", "causal") if self.rank == 1 else ("valid", "same"))
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1 or filters % groups:
            raise ValueError(f"{who}: groups must be a positive int dividing filters ({filters}), got {groups!r}")
        self.groups = int(groups)
        self.data_format = "channels_last"
        self.activation = activations.get(activation)
        self._act = kernels.ACTIVATIONS[self.activation]
        self._alpha = kernels.DEFAULT_ALPHA.get(self.activation, 0.0)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    # ---------------------------------------------------------------- shapes
    def _image(self, sample_shape):
        """A sample as (rows, cols, channels)."""
        return tuple(sample_shape)

    def _geometry(self, sample_shape):
        """((rows, cols, channels), (out rows, out cols), (pad top, pad left)), checked."""
        who = f"{type(self).__name__} {self.name!r}"
        if len(sample_shape) != self.rank + 1:
            raise ValueError(f"{who} expects samples of rank {self.rank + 1} (positions..., channels), got "
                             f"{(None,) + tuple(sample_shape)}")
        image = self._image(sample_shape)
        if image[2] % self.groups:
            raise ValueError(f"{who}: {image[2]} input channels are not divisible by groups={self.groups}")
        kernel, strides, dilation = ((1,) + t if self.rank == 1 else t
                                     for t in (self.kernel_size, self.strides, self.dilation_rate))
        out, pad = zip(*(window_geometry(image[a], kernel[a], strides[a], dilation[a], self.padding) for a in (0, 1)))
        if min(out) < 1:
            raise ValueError(f"{who}: the kernel {self.kernel_size} (dilation {self.dilation_rate}) is larger than "
                             f"the input {tuple(sample_shape[:-1])} with padding='valid'")
        return image, out, pad, kernel, strides, dilation

    def sample_output_shape(self, input_shape):
        _, out, _, _, _, _ = self._geometry(input_shape)
        return (out[1], self.filters) if self.rank == 1 else (out[0], out[1], self.filters)

    def weight_specs(self):
        specs = [("kernel", self.kernel_size + (self.input_shape[-1] // self.groups, self.filters),
                  self.kernel_initializer)]
        if self.use_bias:
            specs.append(("bias", (self.filters,), self.bias_initializer))
        return specs

    @property
    def kernel(self):
        return self.weights[0]

    @property
    def bias(self):
        return self.weights[1] if self.use_bias else None

    # ---------------------------------------------------------------- compute
    def _window_args(self, g):
        image, out, pad, kernel, strides, dilation = g
        return kernel, strides, dilation, pad, out

    def _grouped_forward(self, x, w, bias, filters):
        """z (positions, filters) = the convolution of x with w (taps, filters) (+ bias), each group
        on its columns (C++: patches by chunks of images, straight into brisknet's GEMM)."""
        g = self._geometry(self.input_shape)
        self._x4 = np.ascontiguousarray(x).reshape((x.shape[0],) + g[0])
        z = self.buffer("z", (x.shape[0] * g[1][0] * g[1][1], filters), x.dtype)
        _core.conv2d_forward(z, self._x4, w, bias, *self._window_args(g), self.groups, bf16=self._bf16)
        return z

    def _grouped_backward(self, dz, w, dw, need_dx, db=None):
        """dw = the patches^T dz per group; db (unless None) = the column sums of dz; dx = col2im(dz
        w^T) when asked."""
        g = self._geometry(self.input_shape)
        dx = self.buffer("dx", self._x4.shape, dz.dtype) if need_dx else None
        _core.conv2d_backward(dw, dx, np.ascontiguousarray(dz), self._x4, w, *self._window_args(g), self.groups, db,
                              bf16=self._bf16)
        return None if dx is None else dx.reshape((dx.shape[0],) + tuple(self.input_shape))

    def _activate(self, z):
        self._z = z
        if self.activation == "linear":
            self._y = z
        else:
            self._y = self.buffer("y", z.shape, z.dtype)
            _core.activation_forward(self._y, z, self._act, self._alpha)
        return self._y.reshape((-1,) + tuple(self.output_shape))

    def _activation_grad(self, dy):
        dy = np.ascontiguousarray(dy).reshape(self._z.shape)
        if self.activation == "linear":
            return dy
        dz = self.buffer("dz", dy.shape, dy.dtype)
        _core.activation_backward(dz, dy, self._z, self._y, self._act, self._alpha)
        return dz

    def forward(self, x, training):
        w = self._weights[0].reshape(-1, self.filters)
        return self._activate(self._grouped_forward(x, w, self._weights[1] if self.use_bias else None, self.filters))

    def backward(self, dy, need_dx):
        dz = self._activation_grad(dy)
        return self._grouped_backward(dz, self._weights[0].reshape(-1, self.filters),
                                      self._grads[0].reshape(-1, self.filters), need_dx,
                                      self._grads[1] if self.use_bias else None)

    def engine_spec(self, offset_of):
        image, out = self._geometry(self.input_shape)[:2]
        return self._windowed_spec(offset_of, _core.LayerKind.conv, math.prod(image), out[0] * out[1] * self.filters)

    def _windowed_spec(self, offset_of, kind, inputs, outputs):
        """The engine's spec of this layer's convolution (its window, kernel, bias, activation and
        penalties), or None for a custom regularizer (the Python path)."""
        penalties = regularizers.engine_penalties(self.kernel_regularizer, self.bias_regularizer)
        if penalties is None:
            return None
        image, out, pad, kernel, strides, dilation = self._geometry(self.input_shape)
        s = _core.LayerSpec()
        s.kind, s.inputs, s.outputs = kind, inputs, outputs
        s.window, s.groups = image + kernel + strides + dilation + pad + out, self.groups
        s.kernel_offset = offset_of(self._weights[0])
        s.bias_offset = offset_of(self._weights[1]) if self.use_bias else -1
        s.activation, s.alpha, s.trainable = self._act, self._alpha, self.trains
        s.kernel_penalty, s.bias_penalty = penalties
        s.bf16 = self._bf16 and kind == _core.LayerKind.conv  # (a transposed convolution: float32 yet)
        return [s]

    def weight_regularizers(self):
        out = [] if self.kernel_regularizer is None else [(0, self.kernel_regularizer)]
        return out + ([(1, self.bias_regularizer)] if self.use_bias and self.bias_regularizer is not None else [])

    def weight_constraints(self):
        out = [] if self.kernel_constraint is None else [(0, self.kernel_constraint)]
        return out + ([(1, self.bias_constraint)] if self.use_bias and self.bias_constraint is not None else [])

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate), "groups": self.groups, "activation": self.activation,
                "use_bias": self.use_bias, "kernel_initializer": serialize(self.kernel_initializer),
                "bias_initializer": serialize(self.bias_initializer),
                "kernel_regularizer": serialize(self.kernel_regularizer),
                "bias_regularizer": serialize(self.bias_regularizer),
                "kernel_constraint": serialize(self.kernel_constraint),
                "bias_constraint": serialize(self.bias_constraint)}


class Conv1D(Conv2D):
    """Over (steps, channels): a Conv2D of one row; padding also 'causal' (as Keras: zeros before
    the sequence only, the output as long as the input over the strides)."""
    rank = 1

    def _image(self, sample_shape):
        return (1,) + tuple(sample_shape)


class DepthwiseConv2D(Conv2D):
    """Each input channel convolved with depth_multiplier kernels of its own: a Conv2D with one
    group per channel, whose kernel (rows, cols, channels, depth_multiplier) is laid out as the
    grouped kernel (rows, cols, 1, channels x depth_multiplier) already is."""

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        if isinstance(depth_multiplier, bool) or not isinstance(depth_multiplier, (int, np.integer)) \
                or depth_multiplier < 1:
            raise ValueError(f"DepthwiseConv2D: depth_multiplier must be a positive int, got {depth_multiplier!r}")
        super().__init__(1, kernel_size, strides, padding, data_format, dilation_rate, 1, activation, use_bias,
                         depthwise_initializer, bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)
        self.depth_multiplier = int(depth_multiplier)
        self.depthwise_initializer, self.depthwise_regularizer = self.kernel_initializer, self.kernel_regularizer
        self.depthwise_constraint = self.kernel_constraint

    def _geometry(self, sample_shape):
        if len(sample_shape) == 3:  # one group per input channel
            self.groups, self.filters = sample_shape[-1], sample_shape[-1] * self.depth_multiplier
        return super()._geometry(sample_shape)

    def weight_specs(self):
        specs = [("kernel", self.kernel_size + (self.input_shape[-1], self.depth_multiplier),
                  self.kernel_initializer)]
        return specs + ([("bias", (self.filters,), self.bias_initializer)] if self.use_bias else [])

    def get_config(self):
        config = super().get_config()
        for key in ("filters", "groups", "kernel_initializer", "kernel_regularizer", "kernel_constraint"):
            del config[key]
        return {**config, "depth_multiplier": self.depth_multiplier,
                "depthwise_constraint": serialize(self.kernel_constraint),
                "depthwise_initializer": serialize(self.depthwise_initializer),
                "depthwise_regularizer": serialize(self.depthwise_regularizer)}


class Conv2DTranspose(Conv2D):
    """The input gradient of a Conv2D with these strides, dilation and padding, as a layer (Keras'
    "deconvolution"): each input position scatters kernel x its channels over the output window,
    overlapping windows summed. kernel (rows, cols, filters, input channels), as Keras. Output
    size as Keras: 'valid' input x strides + max(dilated kernel - strides, 0), 'same' input x
    strides; with output_padding p (< strides), (input - 1) x strides + p + the dilated kernel
    ('valid') or its parity ('same'). The convolution kernels with their roles swapped: forward is
    that convolution's input gradient (col2im(x W^T)), the input gradient its forward pass."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, 1, activation, use_bias,
                         kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)
        self.output_padding = None
        if output_padding is not None:
            values = (output_padding,) * 2 if isinstance(output_padding, (int, np.integer)) else tuple(output_padding)
            if len(values) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < s
                                       for v, s in zip(values, self.strides)):
                raise ValueError(f"Conv2DTranspose: output_padding must be ints >= 0 and below the strides "
                                 f"{self.strides}, got {output_padding!r}")
            self.output_padding = tuple(int(v) for v in values)

    def _geometry(self, sample_shape):
        """The geometry of the convolution this layer is the gradient of: its image is this layer's
        output (rows, cols, filters), its output this layer's input."""
        who = f"Conv2DTranspose {self.name!r}"
        if len(sample_shape) != 3:
            raise ValueError(f"{who} expects samples of shape (rows, cols, channels), got {(None,) + tuple(sample_shape)}")
        sizes, pad = [], []
        for a, (i, k, s, d) in enumerate(zip(sample_shape[:2], self.kernel_size, self.strides, self.dilation_rate)):
            span, extra = d * (k - 1) + 1, None if self.output_padding is None else self.output_padding[a]
            # Keras' output size, and the zeros its full transposed convolution ((i - 1) s + span) has
            # before the output's first row (Keras' left padding, its JAX/TensorFlow semantics)
            if self.padding == "valid":
                extra = max(span, s) - span if extra is None else extra
                sizes.append((i - 1) * s + span + extra)
                before = span - 1
            else:
                total = s + span - 2 if extra is None else span + span % 2 - 2 + extra
                sizes.append(i * s if extra is None else (i - 1) * s + span % 2 + extra)
                before = min(total // 2 + total % 2, span - 1)
            pad.append(span - 1 - before)
        image = (sizes[0], sizes[1], self.filters)
        if min(sizes) < 1:
            raise ValueError(f"{who}: an output of {tuple(sizes)} positions")
        return image, tuple(sample_shape[:2]), tuple(pad), self.kernel_size, self.strides, self.dilation_rate

    def sample_output_shape(self, input_shape):
        return self._geometry(input_shape)[0]

    def weight_specs(self):
        specs = [("kernel", self.kernel_size + (self.filters, self.input_shape[-1]), self.kernel_initializer)]
        return specs + ([("bias", (self.filters,), self.bias_initializer)] if self.use_bias else [])

    def forward(self, x, training):
        g = self._geometry(self.input_shape)
        self._x = np.ascontiguousarray(x).reshape(-1, x.shape[-1])
        w = self._weights[0].reshape(-1, x.shape[-1])  # (taps x filters, input channels)
        z = self.buffer("z", (x.shape[0],) + g[0], x.dtype)
        _core.conv2d_transpose(z, self._x, w, *self._window_args(g))
        z = z.reshape(-1, self.filters)
        if self.use_bias:
            z += self._weights[1]
        return self._activate(z)

    def backward(self, dy, need_dx):
        g = self._geometry(self.input_shape)
        dz = self._activation_grad(dy)
        dz4 = dz.reshape((-1,) + g[0])  # (the convolution's image)
        w = self._weights[0].reshape(-1, self._x.shape[1])
        _core.conv2d_backward(self._grads[0].reshape(w.shape), None, self._x, dz4, w, *self._window_args(g), 1)
        if self.use_bias:
            _core.column_sums(self._grads[1], dz, 0.0)
        if not need_dx:
            return None
        dx = self.buffer("dx", self._x.shape, dy.dtype)
        _core.conv2d_forward(dx, dz4, w, None, *self._window_args(g), 1)
        return dx.reshape((-1,) + tuple(self.input_shape))

    def engine_spec(self, offset_of):
        return self._windowed_spec(offset_of, _core.LayerKind.conv_transpose, math.prod(self.input_shape),
                                   math.prod(self._geometry(self.input_shape)[0]))

    def get_config(self):
        config = super().get_config()
        del config["groups"]
        return {**config, "output_padding": None if self.output_padding is None else list(self.output_padding)}


class SeparableConv2D(DepthwiseConv2D):
    """A DepthwiseConv2D (no bias) then a 1 x 1 convolution to `filters` channels (+ bias), as
    Keras: depthwise_kernel (rows, cols, channels, depth_multiplier), pointwise_kernel
    (1, 1, channels x depth_multiplier, filters)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        if pointwise_constraint is not None or depthwise_constraint is not None or bias_constraint is not None:
            raise NotImplementedError("SeparableConv2D: constraints are not supported")
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters < 1:
            raise ValueError(f"SeparableConv2D: filters must be a positive int, got {filters!r}")
        self.pointwise_filters = int(filters)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)

    def sample_output_shape(self, input_shape):
        return super().sample_output_shape(input_shape)[:-1] + (self.pointwise_filters,)

    def weight_specs(self):
        depth = self.input_shape[-1] * self.depth_multiplier
        specs = [("depthwise_kernel", self.kernel_size + (self.input_shape[-1], self.depth_multiplier),
                  self.depthwise_initializer),
                 ("pointwise_kernel", (1, 1, depth, self.pointwise_filters), self.pointwise_initializer)]
        return specs + ([("bias", (self.pointwise_filters,), self.bias_initializer)] if self.use_bias else [])

    def _pointwise_window(self):
        """The 1 x 1 convolution's window over the depthwise output (as _window_args)."""
        out = self._geometry(self.input_shape)[1]
        return (1, 1), (1, 1), (1, 1), (0, 0), tuple(out)

    def forward(self, x, training):
        self._depth = self._grouped_forward(x, self._weights[0].reshape(-1, self.filters), None, self.filters)
        rows, cols = self._geometry(self.input_shape)[1]
        self._depth4 = self._depth.reshape(x.shape[0], rows, cols, self.filters)  # (a view)
        z = self.buffer("pointwise", (self._depth.shape[0], self.pointwise_filters), x.dtype)
        _core.conv2d_forward(z, self._depth4,
                             self._weights[1].reshape(self.filters, -1), self._weights[2] if self.use_bias else None,
                             *self._pointwise_window(), 1)
        return self._activate(z)

    def backward(self, dy, need_dx):
        dz = self._activation_grad(dy)
        ddepth = self.buffer("ddepth", self._depth.shape, dz.dtype)
        _core.conv2d_backward(self._grads[1].reshape(self.filters, -1), ddepth, np.ascontiguousarray(dz), self._depth4,
                              self._weights[1].reshape(self.filters, -1), *self._pointwise_window(), 1,
                              self._grads[2] if self.use_bias else None)
        return self._grouped_backward(ddepth, self._weights[0].reshape(-1, self.filters),
                                      self._grads[0].reshape(-1, self.filters), need_dx)

    def engine_spec(self, offset_of):
        """Two convolutions: the depthwise one (groups = channels, no bias, linear) and the 1 x 1
        one (bias, activation)."""
        if self.depthwise_regularizer is not None and \
                (self.pointwise_regularizer is not None or (self.use_bias and self.bias_regularizer is not None)):
            return None  # (the Python layer adds its three penalties as one sum: the Python path)
        depth = regularizers.engine_penalties(self.depthwise_regularizer)
        point = regularizers.engine_penalties(self.pointwise_regularizer, self.bias_regularizer)
        if depth is None or point is None:
            return None
        image, out, pad, kernel, strides, dilation = self._geometry(self.input_shape)
        first, second = _core.LayerSpec(), _core.LayerSpec()
        first.kind, first.inputs, first.outputs = _core.LayerKind.conv, math.prod(image), out[0] * out[1] * self.filters
        first.window, first.groups = image + kernel + strides + dilation + pad + out, self.groups
        first.kernel_offset, first.bias_offset, first.trainable = offset_of(self._weights[0]), -1, self.trains
        first.kernel_penalty = depth[0]
        second.kind, second.inputs = _core.LayerKind.conv, first.outputs
        second.outputs = out[0] * out[1] * self.pointwise_filters
        second.window = (out[0], out[1], self.filters) + (1, 1) * 3 + (0, 0) + out
        second.kernel_offset = offset_of(self._weights[1])
        second.bias_offset = offset_of(self._weights[2]) if self.use_bias else -1
        second.activation, second.alpha, second.trainable = self._act, self._alpha, self.trains
        second.kernel_penalty, second.bias_penalty = point
        return [first, second]

    def weight_regularizers(self):
        pairs = [(0, self.depthwise_regularizer), (1, self.pointwise_regularizer)]
        if self.use_bias:
            pairs.append((2, self.bias_regularizer))
        return [(i, r) for i, r in pairs if r is not None]

    def get_config(self):
        config = super().get_config()
        for key in ("depthwise_constraint", "bias_constraint"):  # (not supported here: None)
            del config[key]
        return {**config, "filters": self.pointwise_filters,
                "pointwise_initializer": serialize(self.pointwise_initializer),
                "pointwise_regularizer": serialize(self.pointwise_regularizer)}
