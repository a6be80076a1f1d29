"""The MusicXML 4.0 schema for the score tests, fetched at set-up (``make install``), never during a test.

The XSD comes from the pinned ``musicxml==1.6.3`` wheel (MIT; it ships W3C's MusicXML 4.0 schema
for its own code generator), downloaded with ``pip download --no-deps`` like the model, and both
the wheel and the extracted file are checked against known SHA-256 digests. The schema's imports of
the xml and xlink namespaces are served from xmlschema's own bundled copies, so validating never
touches the network.

    python tests/engine/musicxml_schema.py      # fetch and verify (idempotent)
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

from midiscribe.engine.model import default_model_path, sha256_of

WHEEL_REQUIREMENT = "musicxml==1.6.3"
WHEEL_NAME = "musicxml-1.6.3-py3-none-any.whl"
WHEEL_SHA256 = "c6a66e591b4219c51d6a27f69759f0531aaa952eea1b337bc5247970d6d84819"
SCHEMA_MEMBER = "musicxml/generate_classes/musicxml_4_0.xsd"
SCHEMA_SHA256 = "88a9784e81442e652a51f3c200011a6c36483ad909e97fbe257daaac6475873a"
FIX_HINT = "Run `make install` (or `python tests/engine/musicxml_schema.py`) to fetch and verify it."


def schema_path() -> Path:
    """Beside the model, in the user's cache folder."""
    return default_model_path().parent / "musicxml-4.0.xsd"


def verified_schema() -> Path:
    """The cached schema, or an AssertionError saying how to fetch it (tests must not download)."""
    path = schema_path()
    assert path.is_file(), f"The MusicXML 4.0 schema is missing at {path}. {FIX_HINT}"
    assert sha256_of(path) == SCHEMA_SHA256, f"{path} is not the pinned MusicXML 4.0 schema; delete it. {FIX_HINT}"
    return path


def fetch() -> Path:
    path = schema_path()
    if path.is_file() and sha256_of(path) == SCHEMA_SHA256:
        return path
    with tempfile.TemporaryDirectory(prefix="midiscribe-xsd-") as folder:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet",
                        WHEEL_REQUIREMENT, "-d", folder], check=True)
        wheel = Path(folder) / WHEEL_NAME
        if sha256_of(wheel) != WHEEL_SHA256:
            raise SystemExit(f"{WHEEL_NAME} does not have the pinned SHA-256; refusing to use it.")
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(SCHEMA_MEMBER)
    if hashlib.sha256(data).hexdigest() != SCHEMA_SHA256:
        raise SystemExit(f"{SCHEMA_MEMBER} in {WHEEL_NAME} does not have the pinned SHA-256.")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(path)
    return path


def load_schema():
    """An ``xmlschema.XMLSchema`` for MusicXML 4.0 that resolves its imports from local files only."""
    import xmlschema

    bundled = Path(xmlschema.__file__).parent / "schemas"
    locations = [
        ("http://www.w3.org/XML/1998/namespace", str(bundled / "XML" / "xml_minimal.xsd")),
        ("http://www.w3.org/1999/xlink", str(bundled / "XLINK" / "xlink.xsd")),
    ]
    with warnings.catch_warnings():
        # xmlschema reports the blocked remote location of each import before it takes the local one.
        warnings.simplefilter("ignore", xmlschema.XMLSchemaImportWarning)
        return xmlschema.XMLSchema(str(verified_schema()), locations=locations, allow="local")


if __name__ == "__main__":
    print(f"MusicXML 4.0 schema ready: {fetch()}", file=sys.stderr)
