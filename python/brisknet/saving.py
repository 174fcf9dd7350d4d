"""keras.saving: saving and loading models and weights, whichever the format ('.keras' Keras 3
archives, '.brisk' brisknet files, '.weights.h5' weight files). A face: it only forwards to the
models and the format modules (keras_archive, brisk_format), as Keras' keras/api/saving does."""
from .models import load_model, save_model
from .object_registration import (CustomObjectScope, custom_object_scope, get_custom_objects, get_registered_name,
                                  get_registered_object, register_keras_serializable)

__all__ = ["load_model", "save_model", "load_weights", "save_weights", "register_keras_serializable",
           "get_registered_name", "get_registered_object", "get_custom_objects", "custom_object_scope",
           "CustomObjectScope"]


def save_weights(model, filepath, overwrite=True, **kwargs):
    if kwargs:
        raise TypeError(f"save_weights: unexpected arguments {sorted(kwargs)}")
    model.save_weights(filepath, overwrite=overwrite)


def load_weights(model, filepath, skip_mismatch=False, **kwargs):
    if skip_mismatch or kwargs:
        raise NotImplementedError("load_weights: skip_mismatch and other options are not supported")
    model.load_weights(filepath)
