"""Dimensions that keras.Input leaves unknown (None), such as the length of a sequence.

A layer's shapes are always concrete: the functional API builds each layer for stand-in sizes,
and a model re-fits its layers' shapes to the sizes its data has, run by run (the engine plans
anew for a new shape). Weights never depend on an unknown dimension: a layer whose weights would
(a Dense after Flatten of a sequence of unknown length) is refused when it is called."""
from __future__ import annotations

# two stand-ins for an unknown size: a dimension of the output that differs between them follows it
# (as large as an image: a convnet of unknown image size halves them five times and more)
STAND_INS = (224, 257)


def has_unknown(shape) -> bool:
    """Whether a sample shape (or a merge layer's list of them) has a None dimension."""
    if isinstance(shape, list):
        return any(has_unknown(s) for s in shape)
    return shape is not None and any(d is None for d in shape)


def filled(shape, size):
    """The shape with each unknown dimension set to `size` (a list of shapes, each of them)."""
    if isinstance(shape, list):
        return [filled(s, size) for s in shape]
    return tuple(size if d is None else d for d in shape)


def matches(declared, actual) -> bool:
    """Whether a concrete shape fits a declared one (None matches any size)."""
    return len(declared) == len(actual) and all(d is None or d == a for d, a in zip(declared, actual))


def output_shape(rule, shape) -> tuple:
    """rule(shape) (a layer's sample_output_shape) for a shape that may have unknown dimensions:
    an output dimension that changes with the stand-in is unknown too."""
    if not has_unknown(shape):
        return tuple(rule(shape))
    a, b = (tuple(rule(filled(shape, size))) for size in STAND_INS)
    if len(a) != len(b):
        raise ValueError(f"the rank of the output depends on a dimension that is unknown (None) in {shape}")
    return tuple(x if x == y else None for x, y in zip(a, b))


def weight_shapes(layer) -> list:
    return [tuple(s) for _, s, _ in layer.weight_specs()]


def build_for(layer, shape) -> None:
    """Build `layer` for samples of `shape` (unknown dimensions: for a stand-in size, once its
    weights are seen not to depend on them)."""
    if not has_unknown(shape):
        layer.build_sample(shape)
        return
    if layer._is_custom and not layer.built:  # its own build() sees None there, as in Keras
        from . import custom
        custom.build_custom(layer, [(None,) + s for s in shape] if isinstance(shape, list) else (None,) + shape)
    seen = []
    for size in reversed(STAND_INS):  # (the first stand-in last: what the layer is left built for)
        layer.build_sample(filled(shape, size))
        seen.append(weight_shapes(layer))
    if seen[0] != seen[1]:
        raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}): its weights would depend on a dimension "
                         f"that is unknown (None) in its input's samples {shape}; give that dimension a size in "
                         "keras.Input(shape=...)")
