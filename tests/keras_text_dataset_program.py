"""text_dataset_from_directory on a small generated folder of .txt files (class subfolders,
UTF-8, a nested folder, a file that is not .txt): run by Keras 3 on TensorFlow to record
tests/keras_text_dataset_expected.json, and by test_text_dataset.py with brisknet as keras.

    KERAS_BACKEND=tensorflow python tests/keras_text_dataset_program.py --record   # Keras 3 + TF venv
"""
import json
import os
import sys
import tempfile

import numpy as np

EXPECTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_text_dataset_expected.json")


def make_folder(root):
    words = ["good", "bad", "film", "plot", "été", "naïve", "great", "boring", "actors", "music"]
    rng = np.random.default_rng(3)
    for c, name in enumerate(("neg", "pos")):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(6):
            text = " ".join(words[j] for j in rng.integers(0, len(words), int(rng.integers(2, 9))))
            with open(os.path.join(root, name, f"review_{i}.txt"), "w", encoding="utf-8") as f:
                f.write(f"{name} {i}: {text}")
    os.makedirs(os.path.join(root, "pos", "more"), exist_ok=True)
    with open(os.path.join(root, "pos", "more", "extra.txt"), "w", encoding="utf-8") as f:
        f.write("pos extra: great great")
    with open(os.path.join(root, "neg", "readme.md"), "w") as f:
        f.write("not a review")
    return root


def _text(t):
    return t.decode("utf-8", errors="ignore") if isinstance(t, bytes) else str(t)


def run(keras, root):
    def batches(ds):
        return [[[_text(t) for t in np.asarray(x).tolist()], np.asarray(y).tolist()] for x, y in ds]

    out = {}
    ds = keras.utils.text_dataset_from_directory(root, batch_size=4, shuffle=False, verbose=False)
    out["class_names"] = list(ds.class_names)
    out["batches"] = batches(ds)
    ds = keras.utils.text_dataset_from_directory(root, batch_size=5, shuffle=False, max_length=7,
                                                 label_mode="categorical", verbose=False)
    out["short"] = batches(ds)
    train, val = keras.utils.text_dataset_from_directory(root, batch_size=3, seed=11, validation_split=0.3,
                                                         subset="both", label_mode="binary", verbose=False)
    out["train"] = batches(train)  # (Keras shuffles within each epoch as well: compared as a set)
    out["val"] = batches(val)
    return out


def main():
    import keras
    with tempfile.TemporaryDirectory() as tmp:
        result = run(keras, make_folder(tmp))
    if "--record" in sys.argv:
        with open(EXPECTED, "w") as f:
            json.dump(result, f, indent=1, sort_keys=True, ensure_ascii=False)
            f.write("\n")
    else:
        print(json.dumps(result, ensure_ascii=False)[:2000])


if __name__ == "__main__":
    main()
