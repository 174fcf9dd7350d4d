"""compile(): the loss, optimizer and metrics of a model, as Keras; the softmax folded into the
cross-entropy; the metrics built on first data; compile()'s arguments as data for model files."""
from __future__ import annotations

from ... import losses, metrics as metrics_module, optimizers
from ...serialization import classes_of, deserialize, serialize
from .common import _KERAS_COMPILE_ARGS, _python_value


class Compiling:
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, weighted_metrics=None, **kwargs):
        """As Keras: `metrics` are computed without sample weights, `weighted_metrics` with them.
        loss: a name, a Loss, or a function fn(y_true, y_pred) -> per-sample losses (the slow
        path: its gradient is taken by central differences on the predictions)."""
        unknown = set(kwargs) - _KERAS_COMPILE_ARGS
        if unknown:
            raise TypeError(f"compile: unexpected arguments {sorted(unknown)}")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss) if loss is not None else None
        def as_list(ms):
            if ms is None:
                return []
            return [ms] if isinstance(ms, (str, metrics_module.Metric)) or callable(ms) else list(ms)
        self._metric_ids = [(m, False) for m in as_list(metrics)] + [(m, True) for m in as_list(weighted_metrics)]
        for m, _ in self._metric_ids:  # fail at compile time on unknown names, as Keras does
            metrics_module.get(m, self.loss)
        self._metrics = None
        self.run_eagerly = bool(kwargs.get("run_eagerly") or False)
        self.compiled = True
        if self.built:
            self.optimizer.build(self._params.size)
            self._configure_fusion()

    def _compile_config(self) -> dict:
        """compile()'s arguments as JSON-able data (saved in model files)."""
        def ser(ids, weighted):
            return [m if isinstance(m, str) else serialize(metrics_module.get(m)) for m, w in ids if w == weighted]
        return {"optimizer": serialize(self.optimizer), "loss": serialize(self.loss),
                "metrics": ser(self._metric_ids, False), "weighted_metrics": ser(self._metric_ids, True)}

    def _compile_from_config(self, config, source="config"):
        if not isinstance(config, dict):
            raise ValueError(f"{source}: the compile entry must be an object")
        optimizer = deserialize(config.get("optimizer"), classes_of(vars(optimizers), optimizers.Optimizer),
                                "optimizer")
        loss = deserialize(config.get("loss"), classes_of(vars(losses), losses.Loss), "loss")
        metric_classes = classes_of(vars(metrics_module), metrics_module.Metric)
        def des(ms):
            return [m if isinstance(m, str) else deserialize(m, metric_classes, "metric") for m in ms or []]
        self.compile(optimizer=optimizer, loss=loss, metrics=des(config.get("metrics")),
                     weighted_metrics=des(config.get("weighted_metrics")))

    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"{what}: you must compile the model before training/evaluating it "
                               "(model.compile(optimizer, loss, metrics))")
        if self.loss is None and not getattr(self, "_computes_own_loss", False):
            raise ValueError(f"{what}: the model was compiled without a loss")

    def _configure_fusion(self):
        """Softmax + cross-entropy on probabilities is computed from the logits (exact and stable,
        as Keras' TensorFlow backend does), and the softmax backward is skipped."""
        for layer in self._layers:
            if hasattr(layer, "fused_logits"):
                layer.fused_logits = False
        last = self._output_layer
        self._fused = bool(
            self.loss is not None and self.loss.is_crossentropy and not self.loss.from_logits
            and last is not None and getattr(last, "activation", None) == "softmax"
            and id(last) not in self._shared_layers())  # (its other calls need the softmax's gradient)
        if self._fused:
            last.fused_logits = True

    def _build_metrics(self, y):
        if self._metrics is None:
            out_shape = self._output_sample_shape
            self._metrics = []
            names = set()
            for ident, weighted in self._metric_ids:  # (sparse: one label per position)
                m = metrics_module.get(ident, self.loss, out_shape[-1], sparse_targets=(y.ndim == len(out_shape)))
                if weighted and m.name in names:  # Keras: a weighted twin gets a prefix
                    m.name = "weighted_" + m.name
                m.weighted = weighted
                names.add(m.name)
                self._metrics.append(m)
        return self._metrics

    def _logs(self, tracker, metrics, prefix=""):
        logs = {prefix + "loss": tracker.result()}
        for m in metrics:
            logs[prefix + m.name] = _python_value(m.result())
        return logs
