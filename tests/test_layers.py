"""The package's parts import one way: which part may import which, and no cycle between parts.

The README's "Layout" section draws the same rules (``ALLOWED`` below). Every import counts, also
those inside functions: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "layers" / "midiscribe"

# What each part may import (besides the standard library, third-party packages, and itself).
# ``midiscribe`` itself (its __version__) is open to every part.
ALLOWED: dict[str, set[str]] = {
    "engine": set(),
    "domain": set(),
    "net": set(),
    "aws": {"domain"},
    "webhooks": {"domain", "net"},
    "service": {"domain", "engine", "net", "webhooks"},
    "api": {"domain", "engine", "service"},
    "local": {"aws", "domain", "service"},
    "cli": {"aws", "client", "engine", "local"},
    "client": set(),
}


def part_of(module: str) -> str:
    """``midiscribe.service.worker.pipeline`` → ``service``; ``midiscribe`` → ``""`` (the root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "midiscribe" else ""


def imported_modules(path: Path, module: str) -> set[str]:
    """The midiscribe modules ``path`` (the module ``module``) imports, anywhere in its code."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            target = ".".join(part for part in (base, node.module or "") if part)
            found.add(target)
            if target == "midiscribe":  # from midiscribe import net
                found |= {f"midiscribe.{alias.name}" for alias in node.names}
    return {name for name in found if name == "midiscribe" or name.startswith("midiscribe.")}


def package_imports(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Part → the other parts it imports."""
    parts = {path.name for path in root.iterdir() if path.is_dir() and not path.name.startswith("__")}
    parts |= {path.stem for path in root.glob("*.py") if path.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        relative = path.relative_to(root.parent).with_suffix("")
        module = ".".join(relative.parts[:-1] if relative.name == "__init__" else relative.parts)
        source = part_of(module)
        if not source:
            continue
        targets = {part_of(name) for name in imported_modules(path, module)}
        graph.setdefault(source, set()).update(target for target in targets if target in parts - {source})
    return graph


def forbidden_imports(graph: dict[str, set[str]], allowed: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{source} imports {target}"
        for source, targets in graph.items()
        for target in targets
        if target not in allowed.get(source, set())
    )


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first walk, each as the path that closes it."""
    found: list[list[str]] = []
    state: dict[str, str] = {}

    def walk(node: str, path: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                found.append(path[path.index(target):] + [target])
            elif target not in state:
                walk(target, path + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            walk(node, [node])
    return found


def test_every_part_imports_only_the_parts_below_it():
    graph = package_imports()
    assert set(graph) <= set(ALLOWED), f"parts without a rule: {sorted(set(graph) - set(ALLOWED))}"
    assert forbidden_imports(graph, ALLOWED) == []


def test_no_two_parts_import_each_other_even_through_others():
    assert cycles(package_imports()) == []


def test_the_engine_and_the_domain_import_nothing_else_of_the_package():
    graph = package_imports()
    assert graph.get("engine", set()) == set() and graph.get("domain", set()) == set()


@pytest.mark.parametrize(
    ("source", "code", "problem"),
    [
        ("engine/model.py", "from midiscribe.service import config\n", "engine imports service"),
        ("aws/tasks.py", "def f():\n    from ..api import app\n", "aws imports api"),
        ("net/client.py", "from midiscribe import webhooks\n", "net imports webhooks"),
    ],
)
def test_a_forbidden_import_is_found_wherever_it_is_written(tmp_path, source, code, problem):
    for part in ALLOWED:
        (tmp_path / "midiscribe" / part).mkdir(parents=True)
    path = tmp_path / "midiscribe" / source
    path.write_text(code)
    assert problem in forbidden_imports(package_imports(tmp_path / "midiscribe"), ALLOWED)


def test_a_cycle_through_three_parts_is_found():
    graph = {"service": {"webhooks"}, "webhooks": {"aws"}, "aws": {"service"}, "api": {"service"}}
    assert cycles(graph) == [["service", "webhooks", "aws", "service"]]
    assert cycles({"api": {"service"}, "service": {"domain"}}) == []


@pytest.mark.parametrize("function", ["submit", "notify", "authorizer"])
def test_the_zip_functions_load_without_the_audio_libraries(function):
    """The zip functions ship with the shared layer, which has no numpy, onnxruntime or soundfile
    (layers/requirements.in): what they import of the engine (its options, to validate a request)
    must not reach for them."""
    import subprocess
    import sys

    root = PACKAGE.parents[1]
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import app; "
            "print(sorted(name for name in ('numpy', 'onnxruntime', 'soundfile', 'mido') if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code, str(root / "functions" / function)], capture_output=True,
                            text=True, timeout=120, cwd=root)
    assert result.returncode == 0, result.stderr[-800:]
    assert result.stdout.strip() == "[]"
