"""keras.utils and brisknet's helpers: a face that only re-exports (seeding and threads from
runtime, data utilities from data, images, the image, text and timeseries datasets, clear_session from naming,
estimate_fit from estimate).
brisknet's own modules import the defining modules, never this one."""
from .array_dataset import split_dataset
from .data import PyDataset, normalize, to_categorical
from .estimate import estimate_fit
from .image_dataset import image_dataset_from_directory
from .images import array_to_img, img_to_array, load_img, save_img
from .naming import clear_session
from .runtime import cpu_info, deferred_interrupt, get_num_threads, set_num_threads, set_random_seed
from .sequences import pad_sequences
from .text_dataset import text_dataset_from_directory
from .timeseries_dataset import timeseries_dataset_from_array

__all__ = ["set_random_seed", "set_num_threads", "get_num_threads", "cpu_info", "estimate_fit",
           "deferred_interrupt", "to_categorical", "normalize", "clear_session", "PyDataset", "pad_sequences",
           "image_dataset_from_directory", "text_dataset_from_directory", "timeseries_dataset_from_array", "load_img", "img_to_array", "array_to_img", "save_img",
           "split_dataset"]
