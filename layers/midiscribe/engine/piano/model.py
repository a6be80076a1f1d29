"""The piano model (transkun 2.0) at run time: where its build lives, how it is verified, one per process.

``fetch.py`` makes the build at set-up (nothing of it is committed): the ONNX graphs of the network (and of
its 8-bit variant for CPUs with VNNI, ``network_file``) and of its interval scorer and, beside them, the few
weights the numpy front end and note heads need, with a manifest written last that records what was built
from what. Loading checks the manifest and the files' hashes, so a missing, stale or damaged build is a clear
error that names the command that fixes it.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelNotFoundError
from ..model import available_cpus, has_vnni, model_path, sha256_of

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
BUILD_VERSION = 8

NETWORK_FILE = "network.onnx"
# The network with its first layers' weight products in 8 bits (graph.quantised_network): loaded instead of
# NETWORK_FILE where the CPU has VNNI (``network_file``).
INT8_NETWORK_FILE = "network.int8.onnx"
SCORER_FILE = "scorer.onnx"
WEIGHTS_FILE = "weights.npz"
MANIFEST_FILE = "manifest.json"
MODEL_DIR_ENV = "MIDISCRIBE_PIANO_MODEL_DIR"
INT8_ENV = "MIDISCRIBE_PIANO_INT8"  # "off" (the default: float32) or "auto" (8-bit products where the CPU has VNNI)
FIX_HINT = "Run `midiscribe fetch-model` (or `make install`) to download, check and build it."



def default_model_dir() -> Path:
    """Beside the basic-pitch model (so ``$MIDISCRIBE_MODEL_PATH``'s folder holds both)."""
    return model_path().parent / MODEL_NAME


def model_dir() -> Path:
    override = os.environ.get(MODEL_DIR_ENV)
    return Path(override) if override else default_model_dir()


def manifest_expected() -> dict:
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
    if any(manifest.get(key) != value for key, value in manifest_expected().items()):
        raise ModelNotFoundError(
            f"The piano model at {directory} was built by another version of midiscribe. {FIX_HINT}"
        )
    for name in (NETWORK_FILE, INT8_NETWORK_FILE, SCORER_FILE, WEIGHTS_FILE):
        path = directory / name
        if not path.is_file() or sha256_of(path) != manifest.get("files", {}).get(name):
            raise ModelNotFoundError(f"The piano model's {path} is missing or damaged. {FIX_HINT}")
    return directory


def network_file(directory: Path, *, float32: bool = False) -> Path:
    """The network graph a session loads from the verified build in ``directory``; ``float32`` asks for the
    float32 network whatever the CPU and the setting (the bench scores both).

    The float32 network (transkun's output note for note and pedal for pedal), unless ``$MIDISCRIBE_PIANO_INT8``
    is ``auto``: then the 8-bit network where the CPU has VNNI. Its products run about three times as fast as
    float32's there, and the whole transcription 1.17-1.25 times (bench/README.md), but its sustain pedal parts
    from transkun's: on the second parity set (36 files) 0.846 (Zen 4) and 0.876 (Zen 5) of transkun's intervals
    matched per file, against the issue's 95 % and float32's 100 %; note F1 0.999 and velocities 100 % within 5.
    Without VNNI onnxruntime sums the 8-bit products in 16 bits, which saturate (a context 30 % off was measured
    on such a CPU), so float32 runs there whatever the setting.
    """
    given = os.environ.get(INT8_ENV, "")
    setting = given.strip().lower() or "off"
    if setting not in ("auto", "off"):
        raise ModelNotFoundError(f"{INT8_ENV} is {given!r}: set it to off (float32 everywhere, the default) or "
                                 "auto (8-bit products where the CPU has VNNI), or leave it unset.")
    if setting == "auto" and not float32 and has_vnni():
        return directory / INT8_NETWORK_FILE
    return directory / NETWORK_FILE


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


_arena_lock = threading.Lock()
_arena_registered = False


def _register_shared_arena() -> None:
    """Once per process: the CPU memory arena both of the piano model's sessions allocate from.

    Without an arena, every run of the network mapped its activations afresh (about 300 MB a segment) and
    the kernel zeroed every page of them again (a seventh of the process's CPU time was the kernel's). One
    arena shared by the network and the scorer keeps that memory, and the scorer's outputs (130 MB a
    segment) reuse what the network's activations used a moment before. The sessions do not plan one
    block per run (``enable_mem_pattern`` off): that block, beside the first run's chunks, doubled the
    arena. Measured on 120 s of piano in one process: 1.65 M page faults, 9.3–9.5 s of system time and
    a peak RSS of 0.90 GB without the arena; 0.25 M, 1.7 s and 0.89 GB with it. With arena regions of
    exactly the size asked for, the scorer's 65 MB outputs fitted in none of the network's (its largest
    tensor is 63 MB) and the peak was 1.04 GB.
    """
    global _arena_registered
    import onnxruntime as ort

    with _arena_lock:
        if _arena_registered:
            return
        # onnxruntime's defaults but for the planned block: the arena grows in powers of two, so its regions
        # are large enough for tensors of one run to land where another run's were.
        config = ort.OrtArenaCfg({"max_mem": 0, "arena_extend_strategy": 0, "initial_chunk_size_bytes": -1,
                                  "max_dead_bytes_per_chunk": -1})
        memory = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
        ort.create_and_register_allocator(memory, config)
        _arena_registered = True


def _session(path: Path, threads: int):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), sess_options=session_options(threads), providers=["CPUExecutionProvider"])


def session_options(threads: int):
    """The piano model's onnxruntime session options (the bench profiles the network with them)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    # One segment at a time, its big matrix products spread over every CPU this process may use.
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Idle threads sleep instead of spinning: the front end runs in a thread of its own beside the
    # network, and the machine may be shared. Measured under load (bench/README.md): the network's
    # segment took 9-12 s of wall time without spinning against 11-17 s with it, and less CPU.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.use_env_allocators", "1")
    options.enable_mem_pattern = False
    return options


def load_piano_model(directory: Path | None = None, threads: int | None = None, *, float32: bool = False) -> PianoModel:
    from .frontend import FrontEnd
    from .heads import NoteHeads
    from .scorer import IntervalScorer

    directory = verify_piano_model(directory)
    with np.load(directory / WEIGHTS_FILE) as archive:
        weights = {name: archive[name] for name in archive.files}
    _register_shared_arena()
    threads = threads or available_cpus()
    return PianoModel(_session(network_file(directory, float32=float32), threads), FrontEnd.from_weights(weights),
                      IntervalScorer(_session(directory / SCORER_FILE, threads)), NoteHeads(weights))


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
