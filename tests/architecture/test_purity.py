"""The pure layers (model, core) stay pure: no I/O modules and no wall clock.

import-linter (run by scripts/test) checks the layer order; this scan also catches standard-library
modules that import-linter cannot see as "external" and direct ``time.time()``/``datetime.now()``
calls that would make decisions depend on the wall clock.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "argosy"
PURE_PACKAGES = ("model", "core")
BANNED_MODULES = {
    "asyncio",
    "subprocess",
    "socket",
    "os",
    "pathlib",
    "shutil",
    "threading",
    "http",
    "urllib",
    "io",
}
BANNED_CALLS = {
    ("time", "time"),
    ("time", "monotonic"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("date", "today"),
}


def _pure_files() -> list[Path]:
    return sorted(p for pkg in PURE_PACKAGES for p in (SRC / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", _pure_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_pure_module_has_no_io(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    problems: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module.split(".")[0]]
        else:
            names = []
        problems += [f"line {node.lineno}: imports {n}" for n in names if n in BANNED_MODULES]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and (node.func.value.id, node.func.attr) in BANNED_CALLS
        ):
            problems.append(f"line {node.lineno}: reads the clock ({node.func.value.id}.{node.func.attr})")
    assert not problems, f"{path.relative_to(SRC)} is in a pure layer but " + "; ".join(problems)


def test_every_package_states_its_layer() -> None:
    for init in sorted(SRC.rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc, f"{init.relative_to(SRC)} has no docstring stating its layer"
        assert "import" in doc.lower(), f"{init.relative_to(SRC)}: the docstring must say what it may import"
