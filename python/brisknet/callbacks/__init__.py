"""Keras-style callbacks: the base class with every hook, the History every fit returns, the
progress bar (tqdm) that verbose=1 shows, and Keras' stock callbacks with its semantics, one per
module: EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, LearningRateScheduler, CSVLogger,
TerminateOnNaN, LambdaCallback, TensorBoard (scalars through tensorboardX, an optional extra) and
BackupAndRestore.

A fit whose callbacks override no per-batch hook runs whole epochs in C++; one that does is called
back after every batch."""
from .backup_and_restore import BackupAndRestore
from .callback import Callback, CallbackList
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .history import History
from .lambda_callback import LambdaCallback
from .lr_scheduler import LearningRateScheduler
from .model_checkpoint import ModelCheckpoint
from .progbar import ProgbarLogger, format_logs
from .reduce_lr import ReduceLROnPlateau
from .tensorboard import TensorBoard
from .terminate_on_nan import TerminateOnNaN

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping", "ModelCheckpoint",
           "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger", "TerminateOnNaN", "LambdaCallback",
           "TensorBoard", "BackupAndRestore", "format_logs"]
