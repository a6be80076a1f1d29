"""Setting up the piano model: download the pinned transkun wheel, check it, build and cache what runs.

``fetch_piano_model`` downloads ``transkun==2.0.1`` with ``pip download --no-deps`` (none of its
dependencies, PyTorch among them, come along), checks the wheel's SHA-256 and those of the checkpoint
and configuration inside it, reads the checkpoint without PyTorch, builds the ONNX graph of the
network and of its interval scorer (``graph.py``, which needs the ``onnx`` package: set-up only) and
keeps, beside them, the weights the numpy side needs. ``model.py`` verifies and loads the result.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..errors import ModelNotFoundError
from ..model import check_wheel, download_pinned_wheel
from . import config, graph
from .model import (
    CHECKPOINT_MEMBER,
    CHECKPOINT_SHA256,
    CONFIG_MEMBER,
    CONFIG_SHA256,
    INT8_NETWORK_FILE,
    MANIFEST_FILE,
    MODEL_NAME,
    NETWORK_FILE,
    SCORER_FILE,
    TRANSKUN_VERSION,
    WEIGHTS_FILE,
    WHEEL_NAME,
    WHEEL_SHA256,
    manifest_expected,
    model_dir,
    verify_piano_model,
)

# The numpy side's weights: the front end's windows and filterbank, the upsampling and the note heads.
_NUMPY_WEIGHT_PREFIXES = ("framewiseFeatureExtractor.", "backbone.upConv1dSkip.", "velocityPredictor.",
                          "refinedOFPredictor.")
# transkun 2.0.conf values config.py and frontend.py are written for.
EXPECTED_CONFIG = {
    "f_min": 30, "f_max": 8000, "n_mels": config.N_MELS, "segmentSizeInSecond": 16, "hopSize": config.HOP_SIZE,
    "windowSize": config.WINDOW_SIZE, "fs": config.SAMPLE_RATE, "nExtraWins": config.N_WINDOWS - 1,
    "baseSize": config.BASE_SIZE, "downsampleF": True, "nHead": config.N_HEADS, "nLayers": config.N_LAYERS,
    "enabledAttn": ["F", "T"], "hiddenFactorAttn": 1, "hiddenFactor": 4, "scoringExpansionFactor": 4,
    "useInnerProductScorer": True,
}


def check_config(text: str) -> None:
    """Refuse a configuration that differs from the one the graph builder was written for."""
    config = json.loads(text)["Model"]["config"]
    different = {key: config.get(key) for key, value in EXPECTED_CONFIG.items() if config.get(key) != value}
    if different:
        raise ModelNotFoundError(f"{CONFIG_MEMBER} has settings this build does not support: {different}")


def _extract_checked(archive: zipfile.ZipFile, member: str, expected_sha256: str, destination: Path) -> Path:
    data = archive.read(member)
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        raise ModelNotFoundError(f"{member} in the transkun wheel does not have the pinned SHA-256; refusing to use it.")
    destination.write_bytes(data)
    return destination


def fetch_piano_model(destination: Path | None = None, *, wheel: Path | None = None, quiet: bool = False) -> Path:
    """Download (or take ``wheel``), check, build and cache the piano model; the folder it is in.

    Idempotent: a verified build already in place is kept as it is.
    """
    from .checkpoint import CheckpointError, state_dict

    destination = Path(destination) if destination else model_dir()
    try:
        return verify_piano_model(destination)
    except ModelNotFoundError:
        pass
    destination.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="midiscribe-piano-") as tmp:
        work = Path(tmp)
        if wheel is None:
            if not quiet:
                print(f"downloading transkun=={TRANSKUN_VERSION} (no dependencies)…", file=sys.stderr)
            wheel = download_pinned_wheel("transkun", TRANSKUN_VERSION, WHEEL_NAME, work)
        check_wheel(Path(wheel), "transkun", WHEEL_SHA256)
        with zipfile.ZipFile(wheel) as archive:
            checkpoint = _extract_checked(archive, CHECKPOINT_MEMBER, CHECKPOINT_SHA256, work / "2.0.pt")
            config = _extract_checked(archive, CONFIG_MEMBER, CONFIG_SHA256, work / "2.0.conf")
        check_config(config.read_text())
        try:
            weights = state_dict(checkpoint)
        except CheckpointError as exc:
            raise ModelNotFoundError(f"Could not read {CHECKPOINT_MEMBER}: {exc}") from None
        if not quiet:
            print("building the piano model's ONNX graphs from its weights…", file=sys.stderr)
        numpy_weights = {name: value for name, value in weights.items() if name.startswith(_NUMPY_WEIGHT_PREFIXES)}
        # The float32 network in onnxruntime's fused forms; the 8-bit one in graph.INT8_FORMS (quantised_network).
        network = graph.build_graph(weights).SerializeToString()
        if not quiet:
            print(f"quantising its first {graph.INT8_LAYERS} layers' products to 8 bits "
                  "(MIDISCRIBE_PIANO_INT8=auto on CPUs with VNNI)…", file=sys.stderr)
        files = {NETWORK_FILE: network,
                 INT8_NETWORK_FILE: graph.quantised_network(graph.build_graph(weights, graph.INT8_FORMS)),
                 SCORER_FILE: graph.build_scorer_graph(weights).SerializeToString(),
                 WEIGHTS_FILE: _npz_bytes(numpy_weights)}
        (destination / MANIFEST_FILE).unlink(missing_ok=True)
        for name, data in files.items():
            partial = destination / f"{name}.part"
            partial.write_bytes(data)
            os.replace(partial, destination / name)
        manifest = {**manifest_expected(), "wheel_sha256": WHEEL_SHA256, "config_sha256": CONFIG_SHA256,
                    "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}}
        partial = destination / f"{MANIFEST_FILE}.part"
        partial.write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(partial, destination / MANIFEST_FILE)
    if not quiet:
        print(f"piano model ready: {destination} ({MODEL_NAME}, checkpoint sha256 {CHECKPOINT_SHA256[:16]}…)",
              file=sys.stderr)
    return destination


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()
