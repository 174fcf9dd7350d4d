"""Programs that serve other sizes. A layer's call() is traced per input shape; traced at two sizes
of an input (a prompt of 224 stand-in tokens, then of 3), it often records the same graph: nothing
in it fixed the size (the built-in layers are re-fitted to their inputs at run time, and positions
come from ops.arange up to ops.shape(x)[1], which reads the size at run time). The second program
then serves every further size of the dimensions that differed, without tracing again: a
generation loop on a growing prompt traces twice, not once per length.

Only inference programs (a training step's backward pass broadcasts gradients to the traced
shapes), and only when the two graphs are the same node for node: same ops on the same tensors,
equal attributes and constants, each output dimension fixed or following one input dimension."""
from __future__ import annotations

import numpy as np


class SizeFamily:
    """The programs of one layer (or model) whose inputs have the same ranks: the first one traced,
    and once a second confirms it, the program that serves the sizes that differed."""

    def __init__(self, program, shapes):
        self.first, self.first_shapes = program, [tuple(s) for s in shapes]
        self.template = None
        self.decided = False

    def serving(self, shapes):
        """The program for inputs of these shapes without a trace, or None."""
        t = self.template
        if t is None or len(shapes) != len(t.base_shapes) or \
                not all(t.takes(i, tuple(s)) for i, s in enumerate(shapes)):
            return None
        return t

    def decide(self, program, shapes):
        """With a second program of other sizes: whether it serves every size of those."""
        self.decided = True
        shapes = [tuple(s) for s in shapes]
        if [len(s) for s in shapes] != [len(s) for s in self.first_shapes]:
            return
        free = {(i, a) for i, (s1, s2) in enumerate(zip(self.first_shapes, shapes))
                for a, (d1, d2) in enumerate(zip(s1, s2)) if d1 != d2}
        if not free or not same_graph(self.first, program):
            return
        dims = _output_dims(self.first, self.first_shapes, program, shapes, free)
        if dims is not None:
            program.serve_sizes(shapes, free, dims)
            self.template = program


class SizeFamilies(dict):
    """A layer's or model's families of inference programs, by a key of what else they share
    (dtype, arguments, the inputs' ranks)."""

    def serving(self, key, shapes):
        family = self.get(key)
        return family.serving(shapes) if family is not None else None

    def record(self, key, program, shapes) -> None:
        """A program just traced: the family's first, or the second that decides it."""
        family = self.get(key)
        if family is None:
            self[key] = SizeFamily(program, shapes)
        elif not family.decided:
            family.decide(program, shapes)


def same_graph(p1, p2) -> bool:
    """Whether two programs record the same computation (tensor numbering included)."""
    if p1.losses or p1.assigns or p1.deferred or p2.losses or p2.assigns or p2.deferred:
        return False
    if p1.n != p2.n or len(p1.nodes) != len(p2.nodes) or len(p1.inputs) != len(p2.inputs) or \
            [t.id for t in p1.outputs] != [t.id for t in p2.outputs]:
        return False
    if [(t.id, id(v)) for t, v in p1.variables] != [(t.id, id(v)) for t, v in p2.variables]:
        return False
    if [t.id for t in p1.constants] != [t.id for t in p2.constants] or \
            not all(_same(a.payload, b.payload) for a, b in zip(p1.constants, p2.constants)):
        return False
    for n1, n2 in zip(p1.nodes, p2.nodes):
        if n1.op is not n2.op or [t.id for t in n1.inputs] != [t.id for t in n2.inputs] or \
                [t.id for t in n1.outputs] != [t.id for t in n2.outputs] or not _same(n1.attrs, n2.attrs):
            return False
    return True


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and \
            a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if callable(a):
        return a is b
    return type(a) is type(b) and a == b


def _output_dims(p1, s1, p2, s2, free):
    """Per output, per axis: its fixed size, or the (input, axis) whose size it takes; None where
    an output's size follows no single free input dimension (twice the length, ...)."""
    dims = []
    for t1, t2 in zip(p1.outputs, p2.outputs):
        if len(t1.shape) != len(t2.shape):
            return None
        axes = []
        for d1, d2 in zip(t1.shape, t2.shape):
            if d1 == d2:
                axes.append(int(d1))
                continue
            follows = [(i, a) for i, a in sorted(free) if s1[i][a] == d1 and s2[i][a] == d2]
            if len(follows) != 1:
                return None
            axes.append(follows[0])
        dims.append(axes)
    return dims
