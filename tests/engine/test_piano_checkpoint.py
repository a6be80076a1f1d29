"""The torch-free checkpoint reader, on tiny checkpoints written here in torch.save's zip format.

The pickle is written with the standard library's own Pickler: stand-in ``torch`` modules (installed
in ``sys.modules`` for the test only) give it the same global names torch's pickles refer to, and
``persistent_id`` writes the storages as torch does.
"""

from __future__ import annotations

import collections
import io
import pickle
import sys
import types
import zipfile

import numpy as np
import pytest

from midiscribe.engine.piano.checkpoint import CheckpointError, read_checkpoint, state_dict

STORAGE_NAMES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.float16): "HalfStorage",
                 np.dtype(np.int64): "LongStorage"}


class _Storage:
    def __init__(self, key: str, array: np.ndarray):
        self.key, self.array = key, array


class _Tensor:
    """Pickles as ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())``."""

    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce__(self):
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
        return rebuild, (self.storage, self.offset, self.size, self.stride, False, collections.OrderedDict())


@pytest.fixture
def fake_torch(monkeypatch):
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):  # pragma: no cover - only its name is pickled
        raise AssertionError

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    for name in STORAGE_NAMES.values():
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    torch._utils = utils
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


def write_checkpoint(path, saved, storages: list[_Storage], *, byteorder: str = "little", folder: str = "archive"):
    torch = sys.modules["torch"]

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _Storage):
                storage_type = getattr(torch, STORAGE_NAMES[obj.array.dtype])
                return ("storage", storage_type, obj.key, "cpu", obj.array.size)
            return None

    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(saved)
    order = "<" if byteorder == "little" else ">"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{folder}/data.pkl", buffer.getvalue())
        archive.writestr(f"{folder}/byteorder", byteorder)
        archive.writestr(f"{folder}/version", "3\n")
        for storage in storages:
            archive.writestr(f"{folder}/data/{storage.key}", storage.array.astype(storage.array.dtype.newbyteorder(order)).tobytes())


def test_tensors_come_back_with_their_shapes_strides_and_types(tmp_path, fake_torch):
    rng = np.random.default_rng(0)
    weights = _Storage("0", rng.standard_normal(24).astype(np.float32))
    half = _Storage("1", rng.standard_normal(6).astype(np.float16))
    counts = _Storage("2", np.arange(5, dtype=np.int64))
    saved = {"state_dict": collections.OrderedDict([
        ("layer.weight", _Tensor(weights, 0, (4, 6), (6, 1))),
        ("layer.weight_t", _Tensor(weights, 0, (6, 4), (1, 6))),  # a transposed view of the same storage
        ("layer.bias", _Tensor(weights, 18, (6,), (1,))),  # an offset into it
        ("half", _Tensor(half, 0, (2, 3), (3, 1))),
        ("steps", _Tensor(counts, 4, (), ())),  # a scalar
    ])}
    path = tmp_path / "tiny.pt"
    write_checkpoint(path, saved, [weights, half, counts])

    loaded = state_dict(path)

    assert list(loaded) == ["layer.weight", "layer.weight_t", "layer.bias", "half", "steps"]
    np.testing.assert_array_equal(loaded["layer.weight"], weights.array[:24].reshape(4, 6))
    np.testing.assert_array_equal(loaded["layer.weight_t"], weights.array.reshape(4, 6).T)
    np.testing.assert_array_equal(loaded["layer.bias"], weights.array[18:24])
    assert loaded["half"].dtype == np.float16 and loaded["half"].shape == (2, 3)
    np.testing.assert_array_equal(loaded["half"], half.array.reshape(2, 3))
    assert loaded["steps"].shape == () and int(loaded["steps"]) == 4


def test_big_endian_storages_are_read_as_numbers(tmp_path, fake_torch):
    values = _Storage("0", np.array([1.5, -2.25, 3.0], dtype=np.float32))
    path = tmp_path / "big.pt"
    write_checkpoint(path, {"x": _Tensor(values, 0, (3,), (1,))}, [values], byteorder="big", folder="big")

    np.testing.assert_array_equal(read_checkpoint(path)["x"], [1.5, -2.25, 3.0])


class _Dangerous:
    def __reduce__(self):
        import os

        return os.system, ("echo this must never run",)


def test_a_pickle_naming_anything_but_tensors_is_refused_without_running_it(tmp_path, fake_torch, capfd):
    path = tmp_path / "evil.pt"
    write_checkpoint(path, {"state_dict": {"x": _Dangerous()}}, [])

    with pytest.raises(CheckpointError, match="system"):
        read_checkpoint(path)
    assert "must never run" not in capfd.readouterr().out


def test_a_storage_of_the_wrong_size_or_missing_is_an_error(tmp_path, fake_torch):
    storage = _Storage("0", np.zeros(4, dtype=np.float32))
    path = tmp_path / "short.pt"
    write_checkpoint(path, {"x": _Tensor(storage, 0, (4,), (1,))}, [])  # the storage member is missing
    with pytest.raises(CheckpointError, match="lacks the storage"):
        read_checkpoint(path)

    too_far = tmp_path / "too_far.pt"
    write_checkpoint(too_far, {"x": _Tensor(storage, 2, (4,), (1,))}, [storage])
    with pytest.raises(CheckpointError, match="does not fit"):
        read_checkpoint(too_far)


def test_a_file_that_is_not_a_checkpoint_is_an_error(tmp_path):
    path = tmp_path / "not.pt"
    path.write_bytes(b"definitely not a zip file")
    with pytest.raises(CheckpointError, match="not a zip-format"):
        read_checkpoint(path)
