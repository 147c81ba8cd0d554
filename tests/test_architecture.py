"""The layering rules of docs/ARCHITECTURE.md, enforced."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import alignkit

SRC = Path(alignkit.__file__).parent

# Layer of each top-level part of the package. Same-layer packages in layer 2 must not import each other.
LAYERS: dict[str, int] = {
    "_version": 0,
    "core": 0,
    "registry": 0,
    "providers": 1,
    "detectors": 1,
    "guard": 2,
    "redteam": 2,
    "constitution": 2,
    "rlhf": 3,
    "gateway": 3,
    "checklist": 4,
    "cli": 5,
}
SIBLINGS_MUST_NOT_MIX = {2}


def part_of(module_path: Path) -> str:
    rel = module_path.relative_to(SRC).with_suffix("")
    return rel.parts[0]


def alignkit_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("alignkit")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("alignkit"):
            found.append((node.lineno, node.module))
    return found


def test_every_part_has_a_layer() -> None:
    parts = {part_of(p) for p in SRC.rglob("*.py") if p.name != "__init__.py" or p.parent != SRC}
    assert parts <= set(LAYERS), f"add these to LAYERS and docs/ARCHITECTURE.md: {parts - set(LAYERS)}"


def test_imports_point_downward_only() -> None:
    violations = []
    for path in SRC.rglob("*.py"):
        if path == SRC / "__init__.py":
            continue  # the package facade re-exports from below
        here = part_of(path)
        for lineno, mod in alignkit_imports(path):
            parts = mod.split(".")
            if len(parts) == 1:
                violations.append(f"{path.relative_to(SRC)}:{lineno} imports the alignkit facade; import the module")
                continue
            there = parts[1]
            if LAYERS[there] > LAYERS[here]:
                violations.append(
                    f"{path.relative_to(SRC)}:{lineno} ({here}, layer {LAYERS[here]}) imports {mod} "
                    f"(layer {LAYERS[there]})"
                )
            elif there != here and LAYERS[there] == LAYERS[here] in SIBLINGS_MUST_NOT_MIX:
                violations.append(f"{path.relative_to(SRC)}:{lineno}: {here} must not import its sibling {there}")
    assert not violations, "\n".join(violations)


def test_core_uses_only_stdlib_and_pydantic() -> None:
    allowed = {"pydantic", "alignkit", "__future__"}
    stdlib = set(sys.stdlib_module_names)
    for path in (SRC / "core").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for n in names:
                top = n.split(".")[0]
                assert top in allowed or top in stdlib, f"{path.name} imports {n}"


def test_import_alignkit_is_light() -> None:
    code = (
        "import sys, alignkit; from alignkit import get_model; get_model('mock/echo').generate('x');"
        "import alignkit.cli.main;"
        "heavy = [m for m in ('torch', 'transformers', 'fastapi', 'numpy') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def isort_style(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions."""
    if name.isupper():
        return (0, name)
    return (1 if name[:1].isupper() else 2, name)


def test_public_all_is_sorted_and_complete() -> None:
    for mod_name in ("alignkit", "alignkit.core", "alignkit.providers", "alignkit.rlhf"):
        mod = importlib.import_module(mod_name)
        exported = list(mod.__all__)
        assert exported == sorted(exported, key=isort_style), f"{mod_name}.__all__ is not sorted"
        for name in exported:
            assert hasattr(mod, name), f"{mod_name}.__all__ names missing {name}"
    core = importlib.import_module("alignkit.core")
    public = {n for n, v in vars(core).items() if not n.startswith("_") and not isinstance(v, type(sys))}
    public -= {"annotations"}
    assert public <= set(core.__all__), f"exported from alignkit.core but not in __all__: {public - set(core.__all__)}"


@pytest.mark.parametrize("mod", [m.name for m in pkgutil.walk_packages([str(SRC)], "alignkit.")])
def test_every_module_imports_without_heavy_extras(mod: str) -> None:
    importlib.import_module(mod)


def test_modules_stay_small() -> None:
    big = {p.name: n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > 500}
    assert not big, f"modules over 500 lines (split them or say why here): {big}"
