"""compile / fit / evaluate / predict (trainer.py assembles the parts)."""
from .trainer import Trainer

__all__ = ["Trainer"]
