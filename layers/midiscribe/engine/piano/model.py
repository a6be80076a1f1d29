"""The piano model (transkun 2.0): where it lives, how it is fetched, built and verified, one per process.

Nothing of it is committed. ``fetch_piano_model`` downloads the pinned ``transkun==2.0.1`` wheel with
``pip download --no-deps`` (none of its dependencies, PyTorch among them, come along), checks the
wheel's SHA-256 and those of the checkpoint and configuration inside it, reads the checkpoint without
PyTorch, builds the ONNX graph of the network (``graph.py``) and keeps, beside it, the few weights the
numpy front end and note heads need. A manifest written last records what was built from what;
loading checks the manifest and the files' hashes, so a missing, stale or damaged set is a clear error
that names the command that fixes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelNotFoundError
from ..model import available_cpus, check_wheel, download_pinned_wheel, model_path, sha256_of
from . import graph

TRANSKUN_VERSION = "2.0.1"
MODEL_NAME = f"transkun-{TRANSKUN_VERSION}"
WHEEL_NAME = f"transkun-{TRANSKUN_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "7d7f5bf88b0d21f7da0415b089cff3bcbcbdda04e1a3c9719964947942c859fe"
CHECKPOINT_MEMBER = "transkun/pretrained/2.0.pt"
CHECKPOINT_SHA256 = "50a80010effc2a59ffcd068a95cd2b29bd7f23a27a3515bc3ccd209c89a3d44c"
CONFIG_MEMBER = "transkun/pretrained/2.0.conf"
CONFIG_SHA256 = "d3d989214eb148230ee5df476d994dcde6af595904d3f968f1221d2e3bea5ac6"
# Raise when graph.py, frontend.py or heads.py change what is built from the weights: older builds
# are then refused and rebuilt by `midiscribe fetch-model`.
BUILD_VERSION = 3

NETWORK_FILE = "network.onnx"
WEIGHTS_FILE = "weights.npz"
MANIFEST_FILE = "manifest.json"
MODEL_DIR_ENV = "MIDISCRIBE_PIANO_MODEL_DIR"
FIX_HINT = "Run `midiscribe fetch-model` (or `make install`) to download, check and build it."

# The numpy side's weights: the front end's windows and filterbank, the upsampling, the scorer's
# projection and the note heads.
_NUMPY_WEIGHT_PREFIXES = ("framewiseFeatureExtractor.", "backbone.upConv1dSkip.", "scorer.", "velocityPredictor.",
                          "refinedOFPredictor.")
# transkun 2.0.conf values graph.py and frontend.py are written for.
EXPECTED_CONFIG = {
    "f_min": 30, "f_max": 8000, "n_mels": graph.N_MELS, "segmentSizeInSecond": 16, "hopSize": graph.HOP_SIZE,
    "windowSize": graph.WINDOW_SIZE, "fs": graph.SAMPLE_RATE, "nExtraWins": graph.N_WINDOWS - 1,
    "baseSize": graph.BASE_SIZE, "downsampleF": True, "nHead": graph.N_HEADS, "nLayers": graph.N_LAYERS,
    "enabledAttn": ["F", "T"], "hiddenFactorAttn": 1, "hiddenFactor": 4, "scoringExpansionFactor": 4,
    "useInnerProductScorer": True,
}


def default_model_dir() -> Path:
    """Beside the basic-pitch model (so ``$MIDISCRIBE_MODEL_PATH``'s folder holds both)."""
    return model_path().parent / MODEL_NAME


def model_dir() -> Path:
    override = os.environ.get(MODEL_DIR_ENV)
    return Path(override) if override else default_model_dir()


def _manifest_expected() -> dict:
    return {"model": MODEL_NAME, "build_version": BUILD_VERSION, "checkpoint_sha256": CHECKPOINT_SHA256}


def verify_piano_model(directory: Path | None = None) -> Path:
    """Raise :class:`ModelNotFoundError` unless ``directory`` holds a complete, current build."""
    directory = Path(directory) if directory else model_dir()
    manifest_path = directory / MANIFEST_FILE
    if not manifest_path.is_file():
        raise ModelNotFoundError(f"The piano model is missing at {directory}. {FIX_HINT}")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        raise ModelNotFoundError(f"The piano model's manifest {manifest_path} is damaged. {FIX_HINT}") from None
    if any(manifest.get(key) != value for key, value in _manifest_expected().items()):
        raise ModelNotFoundError(
            f"The piano model at {directory} was built by another version of midiscribe. {FIX_HINT}"
        )
    for name in (NETWORK_FILE, WEIGHTS_FILE):
        path = directory / name
        if not path.is_file() or sha256_of(path) != manifest.get("files", {}).get(name):
            raise ModelNotFoundError(f"The piano model's {path} is missing or damaged. {FIX_HINT}")
    return directory


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
            print("building the piano model's ONNX graph from its weights…", file=sys.stderr)
        network = graph.build_graph(weights).SerializeToString()
        numpy_weights = {name: value for name, value in weights.items() if name.startswith(_NUMPY_WEIGHT_PREFIXES)}
        files = {NETWORK_FILE: network, WEIGHTS_FILE: _npz_bytes(numpy_weights)}
        (destination / MANIFEST_FILE).unlink(missing_ok=True)
        for name, data in files.items():
            partial = destination / f"{name}.part"
            partial.write_bytes(data)
            os.replace(partial, destination / name)
        manifest = {**_manifest_expected(), "wheel_sha256": WHEEL_SHA256, "config_sha256": CONFIG_SHA256,
                    "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}}
        partial = destination / f"{MANIFEST_FILE}.part"
        partial.write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(partial, destination / MANIFEST_FILE)
    if not quiet:
        print(f"piano model ready: {destination} ({MODEL_NAME}, checkpoint sha256 {CHECKPOINT_SHA256[:16]}…)",
              file=sys.stderr)
    return destination


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@dataclass
class PianoModel:
    """What a transcription needs: the front end, the network's session, the scorer and the note heads."""

    session: object
    front_end: object
    scorer: object
    heads: object

    def network(self, features: np.ndarray) -> np.ndarray:
        """The target tokens, (tracks, steps, 256), for one segment's features."""
        return self.session.run(["context"], {"features": features})[0]


def load_piano_model(directory: Path | None = None, threads: int | None = None) -> PianoModel:
    import onnxruntime as ort

    from .frontend import FrontEnd
    from .heads import NoteHeads
    from .scorer import IntervalScorer

    directory = verify_piano_model(directory)
    with np.load(directory / WEIGHTS_FILE) as archive:
        weights = {name: archive[name] for name in archive.files}
    options = ort.SessionOptions()
    # One segment at a time, its big matrix products spread over every CPU this process may use.
    options.intra_op_num_threads = threads or available_cpus()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Without the arena, memory the network freed goes back to the system between segments instead of
    # staying reserved at the high-water mark of every pattern the session ever ran (measured: ~800 MB
    # peak against ~970 MB on a 2-CPU machine, at the same speed).
    options.enable_cpu_mem_arena = False
    session = ort.InferenceSession(str(directory / NETWORK_FILE), sess_options=options,
                                   providers=["CPUExecutionProvider"])
    return PianoModel(session, FrontEnd.from_weights(weights), IntervalScorer(weights), NoteHeads(weights))


_model: PianoModel | None = None
_model_lock = threading.Lock()


def get_piano_model() -> PianoModel:
    """The process's one piano model, loaded on first use and kept warm."""
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                _model = load_piano_model()
    return _model
