"""Finding a dataset's files: an explicit path, $BRISKNET_DATA, the user cache, Debian's
/usr/share/datasets, then a download (sha256-checked) into the cache. One clear error otherwise."""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path


def cache_dir(name: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "brisknet" / "datasets" / name


def _digest(path: Path, like: str) -> str:
    """The file's sha256 (or md5, where the expected digest is one: Keras' word-index files)."""
    h = hashlib.md5() if len(like) == 32 else hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _download(url: str, dest: Path, sha256: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=30) as resp:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        got = _digest(Path(tmp), sha256)
        if got != sha256:
            raise OSError(f"{url}: checksum mismatch (got {got}, expected {sha256})")
        os.replace(tmp, dest)  # atomic: a partial download never looks complete
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def locate(name: str, files: dict, path=None, system_dirs=(), base_url=None, hint="") -> dict:
    """Paths of `files` ({filename: sha256}), all from one directory, searched in order."""
    candidates = []
    if path is not None:
        candidates.append(("path=", Path(path)))
    if os.environ.get("BRISKNET_DATA"):
        candidates.append(("$BRISKNET_DATA", Path(os.environ["BRISKNET_DATA"]) / name))
        candidates.append(("$BRISKNET_DATA", Path(os.environ["BRISKNET_DATA"])))
    candidates.append(("user cache", cache_dir(name)))
    candidates += [("system", Path(d)) for d in system_dirs]
    tried = []
    for label, d in candidates:
        if all((d / f).is_file() for f in files):
            return {f: d / f for f in files}
        tried.append(f"{label} {d}: missing {', '.join(f for f in files if not (d / f).is_file())}")
        if label == "path=":
            break  # an explicit path is the only place to look
    if base_url and path is None:
        dest = cache_dir(name)
        try:
            for f, digest in files.items():
                if not (dest / f).is_file():
                    _download(base_url + f, dest / f, digest)
            return {f: dest / f for f in files}
        except OSError as e:
            tried.append(f"download from {base_url}: {e}")
    raise FileNotFoundError(f"could not find the {name} dataset. Tried:\n  " + "\n  ".join(tried) + f"\n{hint}")
