"""Read a PyTorch checkpoint (``torch.save``'s zip format) into numpy arrays, without PyTorch.

The format: a zip archive whose members sit under one folder (``<name>/``). ``data.pkl`` is a pickle
of the saved object in which every tensor is a call to ``torch._utils._rebuild_tensor_v2(storage,
offset, size, stride, ...)`` and every storage a *persistent id*, ``("storage", <torch.XStorage>, key,
device, numel)``, whose bytes are the member ``data/<key>`` (raw, in the byte order the member
``byteorder`` names; little-endian when it is absent).

Unpickling runs code named by the pickle, so the unpickler here resolves only the few names a
state dict needs (an ``OrderedDict``, the tensor and parameter rebuild functions, storage types) to
harmless numpy equivalents and refuses everything else.
"""

from __future__ import annotations

import collections
import io
import os
import pickle  # nosec B403 # only the restricted _CheckpointUnpickler below, on a hash-checked checkpoint
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np


class CheckpointError(ValueError):
    """The file is not a checkpoint this reader understands (or is damaged)."""


# torch's storage type names and the numpy dtype of their elements.
STORAGE_DTYPES: dict[str, np.dtype] = {
    "DoubleStorage": np.dtype(np.float64),
    "FloatStorage": np.dtype(np.float32),
    "HalfStorage": np.dtype(np.float16),
    "LongStorage": np.dtype(np.int64),
    "IntStorage": np.dtype(np.int32),
    "ShortStorage": np.dtype(np.int16),
    "CharStorage": np.dtype(np.int8),
    "ByteStorage": np.dtype(np.uint8),
    "BoolStorage": np.dtype(np.bool_),
}


class _StorageType:
    """Stands in for ``torch.FloatStorage`` and friends: only its element type matters."""

    def __init__(self, name: str):
        self.name = name
        self.dtype = STORAGE_DTYPES[name]


def _rebuild_tensor(storage: np.ndarray, offset: int, size, stride, *_ignored) -> np.ndarray:
    """``torch._utils._rebuild_tensor_v2``: a view of ``size`` with ``stride`` (in elements), copied."""
    size, stride = tuple(size), tuple(stride)
    if not size:
        return np.array(storage[offset])
    last = offset + sum((length - 1) * step for length, step in zip(size, stride, strict=True))
    if any(length == 0 for length in size):
        return np.zeros(size, dtype=storage.dtype)
    if offset < 0 or last >= storage.shape[0] or any(step < 0 for step in stride):
        raise CheckpointError(f"a tensor of size {size} and stride {stride} at offset {offset} "
                              f"does not fit in its storage of {storage.shape[0]} elements")
    itemsize = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=size, strides=tuple(step * itemsize for step in stride), writeable=False
    )
    return np.ascontiguousarray(view)


def _rebuild_parameter(data: np.ndarray, *_ignored) -> np.ndarray:
    """``torch._utils._rebuild_parameter``: an ``nn.Parameter`` is just its tensor here."""
    return data


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name) for name in STORAGE_DTYPES},
}


class _CheckpointUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str, byteorder: str):
        super().__init__(io.BytesIO(data))
        self._archive = archive
        self._prefix = prefix
        self._byteorder = "<" if byteorder == "little" else ">"
        self._storages: dict[str, np.ndarray] = {}

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise CheckpointError(
                f"the checkpoint refers to {module}.{name}, which a plain state dict never needs; refusing to load it"
            ) from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise CheckpointError(f"unexpected persistent id {pid!r} in the checkpoint")
        _, storage_type, key, _device, numel = pid
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError(f"unexpected storage type {storage_type!r} in the checkpoint")
        key = str(key)
        if key not in self._storages:
            member = f"{self._prefix}data/{key}"
            try:
                raw = self._archive.read(member)
            except KeyError:
                raise CheckpointError(f"the checkpoint lacks the storage {member}") from None
            dtype = storage_type.dtype.newbyteorder(self._byteorder)
            if len(raw) != numel * dtype.itemsize:
                raise CheckpointError(f"storage {member} holds {len(raw)} bytes, not {numel} × {dtype.itemsize}")
            self._storages[key] = np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="), copy=False)
        return self._storages[key]


def read_checkpoint(path: str | os.PathLike[str]) -> Any:
    """The object saved in the checkpoint at ``path``, its tensors as numpy arrays.

    Raises :class:`CheckpointError` when the file is not a zip checkpoint or refers to anything but
    tensors, storages and (ordered) dicts.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(f"{path} is not a zip-format PyTorch checkpoint ({exc})") from None
    with archive:
        pickles = [name for name in archive.namelist() if name.endswith("data.pkl")]
        if len(pickles) != 1:
            raise CheckpointError(f"{path} should hold exactly one data.pkl, found {len(pickles)}")
        prefix = pickles[0][: -len("data.pkl")]
        names = set(archive.namelist())
        byteorder = "little"
        if f"{prefix}byteorder" in names:
            byteorder = archive.read(f"{prefix}byteorder").decode("ascii").strip()
            if byteorder not in ("little", "big"):
                raise CheckpointError(f"{path} names an unknown byte order {byteorder!r}")
        unpickler = _CheckpointUnpickler(archive.read(pickles[0]), archive, prefix, byteorder)
        try:
            return unpickler.load()
        except CheckpointError:
            raise
        except (pickle.UnpicklingError, EOFError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path} has a damaged data.pkl ({exc})") from None


def state_dict(path: str | os.PathLike[str], key: str = "state_dict") -> dict[str, np.ndarray]:
    """The ``state_dict`` (parameter name -> array) inside a training checkpoint, or the checkpoint itself."""
    saved = read_checkpoint(path)
    if isinstance(saved, Mapping) and isinstance(saved.get(key), Mapping):
        saved = saved[key]
    if not isinstance(saved, Mapping) or not all(isinstance(value, np.ndarray) for value in saved.values()):
        raise CheckpointError(f"{path} does not hold a state dict of tensors")
    return dict(saved)
