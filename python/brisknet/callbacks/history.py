"""History: the epoch logs every fit returns (and their plot, with matplotlib)."""
from __future__ import annotations

from .callback import Callback


class History(Callback):
    """Records the epoch logs: ``history.history['loss']`` etc., and ``history.epoch``;
    ``plot()`` draws them (matplotlib, an optional extra)."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self

    def plot(self, metrics=None, ax=None):
        """Loss and metric curves per epoch, each with its 'val_' twin on the same axes; one axes
        per quantity unless `ax` is given. Returns the matplotlib Figure."""
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("History.plot needs matplotlib: pip install 'brisknet[plot]'") from None
        names = metrics or [k for k in self.history if not k.startswith("val_") and k != "learning_rate"]
        if ax is None:
            fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
            axes = list(axes[0])
        else:
            fig, axes = ax.figure, [ax] * len(names)
        epochs = [e + 1 for e in self.epoch]
        for a, name in zip(axes, names):
            for key, style in ((name, "-"), ("val_" + name, "--")):
                if key in self.history:
                    a.plot(epochs[-len(self.history[key]):], self.history[key], style, label=key)
            a.set_xlabel("epoch")
            a.set_title(name)
            a.legend()
        fig.tight_layout()
        return fig
