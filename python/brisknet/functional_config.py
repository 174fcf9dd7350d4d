"""A functional model's config in Keras 3's format, both ways: its layers in model.layers' order,
each with the calls it makes in the model ("inbound_nodes": the tensors each call reads, as
[layer name, call index, output index]), and the model's input and output tensors. brisknet's files (.brisk,
to_json) and Keras archives (.keras) share it; only the entry of one layer differs (layer_entry /
layer_from). Rebuilding calls each layer on symbolic tensors again, so it runs no code from the
file."""
from __future__ import annotations

from . import op_config
from .layers import InputLayer
from .layers.operation import OperationLayer


def to_config(model, layer_entry) -> dict:
    """model: a functional Model (its _graph); layer_entry(layer) -> its {"class_name", "config", ...}."""
    g = model._graph

    def tensor(i):
        if i < g.n_inputs:
            return [g.inputs[i].name, 0, 0]
        node = g.nodes[i - g.n_inputs]
        return [node.layer.name, node.call_index, node.part]

    def keras_tensor(i, shapes):
        return {"class_name": "__keras_tensor__",
                "config": {"shape": [None, *shapes[i]], "dtype": "float32", "keras_history": tensor(i)}}

    def input_entry(op):
        return {"module": "keras.layers", "class_name": "InputLayer", "config": op.get_config(),
                "registered_name": None, "name": op.name, "inbound_nodes": []}

    shapes = g.sample_shapes()
    entries = []
    for op in g.operations:
        if hasattr(op, "text_source"):  # (a string input and its text layer, in front of the graph)
            source, layer = op.text_source
            arg = {"class_name": "__keras_tensor__",
                   "config": {"shape": list(source.shape), "dtype": "string", "keras_history": [source.name, 0, 0]}}
            entries += [input_entry(source), {**layer_entry(layer), "name": layer.name,
                                              "inbound_nodes": [{"args": [arg], "kwargs": {}}]}]
            continue
        if isinstance(op, InputLayer):
            entries.append(input_entry(op))
            continue
        if isinstance(op, OperationLayer):  # (keras.ops on symbolic tensors: op_config.py)
            entries.append(op_config.entry(op, g.calls_of(op)[0].inputs, lambda i: keras_tensor(i, shapes)))
            continue
        nodes = []
        spec = op.__dict__.get("_call_spec")  # (a custom layer called with more than one tensor)
        for node in g.calls_of(op):
            args = [keras_tensor(i, shapes) for i in node.inputs]
            if spec is not None:
                rest, kwargs = spec.fill(args)
                nodes.append({"args": [args[0], *rest], "kwargs": _json_arguments(kwargs, op.name)})
                continue
            nodes.append({"args": [args] if op.takes_several_inputs else args, "kwargs": {}})
        entries.append({**layer_entry(op), "name": op.name, "inbound_nodes": nodes})
    def structure(refs, names, as_dict, as_list):
        return dict(zip(names, refs)) if as_dict else refs if as_list else refs[0]

    ins = [[t.text_source[0].name, 0, 0] if hasattr(t, "text_source") else tensor(i) for i, t in enumerate(g.inputs)]
    outs = [tensor(i) for i in g.outputs]
    return {"name": model.name, "trainable": model.trainable, "layers": entries,
            "input_layers": structure(ins, model.input_names, model._inputs_as_dict, model._inputs_as_list),
            "output_layers": structure(outs, model.output_names, model._outputs_as_dict, model._outputs_as_list)}


def _json_arguments(kwargs, name) -> dict:
    for k, v in kwargs.items():
        if isinstance(v, list) and v and all(isinstance(t, dict) for t in v):
            continue  # (a list of tensors)
        if not (v is None or isinstance(v, (bool, int, float, str, dict))):
            raise ValueError(f"layer {name!r} was called with {k}={type(v).__name__}; only tensors, numbers, strings "
                             "and None can be saved as call arguments")
    return kwargs


def build(config, layer_from, source="config"):
    """(inputs, outputs, name, trainable) of the model `config` describes: its InputLayers, and
    its layers (made by layer_from(entry)) called on them as the config says. ValueError for
    anything malformed."""
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError(f"{source}: a functional model's config needs a 'layers' list")
    made, calls, pending = {}, {}, []  # name -> layer; name -> its calls' output tensors
    for k, entry in enumerate(config["layers"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
            raise ValueError(f"{source}: layer entry {k} is not an object with a class_name")
        if entry["class_name"] == "InputLayer":
            c = entry.get("config")
            if not isinstance(c, dict):
                raise ValueError(f"{source}: InputLayer entry {k} has no config object")
            if c.get("ragged") or c.get("optional"):
                raise ValueError(f"{source}: InputLayer entry {k}: ragged or optional inputs are not supported")
            c = {key: v for key, v in c.items() if key in ("batch_shape", "shape", "name", "dtype", "sparse")}
            try:
                layer = InputLayer(**c)
            except (TypeError, ValueError, NotImplementedError) as e:
                raise ValueError(f"{source}: InputLayer entry {k}: {e}") from None
            calls[layer.name] = [layer]
        else:
            layer = op_config.OpEntry(entry, source) if op_config.is_op_entry(entry) else layer_from(entry)
            nodes = entry.get("inbound_nodes", [])
            if not isinstance(nodes, list):
                raise ValueError(f"{source}: layer {layer.name!r}: inbound_nodes must be a list")
            calls[layer.name] = []
            pending += [(layer, node) for node in nodes]
        if entry.get("name", layer.name) != layer.name:
            raise ValueError(f"{source}: layer entry {k} is named {entry.get('name')!r} but its config says "
                             f"{layer.name!r}")
        if layer.name in made:
            raise ValueError(f"{source}: two layers are named {layer.name!r}")
        made[layer.name] = layer
    # a call whose inputs exist is made; the others wait for them (a shared layer's later calls
    # may read layers listed after it)
    while pending:
        waiting = []
        for layer, node in pending:
            call = _op_arguments(layer, node, calls, source) if isinstance(layer, op_config.OpEntry) else \
                _node_arguments(node, calls, source, layer.name)
            if call is None:
                waiting.append((layer, node))
                continue
            try:
                calls[layer.name].append(layer(*call[0], **call[1]))
            except (TypeError, ValueError, NotImplementedError) as e:
                raise ValueError(f"{source}: calling layer {layer.name!r}: {e}") from None
        if len(waiting) == len(pending):
            raise ValueError(f"{source}: the layers' calls refer to tensors that no call makes (or form a cycle): "
                             f"{sorted({layer.name for layer, _ in waiting})}")
        pending = waiting
    inputs = _tensors(config.get("input_layers"), calls, source, "input_layers")
    outputs = _tensors(config.get("output_layers"), calls, source, "output_layers")
    flat = inputs.values() if isinstance(inputs, dict) else inputs if isinstance(inputs, list) else [inputs]
    if not all(isinstance(t, InputLayer) for t in flat):
        raise ValueError(f"{source}: input_layers must name InputLayers")
    name = config.get("name")
    return inputs, outputs, name if isinstance(name, str) else None, config.get("trainable") is not False


def _reference(ref, calls, source, where):
    """The tensor [layer name, call index, tensor index] names (None while that call is not made)."""
    if not (isinstance(ref, list) and len(ref) == 3 and isinstance(ref[0], str)
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in ref[1:])):
        raise ValueError(f"{source}: {where}: invalid tensor reference {str(ref)[:80]!r}")
    if ref[0] not in calls:
        raise ValueError(f"{source}: {where}: no layer named {ref[0]!r}")
    made = calls[ref[0]]
    if ref[1] >= len(made):
        return None
    outputs = made[ref[1]] if isinstance(made[ref[1]], list) else [made[ref[1]]]  # (a call of several outputs)
    if ref[2] >= len(outputs):
        raise ValueError(f"{source}: {where}: {ref[0]!r} call {ref[1]} has no output {ref[2]}")
    return outputs[ref[2]]


_PENDING = object()


def _node_arguments(node, calls, source, name):
    """(args, kwargs) of one call in Keras 3's form ({"args": [tensor or [tensors], more...],
    "kwargs": {...}}: tensors, or numbers, strings and None), or None while a tensor it reads
    is not made yet."""
    where = f"layer {name!r}"
    if not isinstance(node, dict) or not isinstance(node.get("args"), list) or not node["args"]:
        raise ValueError(f"{source}: {where}: a call must be {{'args': [tensor or list of tensors, ...], 'kwargs': "
                         "{...}}")
    kwargs = node.get("kwargs") or {}
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise ValueError(f"{source}: {where}: call arguments must be an object, got {str(kwargs)[:80]!r}")

    def value(v, first):
        if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
            if not isinstance(v.get("config"), dict):
                raise ValueError(f"{source}: {where}: a Keras tensor without a config")
            found = _reference(v["config"].get("keras_history"), calls, source, where)
            return _PENDING if found is None else found
        if isinstance(v, list) and (first or (v and all(isinstance(t, dict) for t in v))):
            # a merge layer's list of tensors, or a list of tensors as an argument (initial_state)
            items = [value(t, False) for t in v]
            if not all(hasattr(t, "sample_shape") or t is _PENDING for t in items):
                raise ValueError(f"{source}: {where}: a call argument list must hold Keras tensors")
            return _PENDING if any(t is _PENDING for t in items) else items
        if first or not (v is None or isinstance(v, (bool, int, float, str))):
            raise ValueError(f"{source}: {where}: a call argument must be a Keras tensor, a number, a string or "
                             f"null, got {str(v)[:80]!r}")
        return v

    args = [value(v, k == 0) for k, v in enumerate(node["args"])]
    kw = {k: value(v, False) for k, v in kwargs.items() if v is not None}
    if any(v is _PENDING for v in (*args, *kw.values())):
        return None
    return args, kw


def _op_arguments(op, node, calls, source):
    """(args, kwargs) of an op entry's call, or None while a tensor it reads is not made yet."""
    where = f"op {op.name!r}"
    if not isinstance(node, dict) or not isinstance(node.get("args"), list) or \
            not isinstance(node.get("kwargs") or {}, dict):
        raise ValueError(f"{source}: {where}: a call must be {{'args': [...], 'kwargs': {{...}}}}")
    waiting = []

    def tensor_of(v):
        if not isinstance(v.get("config"), dict):
            raise ValueError(f"{source}: {where}: a Keras tensor without a config")
        found = _reference(v["config"].get("keras_history"), calls, source, where)
        waiting.extend([] if found is not None else [v])
        return found
    args = [op.decode(v, tensor_of) for v in node["args"]]
    kwargs = {k: op.decode(v, tensor_of) for k, v in (node.get("kwargs") or {}).items()}
    return None if waiting else (args, kwargs)


def _tensors(spec, calls, source, where):
    """The tensor(s) input_layers / output_layers name: [name, 0, 0], a list of them, or a dict."""
    def one(ref):
        t = _reference(ref, calls, source, where)
        if t is None:
            raise ValueError(f"{source}: {where}: {ref!r} names a call the config does not make")
        return t

    if isinstance(spec, list) and spec and isinstance(spec[0], str):
        return one(spec)
    if isinstance(spec, list) and spec:
        return [one(ref) for ref in spec]
    if isinstance(spec, dict) and spec and all(isinstance(k, str) for k in spec):
        return {k: one(ref) for k, ref in spec.items()}
    raise ValueError(f"{source}: {where} must be [name, 0, 0], a list of them or a dict of them")
