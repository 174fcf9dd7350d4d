"""scikit-learn wrappers: SciKeras-style parameters, Pipeline, GridSearchCV, clone, pickle, and
scikit-learn's own estimator checks."""
import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import brisknet as keras  # noqa: E402
from brisknet import layers  # noqa: E402
from brisknet.wrappers import KerasClassifier, KerasRegressor  # noqa: E402


def classifier_model(meta, hidden=16):
    model = keras.Sequential([keras.Input((meta["n_features_in_"],)), layers.Dense(hidden, activation="relu"),
                              layers.Dense(meta["n_classes_"], activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    return model


def regressor_model(meta, hidden=16):
    return keras.Sequential([keras.Input((meta["n_features_in_"],)), layers.Dense(hidden, activation="relu"),
                             layers.Dense(meta["n_outputs_expected_"])])


def test_classifier_with_string_labels():
    X, y = make_classification(300, 8, n_informative=5, n_classes=3, random_state=0)
    names = np.array(["cat", "dog", "eel"])[y]
    clf = KerasClassifier(model=classifier_model, model__hidden=32, epochs=30, batch_size=32, random_state=0)
    clf.fit(X, names)
    assert list(clf.classes_) == ["cat", "dog", "eel"] and clf.n_features_in_ == 8
    proba = clf.predict_proba(X)
    assert proba.shape == (300, 3) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert set(clf.predict(X)) <= {"cat", "dog", "eel"}
    assert clf.score(X, names) > 0.8
    assert clf.model_.layers[0].units == 32


def test_regressor_and_pipeline():
    X, y = make_regression(300, 6, noise=0.1, random_state=0)
    pipe = make_pipeline(StandardScaler(), KerasRegressor(model=regressor_model, loss="mse", optimizer="adam",
                                                           epochs=60, batch_size=16, random_state=0))
    pipe.fit(X, y / y.std())
    assert pipe.predict(X).shape == (300,)
    assert pipe.score(X, y / y.std()) > 0.9


def test_params_clone_and_grid_search():
    X, y = make_classification(200, 6, random_state=1)
    clf = KerasClassifier(model=classifier_model, model__hidden=8, epochs=5, random_state=0)
    assert clf.get_params()["model__hidden"] == 8
    clf.set_params(model__hidden=12, epochs=7)
    twin = clone(clf)
    assert twin.get_params()["model__hidden"] == 12 and twin.epochs == 7 and not hasattr(twin, "model_")
    with pytest.raises(ValueError, match="invalid parameter"):
        clf.set_params(nonsense=1)
    search = GridSearchCV(clf, {"model__hidden": [4, 16], "epochs": [2, 10]}, cv=2).fit(X, y)
    assert set(search.best_params_) == {"model__hidden", "epochs"}
    assert search.best_estimator_.model_.layers[0].units == search.best_params_["model__hidden"]


def test_pickle_round_trip():
    X, y = make_classification(100, 5, random_state=2)
    clf = KerasClassifier(model=classifier_model, epochs=3, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


def test_binary_sigmoid_and_uncompiled_models():
    X, y = make_classification(150, 4, random_state=3)

    def one_output(meta):
        return keras.Sequential([keras.Input((meta["n_features_in_"],)), layers.Dense(1, activation="sigmoid")])

    clf = KerasClassifier(model=one_output, optimizer="adam", epochs=20, random_state=0).fit(X, y)
    assert clf.model_.loss.name == "binary_crossentropy"  # chosen for one sigmoid output
    assert clf.predict_proba(X).shape == (150, 2) and clf.score(X, y) > 0.7


def _checks_clf():
    return KerasClassifier(model=classifier_model, epochs=3, batch_size=16, random_state=0)


def _checks_reg():
    return KerasRegressor(model=regressor_model, loss="mse", optimizer="adam", epochs=40, batch_size=16,
                          random_state=0)


# Checks that do not apply: a minibatch optimizer's result depends on the sample weights through
# the batches, so weighting a sample by 2 is not the same as repeating it.
EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": "minibatch training: weights change the batches",
}


@parametrize_with_checks([_checks_clf(), _checks_reg()], expected_failed_checks=lambda est: EXPECTED_FAILURES)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
