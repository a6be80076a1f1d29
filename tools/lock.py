"""One lock for every install: development, CI, the shared layer and the worker image.

``requirements.lock`` is the only place versions are chosen. ``uv pip compile`` writes it from
``pyproject.toml``'s ranges (every extra, hashes included, valid for each Python the project
supports), ``make install`` installs exactly it, and each deployment unit's ``requirements.txt`` is
derived from it here: the unit's ``requirements.in`` names the packages it imports, and this script
adds everything they pull in, with the lock's versions, markers and hashes. Nobody edits a pinned file
by hand, so a release published tonight changes nothing until someone runs ``make lock``.

    python tools/lock.py compile   # refresh requirements.lock from pyproject.toml (needs the index)
    python tools/lock.py units     # rewrite the units' requirements.txt from the lock (offline)
    python tools/lock.py check     # exit 1, saying what differs, when anything disagrees with the lock
"""

from __future__ import annotations

import shlex
import subprocess  # nosec B404 # runs uv and pip, fixed commands
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = "requirements.lock"
# Each unit sam build installs: its hand-kept .in file (top-level packages) beside the derived .txt:
# the shared layer of the zip functions, the transcribe worker's image, and the image's model set-up step.
UNITS = ("layers/requirements.in", "functions/transcribe/requirements.in", "functions/transcribe/model-setup.in")
# Where the units run: Lambda's python3.12 on x86_64 (template.yaml's Runtime and Architectures).
LAMBDA_ENVIRONMENT = {
    "python_version": "3.12",
    "python_full_version": "3.12.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
}
OLDEST_PYTHON = "3.11"  # pyproject.toml's requires-python: the lock must install on it too
COMPILE_COMMAND = [
    "uv", "pip", "compile", "pyproject.toml", "--all-extras", "--universal", "--generate-hashes",
    "--python-version", OLDEST_PYTHON, "--no-header", "--quiet", "--output-file", LOCK,
]
# The security checks' own venv (`make security`): locked separately so checkov's pins stay its own.
SECURITY_IN = "tools/security.in"
SECURITY_LOCK = "tools/security.lock"
SECURITY_COMPILE_COMMAND = [
    "uv", "pip", "compile", SECURITY_IN, "--universal", "--generate-hashes",
    "--python-version", OLDEST_PYTHON, "--no-header", "--quiet", "--output-file", SECURITY_LOCK,
]
LOCK_HEADER = (
    "# The one lock: every version midiscribe installs, for development, CI and the deployment units.\n"
    "# Written by `make lock` from pyproject.toml's ranges; never edit by hand. Refresh it on purpose\n"
    "# (to take a new release or after changing a range in pyproject.toml) and commit it with the\n"
    "# derived layers/requirements.txt and functions/transcribe/requirements.txt.\n"
    f"#    {shlex.join(COMPILE_COMMAND)}\n"
)


@dataclass
class Pin:
    name: str
    version: str
    marker: str | None
    hashes: list[str]
    via: list[str] = field(default_factory=list)

    def applies_to(self, environment: dict[str, str] | None) -> bool:
        return self.marker is None or Marker(self.marker).evaluate(environment)

    def lines(self) -> list[str]:
        head = f"{self.name}=={self.version}" + (f" ; {self.marker}" if self.marker else "")
        return [f"{head} \\", *(f"    --hash={h} \\" for h in self.hashes[:-1]), f"    --hash={self.hashes[-1]}"]


def read_pins(path: Path) -> list[Pin]:
    """The pins of a requirements file in pip's hash-checking format (uv's output, or ours)."""
    pins: list[Pin] = []
    in_via = False
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            text = line.lstrip("#").strip()
            if text.startswith("via"):
                in_via = True
                rest = text[3:].strip()
                if rest and pins:
                    pins[-1].via.append(rest)
            elif in_via and pins and text:
                pins[-1].via.append(text)
            continue
        in_via = False
        if line.startswith("--hash="):
            pins[-1].hashes.append(line.removeprefix("--hash=").rstrip(" \\"))
            continue
        requirement, _, marker = line.rstrip(" \\").partition(";")
        name, _, version = requirement.strip().partition("==")
        if not version:
            raise SystemExit(f"{path.name}: '{line}' is not pinned with ==")
        pins.append(Pin(canonicalize_name(name), version.strip(), marker.strip() or None, []))
    for pin in pins:
        if not pin.hashes:
            raise SystemExit(f"{path.name}: {pin.name} has no --hash")
    return pins


def read_roots(path: Path) -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [Requirement(line) for line in lines if line]


def unit_pins(lock: list[Pin], roots: list[Requirement]) -> list[Pin]:
    """The unit's roots and everything the lock says they pull in, for Lambda's environment.

    The lock's ``# via`` notes are its dependency graph: a package belongs to the unit when one of
    the packages that pulls it in does. That graph spans every extra the project asks for, so a unit
    may get a package that only an extra it does not use needs; it never misses one.
    """
    applicable = {pin.name: pin for pin in lock if pin.applies_to(LAMBDA_ENVIRONMENT)}
    wanted = {canonicalize_name(root.name) for root in roots}
    missing = sorted(wanted - set(applicable))
    if missing:
        raise SystemExit(f"not in requirements.lock: {', '.join(missing)} (add it to pyproject.toml, then `make lock`)")
    changed = True
    while changed:
        changed = False
        for pin in applicable.values():
            parents = {canonicalize_name(via.split(" ")[0]) for via in pin.via}
            if pin.name not in wanted and parents & wanted:
                wanted.add(pin.name)
                changed = True
    return sorted((applicable[name] for name in wanted), key=lambda pin: pin.name)


def unit_text(in_file: Path, pins: list[Pin]) -> str:
    roots = "\n".join(f"#   {root}" for root in read_roots(in_file))
    header = (
        f"# Derived from requirements.lock by `make requirements` (tools/lock.py): do not edit.\n"
        f"# This unit's own packages are listed in {in_file.name}:\n{roots}\n"
        "# and below is everything they install, with the lock's versions and hashes, for Lambda's\n"
        "# python3.12 on x86_64. tests/test_lock.py fails when this file and the lock disagree.\n"
    )
    return header + "".join(line + "\n" for pin in pins for line in pin.lines())


def expected_units(root: Path = ROOT) -> dict[Path, str]:
    lock = read_pins(root / LOCK)
    return {
        in_file.with_suffix(".txt"): unit_text(in_file, unit_pins(lock, read_roots(in_file)))
        for in_file in (root / unit for unit in UNITS)
    }


def pyproject_requirements(root: Path = ROOT) -> list[Requirement]:
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    texts = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        texts += extra
    return [Requirement(text) for text in texts if canonicalize_name(Requirement(text).name) != "midiscribe"]


def problems(root: Path = ROOT) -> list[str]:
    """Everything in the checkout at ``root`` that disagrees with its lock, one readable line each."""
    found = []
    lock = read_pins(root / LOCK)
    security = {pin.name for pin in read_pins(root / SECURITY_LOCK)}
    for requirement in read_roots(root / SECURITY_IN):
        if canonicalize_name(requirement.name) not in security:
            found.append(f"{SECURITY_LOCK} has no {requirement.name}, which {SECURITY_IN} names: run `make lock`")
    for requirement in pyproject_requirements(root):
        name = canonicalize_name(requirement.name)
        candidates = [pin for pin in lock if pin.name == name]
        if not candidates:
            found.append(f"pyproject.toml asks for {requirement} but requirements.lock has no {name}: run `make lock`")
        for pin in candidates:
            if pin.version not in SpecifierSet(str(requirement.specifier), prereleases=True):
                found.append(
                    f"requirements.lock pins {name}=={pin.version}, outside pyproject.toml's "
                    f"'{requirement.specifier}': run `make lock`"
                )
    for path, text in expected_units(root).items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            found.append(
                f"{path.relative_to(root)} does not match requirements.lock: run `make requirements` "
                "(edit the .in file for another package, never the .txt)"
            )
    return found


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "compile":
        uv = Path(sys.executable).with_name("uv")
        for compile_command, output, header in (
            (COMPILE_COMMAND, LOCK, LOCK_HEADER),
            (SECURITY_COMPILE_COMMAND, SECURITY_LOCK,
             f"# The security checks' lock, written by `make lock` from {SECURITY_IN}; never edit by hand.\n"
             f"#    {shlex.join(SECURITY_COMPILE_COMMAND)}\n"),
        ):
            subprocess.run([str(uv), *compile_command[1:]], cwd=ROOT, check=True)  # nosec B603 # our own argv, no shell
            path = ROOT / output
            path.write_text(header + path.read_text(encoding="utf-8"), encoding="utf-8")
        command = "units"
    if command == "units":
        for path, text in expected_units().items():
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    if command == "check":
        found = problems()
        for line in found:
            print(line, file=sys.stderr)
        return 1 if found else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
