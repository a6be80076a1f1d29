"""The basic-pitch ONNX model: where it lives, how it is fetched and verified, one session per process.

The model file is never committed. It is extracted from the pinned ``basic-pitch==0.4.0`` wheel
(downloaded with ``pip download --no-deps`` so none of basic-pitch's dependencies, TensorFlow
among them, come along) and checked against a known SHA-256 before it is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess  # nosec B404 # pip downloads the pinned wheel, a fixed command
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

from .errors import ModelNotFoundError

BASIC_PITCH_VERSION = "0.4.0"
MODEL_NAME = f"basic-pitch-{BASIC_PITCH_VERSION}-icassp2022"
WHEEL_NAME = f"basic_pitch-{BASIC_PITCH_VERSION}-py2.py3-none-any.whl"
WHEEL_SHA256 = "738adb503aae7fdfc7d1e1511aa0ce35052315f260a19531ef4c356708425db0"
MODEL_MEMBER = "basic_pitch/saved_models/icassp_2022/nmp.onnx"
MODEL_SHA256 = "2c3c1d144bfa61ad236e92e169c13535c880469a12a047d4e73451f2c059a0ec"

MODEL_PATH_ENV = "MIDISCRIBE_MODEL_PATH"
FIX_HINT = "Run `midiscribe fetch-model` (or `make install`) to download and verify it."


def default_model_path() -> Path:
    """Where ``fetch-model`` puts the model: the user's cache folder, outside the repository."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "midiscribe" / f"nmp-{BASIC_PITCH_VERSION}.onnx"


def model_path() -> Path:
    """The model file to load: ``$MIDISCRIBE_MODEL_PATH`` if set, else the cached copy."""
    override = os.environ.get(MODEL_PATH_ENV)
    return Path(override) if override else default_model_path()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_model(path: Path) -> None:
    """Raise :class:`ModelNotFoundError` unless ``path`` is the exact pinned model file."""
    if not path.is_file():
        raise ModelNotFoundError(f"The transcription model is missing at {path}. {FIX_HINT}")
    actual = sha256_of(path)
    if actual != MODEL_SHA256:
        raise ModelNotFoundError(
            f"The model at {path} has SHA-256 {actual[:16]}…, not the pinned basic-pitch "
            f"{BASIC_PITCH_VERSION} model ({MODEL_SHA256[:16]}…). Delete it and {FIX_HINT[0].lower()}{FIX_HINT[1:]}"
        )


def fetch_model(destination: Path | None = None, *, wheel: Path | None = None, quiet: bool = False) -> Path:
    """Download the pinned basic-pitch wheel, check it, extract ``nmp.onnx`` and check that too.

    ``wheel`` uses an already downloaded wheel instead of asking pip (the container build and
    offline set-ups pass it). Idempotent: a verified model already in place is kept as it is.
    ``midiscribe fetch-model`` then builds its AVX-512 graph beside it (``model_graph.ensure_built``).
    """
    destination = Path(destination) if destination else model_path()
    if destination.is_file() and sha256_of(destination) == MODEL_SHA256:
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="midiscribe-model-") as tmp:
        if wheel is None:
            wheel = download_pinned_wheel("basic-pitch", BASIC_PITCH_VERSION, WHEEL_NAME, Path(tmp))
        check_wheel(Path(wheel), "basic-pitch", WHEEL_SHA256)
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(MODEL_MEMBER)
        if hashlib.sha256(data).hexdigest() != MODEL_SHA256:
            raise ModelNotFoundError(f"{MODEL_MEMBER} in {wheel.name} does not have the pinned SHA-256.")
        partial = destination.with_suffix(".part")
        partial.write_bytes(data)
        os.replace(partial, destination)
    if not quiet:
        print(f"model ready: {destination} ({len(data)} bytes, sha256 {MODEL_SHA256[:16]}…)", file=sys.stderr)
    return destination


# The model rewritten for AVX-512's 16-channel convolution blocks (``model_graph.py``, built by ``midiscribe
# fetch-model`` and the worker image's build), kept beside the model file with a manifest: the model it was
# built from, the rewrite's version and its own SHA-256.
BLOCKED_SUFFIX = ".blocked16.onnx"
BLOCKED_MANIFEST_SUFFIX = ".blocked16.json"
BLOCKED_REWRITE_VERSION = 2


def blocked_graph_paths(path: Path) -> tuple[Path, Path]:
    """Where the rewritten graph of the model file ``path`` and its manifest live."""
    return path.with_name(path.stem + BLOCKED_SUFFIX), path.with_name(path.stem + BLOCKED_MANIFEST_SUFFIX)


def blocked_graph_ready(path: Path) -> bool:
    """Whether the rewritten graph beside the model file ``path`` is there, built by this rewrite from the
    pinned model, and unchanged since."""
    graph, manifest_path = blocked_graph_paths(path)
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return False
    expected = {"source_sha256": MODEL_SHA256, "rewrite_version": BLOCKED_REWRITE_VERSION}
    return (isinstance(manifest, dict) and all(manifest.get(key) == value for key, value in expected.items())
            and graph.is_file() and sha256_of(graph) == manifest.get("sha256"))


def cpu_flags() -> frozenset[str]:
    """The instruction-set flags Linux lists for this CPU in ``/proc/cpuinfo`` (none where it cannot be read)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def has_avx512() -> bool:
    """Whether this CPU has AVX-512: onnxruntime then convolves in blocks of 16 channels, which the rewritten
    graph fills."""
    return "avx512f" in cpu_flags()


def has_vnni() -> bool:
    """Whether this CPU multiplies 8-bit integers into 32-bit sums in one instruction (AVX-512 VNNI or AVX-VNNI).
    Without it onnxruntime's 8-bit products go through 16-bit sums that saturate (see piano/model.py)."""
    return not cpu_flags().isdisjoint({"avx512_vnni", "avx_vnni"})


def session_file(path: Path) -> Path:
    """The graph a session loads for the verified model file ``path``: the rewritten one on an AVX-512 CPU when
    it has been built, else the model itself. They gave the same notes on every file compared (model_graph.py)."""
    if has_avx512() and blocked_graph_ready(path):
        return blocked_graph_paths(path)[0]
    return path


def download_pinned_wheel(package: str, version: str, wheel_name: str, directory: Path) -> Path:
    """``pip download --no-deps package==version`` into ``directory``; the wheel's path, or a clear error."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               f"{package}=={version}", "-d", str(directory)]
    result = subprocess.run(command, capture_output=True, text=True)  # nosec B603 # fixed argv, no shell
    if result.returncode != 0:
        raise ModelNotFoundError(
            f"Could not download {package}=={version} with pip (exit {result.returncode}): "
            f"{result.stderr.strip()[-500:]}. Check the network or pip's index settings, or pass a downloaded "
            f"wheel to `midiscribe fetch-model` (see its --help)."
        )
    return directory / wheel_name


def check_wheel(wheel: Path, package: str, expected_sha256: str) -> None:
    """Refuse a wheel that is missing or is not the pinned file."""
    if not wheel.is_file():
        raise ModelNotFoundError(f"The {package} wheel {wheel} does not exist.")
    if sha256_of(wheel) != expected_sha256:
        raise ModelNotFoundError(
            f"{wheel.name} does not have the pinned SHA-256 ({expected_sha256[:16]}…); refusing to use it."
        )


def available_cpus() -> int:
    """CPUs this process may use (Lambda and containers restrict affinity, not ``os.cpu_count``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


_session = None
_session_lock = threading.Lock()


def get_session():
    """The process's one ``onnxruntime.InferenceSession``, created on first use and kept warm."""
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                import onnxruntime as ort  # imported lazily: the submit function never needs it

                path = model_path()
                verify_model(path)
                options = ort.SessionOptions()
                # One thread per call: the engine keeps available_cpus() calls in flight at once
                # (engine/inference.py), which beats one call spread over every CPU on this model.
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                options.log_severity_level = 3
                _session = ort.InferenceSession(str(session_file(path)), sess_options=options,
                                                providers=["CPUExecutionProvider"])
    return _session
