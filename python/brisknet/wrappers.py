"""scikit-learn estimators around brisknet models, following SciKeras' conventions:

    clf = KerasClassifier(model=make_model, model__hidden=64, epochs=10, batch_size=32, verbose=0)
    clf.fit(X, y).predict(X)

`model` is a callable returning a Sequential (compiled or not; if not, `optimizer`, `loss` and
`metrics` compile it) or a Sequential to copy. Parameters named `model__<arg>` go to that callable,
`fit__<arg>` to model.fit and `predict__<arg>` to model.predict; the callable also gets `meta`
(n_features_in_, n_outputs_expected_, n_classes_, classes_) and any other estimator parameter
named in its signature. Fitted attributes: model_, history_, n_features_in_, and for the
classifier classes_ and n_classes_. Estimators clone, pickle (the model travels as brisknet's own
safetensors bytes), and work in Pipeline and GridSearchCV. Needs scikit-learn (an optional extra).
"""
from __future__ import annotations

import inspect

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils.multiclass import type_of_target
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as e:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError("brisknet.wrappers needs scikit-learn >= 1.6: pip install 'brisknet[sklearn]'") from e

from . import losses as losses_module
from . import brisk_format, runtime
from .models import MODEL_CLASSES, Sequential

__all__ = ["KerasClassifier", "KerasRegressor"]

_ROUTES = ("model", "fit", "predict")  # the prefixes of routed parameters


class _BaseWrapper(BaseEstimator):
    _default_loss = None

    def __init__(self, model=None, *, optimizer="rmsprop", loss=None, metrics=None, epochs=1, batch_size=32,
                 verbose=0, callbacks=None, validation_split=0.0, shuffle=True, warm_start=False,
                 random_state=None, **kwargs):
        self.model, self.optimizer, self.loss, self.metrics = model, optimizer, loss, metrics
        self.epochs, self.batch_size, self.verbose, self.callbacks = epochs, batch_size, verbose, callbacks
        self.validation_split, self.shuffle, self.warm_start = validation_split, shuffle, warm_start
        self.random_state = random_state
        self._extra = sorted(kwargs)
        for k, v in kwargs.items():
            setattr(self, k, v)

    # ------------------------------------------------------------------ parameters
    def get_params(self, deep=True):
        params = super().get_params(deep=False)
        params.update({k: getattr(self, k) for k in self._extra})
        return params

    def set_params(self, **params):
        known = self.get_params()
        for key, value in params.items():
            if key not in known and key.split("__", 1)[0] not in _ROUTES:
                raise ValueError(f"invalid parameter {key!r} for {type(self).__name__}")
            if key not in known:
                self._extra = sorted(set(self._extra) | {key})
            setattr(self, key, value)
        return self

    def _routed(self, route):
        prefix = route + "__"
        return {k[len(prefix):]: v for k, v in self.get_params().items() if k.startswith(prefix)}

    # ------------------------------------------------------------------ building
    def _meta(self):
        return {"n_features_in_": self.n_features_in_, "n_outputs_expected_": self._n_outputs}

    def _build_model(self):
        if self.model is None:
            raise ValueError(f"{type(self).__name__}: pass model=, a function returning a Sequential")
        if isinstance(self.model, Sequential):
            model = brisk_format.model_from_bytes(brisk_format.model_to_bytes(self.model), MODEL_CLASSES,
                                                  compile=False) \
                if self.model.built else type(self.model).from_config(self.model.get_config())
        else:
            signature = inspect.signature(self.model).parameters
            takes_all = any(p.kind is p.VAR_KEYWORD for p in signature.values())
            kwargs = {k: v for k, v in self.get_params().items()
                      if "__" not in k and (k in signature) and k != "model"}
            kwargs.update(self._routed("model"))
            if "meta" in signature or takes_all:
                kwargs["meta"] = self._meta()
            model = self.model(**kwargs)
            if not isinstance(model, Sequential):
                raise TypeError(f"model= must return a brisknet Sequential, got {type(model).__name__}")
        if not model.compiled:
            loss = self.loss if self.loss is not None else self._default_loss_for(model)
            model.compile(optimizer=self.optimizer, loss=loss, metrics=self.metrics)
        return model

    def _targets_for(self, model, y):
        return y

    def _default_loss_for(self, model):
        raise ValueError(f"{type(self).__name__}: the model is not compiled and no loss= was given")

    # ------------------------------------------------------------------ fit / predict
    def fit(self, X, y, sample_weight=None, **kwargs):
        X, y = validate_data(self, X, y, dtype="numeric", multi_output=True, y_numeric=self._y_numeric,
                             reset=not (self.warm_start and hasattr(self, "model_")))
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, np.float32).reshape(-1)
            if sample_weight.shape[0] != X.shape[0] or sample_weight.sum() <= 0:
                raise ValueError("sample_weight must have one value per sample and a positive sum "
                                 "(all-zero weights leave nothing to fit)")
        if self.random_state is not None:
            runtime.set_random_seed(int(self.random_state) if not hasattr(self.random_state, "randint")
                                  else int(self.random_state.randint(2**31)))
        y_encoded = self._encode_targets(y)
        if not (self.warm_start and hasattr(self, "model_")):
            self.model_ = self._build_model()
        y_fit = self._targets_for(self.model_, y_encoded)
        fit_kwargs = {**self._routed("fit"), **kwargs}
        history = self.model_.fit(
            np.asarray(X, np.float32), y_fit, epochs=self.epochs, batch_size=self.batch_size, verbose=self.verbose,
            callbacks=self.callbacks, validation_split=self.validation_split, shuffle=self.shuffle,
            sample_weight=sample_weight, **fit_kwargs)
        self.history_ = {k: list(v) for k, v in history.history.items()}  # as SciKeras: a plain dict
        return self

    def _outputs(self, X):
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype="numeric", reset=False)
        return self.model_.predict(np.asarray(X, np.float32), batch_size=self.batch_size, verbose=0,
                                   **self._routed("predict"))

    # ------------------------------------------------------------------ pickling
    def __getstate__(self):
        state = dict(self.__dict__)
        if "model_" in state:  # brisknet's own file format, read back without executing anything
            state["model_"] = brisk_format.model_to_bytes(state["model_"])
        return state

    def __setstate__(self, state):
        if isinstance(state.get("model_"), bytes):
            state["model_"] = brisk_format.model_from_bytes(state["model_"], MODEL_CLASSES)
        self.__dict__.update(state)


class KerasClassifier(ClassifierMixin, _BaseWrapper):
    """A brisknet model as a scikit-learn classifier: labels of any type (encoded with
    LabelEncoder), predict_proba, score = accuracy."""
    _y_numeric = False

    def _encode_targets(self, y):
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"Unknown label type: KerasClassifier takes binary or multiclass labels, got {kind!r}")
        if not (self.warm_start and hasattr(self, "classes_")):
            self._encoder = LabelEncoder().fit(y)
            self.classes_ = self._encoder.classes_
            self.n_classes_ = len(self.classes_)
        self._n_outputs = self.n_classes_
        return self._encoder.transform(y)

    def _targets_for(self, model, codes):
        """Class codes in the layout the model's loss takes: one-hot, 0/1 floats or codes."""
        if isinstance(model.loss, losses_module.CategoricalCrossentropy):
            return np.eye(self.n_classes_, dtype=np.float32)[codes]
        if isinstance(model.loss, losses_module.BinaryCrossentropy):
            return codes.astype(np.float32)
        return codes

    def _meta(self):
        return {**super()._meta(), "n_classes_": self.n_classes_, "classes_": self.classes_}

    def _default_loss_for(self, model):
        return "binary_crossentropy" if model.output_shape[-1] == 1 else "sparse_categorical_crossentropy"

    def predict_proba(self, X):
        p = self._outputs(X)
        if p.shape[1] == 1 and self.n_classes_ == 2:  # one sigmoid output: P(class 1)
            p = np.hstack([1.0 - p, p])
        return p

    def predict(self, X):
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]


class KerasRegressor(RegressorMixin, _BaseWrapper):
    """A brisknet model as a scikit-learn regressor: score = R^2."""
    _y_numeric = True

    def _encode_targets(self, y):
        y = np.asarray(y, np.float32)
        self._target_1d = y.ndim == 1
        self._n_outputs = 1 if y.ndim == 1 else y.shape[1]
        return y.reshape(len(y), -1)

    def _default_loss_for(self, model):
        return "mean_squared_error"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # y may have several columns
        return tags

    def predict(self, X):
        p = self._outputs(X).astype(np.float64)  # scikit-learn's regressors predict float64
        return p.ravel() if getattr(self, "_target_1d", False) and p.shape[1] == 1 else p
