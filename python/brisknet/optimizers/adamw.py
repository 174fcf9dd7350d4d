from __future__ import annotations

from .adam import Adam


class AdamW(Adam):
    """Keras AdamW: Adam with decoupled weight decay ``p -= lr * weight_decay * p`` (default 0.004)."""
    name = "adamw"

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW needs a weight_decay (a float)")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay, **kwargs)
