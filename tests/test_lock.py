"""requirements.lock is the one source of versions: what is installed, what pyproject.toml allows and
what each deployment unit installs must all agree with it (tools/lock.py derives the units)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("lock_tool", ROOT / "tools" / "lock.py")
lock_tool = sys.modules["lock_tool"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lock_tool)


def test_the_checkout_agrees_with_its_lock():
    assert lock_tool.problems() == []


def test_what_is_installed_is_exactly_the_lock():
    """The venv the tests run in holds the locked version of every package the lock has for it."""
    wrong = {}
    for pin in lock_tool.read_pins(ROOT / lock_tool.LOCK):
        if not pin.applies_to(None):  # None: the running interpreter's own environment
            continue
        try:
            installed = importlib.metadata.version(pin.name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != pin.version:
            wrong[pin.name] = (pin.version, installed)
    assert wrong == {}, f"locked vs installed (run `make install`): {wrong}"


@pytest.mark.parametrize("unit", lock_tool.UNITS)
def test_each_unit_installs_everything_its_packages_need(unit):
    """The derived file holds the whole dependency closure (pip's hash-checking mode needs every package)."""
    if sys.version_info[:2] != (3, 12):
        pytest.skip("the units target Lambda's Python 3.12; installed metadata of another Python differs")
    pinned = {pin.name for pin in lock_tool.read_pins((ROOT / unit).with_suffix(".txt"))}
    pending = [Requirement(str(root)) for root in lock_tool.read_roots(ROOT / unit)]
    needed = set()
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in needed:
            continue
        needed.add(name)
        for text in importlib.metadata.requires(name) or []:
            child = Requirement(text)
            if child.marker is None or any(
                child.marker.evaluate({"extra": extra}) for extra in (requirement.extras or {""})
            ):
                pending.append(child)
    assert needed - pinned == set()


@pytest.fixture
def scratch_checkout(tmp_path):
    units = [name for unit in lock_tool.UNITS for name in (unit, str(Path(unit).with_suffix(".txt")))]
    for name in ("requirements.lock", "pyproject.toml", lock_tool.SECURITY_IN, lock_tool.SECURITY_LOCK, *units):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    assert lock_tool.problems(tmp_path) == []
    return tmp_path


def _shift_version(path: Path, name: str, new_version: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.startswith(f"{name}=="):
            lines[index] = f"{name}=={new_version} \\\n"
            break
    else:
        raise AssertionError(f"{name} not in {path}")
    path.write_text("".join(lines), encoding="utf-8")


def test_a_unit_edited_by_hand_is_caught(scratch_checkout):
    _shift_version(scratch_checkout / "layers" / "requirements.txt", "boto3", "1.34.0")
    assert any("layers/requirements.txt does not match" in line for line in lock_tool.problems(scratch_checkout))


def test_a_lock_shifted_by_hand_is_caught(scratch_checkout):
    _shift_version(scratch_checkout / "requirements.lock", "boto3", "1.34.0")
    found = lock_tool.problems(scratch_checkout)
    # Both deployment units now disagree with the lock, and they name the command that fixes it.
    assert sum("does not match requirements.lock: run `make requirements`" in line for line in found) == 2


def test_a_range_the_lock_does_not_satisfy_is_caught(scratch_checkout):
    pyproject = scratch_checkout / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace('"mido>=1.3"', '"mido>=99"'), encoding="utf-8")
    assert any("outside pyproject.toml's '>=99'" in line for line in lock_tool.problems(scratch_checkout))


def test_a_new_dependency_without_a_new_lock_is_caught(scratch_checkout):
    pyproject = scratch_checkout / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8").replace('"mido>=1.3",', '"mido>=1.3",\n    "not-a-locked-package>=1",')
    pyproject.write_text(text, encoding="utf-8")
    assert any("requirements.lock has no not-a-locked-package" in line for line in lock_tool.problems(scratch_checkout))
