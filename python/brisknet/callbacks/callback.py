"""The Callback base class (every Keras hook, the logs dicts Keras passes) and CallbackList,
which calls a fit's callbacks in order."""
from __future__ import annotations


class Callback:
    """Keras' callback: every hook gets a logs dict (empty where there is nothing to report);
    `self.model` and `self.params` ({'verbose', 'epochs', 'steps'}) are set before training."""
    writes_files = False  # True: in a data-parallel fit only rank 0 runs it (files, not training)

    def __init__(self):
        self.model = None
        self.params = None

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass

    # The training batch hooks call the legacy names by default, as in Keras.
    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


# the legacy hook each training batch hook calls by default
_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


class CallbackList(Callback):
    """Calls every callback's hook in order, as Keras does: a logs dict (never None) positionally
    to the epoch and begin/end hooks, by keyword to the batch hooks. `wants(hook)` tells the loop
    whether any callback overrides a hook (so a fit without batch hooks skips building batch logs)."""

    def __init__(self, callbacks, model, params):
        super().__init__()
        self.callbacks = list(callbacks)
        self.params = params
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def wants(self, hook, ignoring=()) -> bool:
        """Whether a callback (other than those of the `ignoring` types) overrides `hook` (or the
        legacy name it calls), in its class or (LambdaCallback) on the instance."""
        def overrides(cb, name):
            fn = getattr(cb, name)
            return getattr(fn, "__func__", fn) is not getattr(Callback, name)
        names = [hook] + ([_ALIASES[hook]] if hook in _ALIASES else [])
        return any(overrides(cb, name) for cb in self.callbacks if not isinstance(cb, tuple(ignoring))
                   for name in names)

    def __getattribute__(self, name):
        if name.startswith("on_"):
            cbs = object.__getattribute__(self, "callbacks")
            if "batch" in name:
                def call(batch, logs=None):
                    logs = {} if logs is None else logs
                    for cb in cbs:
                        getattr(cb, name)(batch, logs=logs)
            elif "epoch" in name:
                def call(epoch, logs=None):
                    logs = {} if logs is None else logs
                    for cb in cbs:
                        getattr(cb, name)(epoch, logs)
            else:
                def call(logs=None):
                    logs = {} if logs is None else logs
                    for cb in cbs:
                        getattr(cb, name)(logs)
            return call
        return object.__getattribute__(self, name)
