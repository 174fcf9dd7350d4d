"""Metrics against independent references (numpy; scikit-learn where it has the same quantity),
state accumulated over batches, Keras 3's weighting rules, and user functions as metrics and
losses."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import layers, metrics


def probs(rng, n=300, k=6):
    z = rng.standard_normal((n, k))
    return (np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)).astype(np.float32)


def in_batches(metric, y, p, sw=None, size=37):
    metric.reset_state()
    for s in range(0, len(p), size):
        metric.update_state(y[s:s + size], p[s:s + size], None if sw is None else sw[s:s + size])
    return metric.result()


@pytest.mark.parametrize("k", [1, 2, 5])
def test_top_k(rng, k):
    p = probs(rng)
    labels = rng.integers(0, 6, 300)
    rank = (p > p[np.arange(300), labels][:, None]).sum(axis=1)  # classes scored strictly higher
    want = float(np.mean(rank < k))
    assert in_batches(metrics.SparseTopKCategoricalAccuracy(k=k), labels, p) == pytest.approx(want)
    assert in_batches(metrics.TopKCategoricalAccuracy(k=k), np.eye(6)[labels], p) == pytest.approx(want)
    if k == 1:
        assert want == pytest.approx(np.mean(p.argmax(1) == labels))


def test_top_k_ties_count_in_favour():
    p = np.array([[0.25, 0.25, 0.25, 0.25]], np.float32)
    assert in_batches(metrics.SparseTopKCategoricalAccuracy(k=1), np.array([3]), p) == 1.0


def test_rmse_and_regression_metrics(rng):
    y = rng.standard_normal((100, 3)).astype(np.float32)
    p = rng.standard_normal((100, 3)).astype(np.float32)
    assert in_batches(metrics.RootMeanSquaredError(), y, p) == pytest.approx(np.sqrt(np.mean((y - p) ** 2)))
    assert in_batches(metrics.MeanAbsoluteError(), y, p) == pytest.approx(np.mean(np.abs(y - p)))


def test_precision_recall_match_sklearn(rng):
    pytest.importorskip("sklearn")
    from sklearn.metrics import precision_score, recall_score
    y = rng.integers(0, 2, 400)
    p = rng.uniform(size=(400, 1)).astype(np.float32)
    sw = rng.uniform(0.1, 2.0, 400)
    pred = (p[:, 0] > 0.5).astype(int)
    assert in_batches(metrics.Precision(), y, p) == pytest.approx(precision_score(y, pred))
    assert in_batches(metrics.Recall(), y, p) == pytest.approx(recall_score(y, pred))
    assert in_batches(metrics.Precision(), y, p, sw) == pytest.approx(precision_score(y, pred, sample_weight=sw))
    assert in_batches(metrics.Recall(thresholds=0.3), y, p) == pytest.approx(
        recall_score(y, (p[:, 0] > 0.3).astype(int)))


def test_auc_matches_sklearn_and_keras_thresholds(rng):
    pytest.importorskip("sklearn")
    from sklearn.metrics import average_precision_score, roc_auc_score
    y = rng.integers(0, 2, 2000)
    p = np.clip(0.3 * y + rng.uniform(size=2000) * 0.7, 0, 1).astype(np.float32)[:, None]
    roc = in_batches(metrics.AUC(), y, p, size=333)
    assert roc == pytest.approx(roc_auc_score(y, p[:, 0]), abs=5e-3)  # 200 thresholds, as Keras
    assert in_batches(metrics.AUC(num_thresholds=2000), y, p) == pytest.approx(roc_auc_score(y, p[:, 0]), abs=1e-3)
    pr = in_batches(metrics.AUC(curve="PR"), y, p)
    assert pr == pytest.approx(average_precision_score(y, p[:, 0]), abs=0.02)
    separable = np.array([0.1, 0.2, 0.8, 0.9], np.float32)[:, None]
    assert in_batches(metrics.AUC(), np.array([0, 0, 1, 1]), separable) == pytest.approx(1.0)
    assert in_batches(metrics.AUC(curve="PR"), np.array([0, 0, 1, 1]), separable) == pytest.approx(1.0)


def test_metric_names_in_history_and_fit():
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((120, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy",
                  metrics=["accuracy", "precision", "recall", "auc", keras.metrics.AUC(curve="PR", name="pr")])
    h = model.fit(x, y, epochs=2, verbose=0, validation_split=0.25)
    assert set(h.history) == {"loss", "accuracy", "precision", "recall", "auc", "pr", "val_loss",
                              "val_accuracy", "val_precision", "val_recall", "val_auc", "val_pr"}
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)
    from sklearn.metrics import roc_auc_score
    assert logs["auc"] == pytest.approx(roc_auc_score(y, p[:, 0]), abs=5e-3)


def test_metrics_ignore_sample_weight_and_weighted_metrics_use_it():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((90, 4)).astype(np.float32)
    y = rng.integers(0, 3, 90)
    sw = rng.uniform(0.0, 3.0, 90).astype(np.float32)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  weighted_metrics=["accuracy"])
    logs = model.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
    hits = (model.predict(x, verbose=0).argmax(1) == y).astype(np.float64)
    assert logs["accuracy"] == pytest.approx(hits.mean())
    assert logs["weighted_accuracy"] == pytest.approx((hits * sw).sum() / sw.sum())


def test_class_weight_is_the_matching_sample_weight():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    cw = {0: 0.5, 1: 2.0, 2: 1.0}
    results = []
    for kw in (dict(class_weight=cw), dict(sample_weight=np.array([cw[c] for c in y], np.float32))):
        keras.utils.set_random_seed(5)
        model = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        results.append((model.fit(x, y, epochs=2, batch_size=16, verbose=0, **kw).history, model.get_weights()))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)


def test_function_metrics_and_losses():
    def abs_error(y_true, y_pred):
        return np.abs(y_true - y_pred).mean(axis=-1)

    def squared(y_true, y_pred):
        return ((y_true - y_pred) ** 2).mean(axis=-1)

    rng = np.random.default_rng(4)
    x = rng.standard_normal((80, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)
    weights = []
    for loss in ("mse", squared):
        keras.utils.set_random_seed(6)
        model = keras.Sequential([keras.Input((3,)), layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss=loss, metrics=[abs_error])
        h = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
        weights.append(model.get_weights())
        assert "abs_error" in h.history
    # the numerical gradient of the function loss follows the analytic one of 'mse'
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["abs_error"] == pytest.approx(np.abs(model.predict(x, verbose=0) - y).mean(), rel=1e-5)
    with pytest.raises(ValueError, match="cannot be saved"):
        model.save("/tmp/never-written.brisk")

    model.compile(optimizer="sgd", loss=lambda yt, yp: 1.0)
    with pytest.raises(ValueError, match="one value per sample"):
        model.fit(x, y, verbose=0)
