from __future__ import annotations

import importlib
import sys
import types
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from alignkit import registry as registry_mod
from alignkit.core.errors import ConfigError, UnknownPluginError
from alignkit.registry import Registry


def test_register_lookup_aliases_and_case() -> None:
    r: Registry[int] = Registry("widget")
    r.add("alpha", 1, aliases=("a", "first"))

    @r.register("beta")
    def beta() -> int:
        """Second widget."""
        return 2

    assert r.get("ALPHA") == 1 and r.get("first") == 1
    assert r.get("beta") is beta
    assert r.entry("beta").description == "Second widget."
    assert r.names() == ["alpha", "beta"]
    assert "a" in r and "gamma" not in r


def test_unknown_name_lists_known_and_suggests() -> None:
    r: Registry[int] = Registry("widget")
    r.add("toxicity", 1)
    r.add("pii", 2)
    with pytest.raises(UnknownPluginError) as e:
        r.get("toxicty")
    msg = str(e.value)
    assert "unknown widget 'toxicty'" in msg and "Did you mean 'toxicity'" in msg
    assert "Known widgets: pii, toxicity" in msg
    assert isinstance(e.value, ConfigError) and isinstance(e.value, KeyError)


def test_alias_conflicts_are_errors() -> None:
    r: Registry[int] = Registry("widget")
    r.add("a", 1, aliases=("x",))
    with pytest.raises(ConfigError, match="already points at 'a'"):
        r.add("b", 2, aliases=("x",))
    with pytest.raises(ConfigError, match="must not be empty"):
        r.add(" ", 3)


def test_every_module_of_the_package_registers_on_first_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new plugin is a module with the decorator in the registry's package: nothing else to edit."""
    pkg = tmp_path / "alignkit_test_gizmos"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "from alignkit.registry import Registry\ngizmos = Registry('gizmo', package=__name__)\n"
    )
    (pkg / "base.py").write_text("")
    (pkg / "spanner.py").write_text("from alignkit_test_gizmos import gizmos\ngizmos.add('spanner', 7)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    gizmos = importlib.import_module("alignkit_test_gizmos").gizmos
    try:
        assert "alignkit_test_gizmos.spanner" not in sys.modules  # nothing imported before a lookup
        assert gizmos.get("spanner") == 7 and gizmos.names() == ["spanner"]
    finally:
        for name in [m for m in sys.modules if m.startswith("alignkit_test_gizmos")]:
            del sys.modules[name]


def test_entry_point_plugins_register_and_failures_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    good = types.ModuleType("alignkit_test_good_plugin")
    target: Registry[str] = Registry("thing")
    sys.modules["alignkit_test_good_plugin"] = good
    good.__dict__["loaded"] = target.add("from-plugin", "hello")
    eps = [
        EntryPoint("good", "alignkit_test_good_plugin", "alignkit"),
        EntryPoint("broken", "alignkit_test_missing_module_xyz", "alignkit"),
    ]
    monkeypatch.setattr(registry_mod, "entry_points", lambda group: eps if group == "alignkit" else [])
    monkeypatch.setattr(registry_mod, "_plugins_loaded", False)
    monkeypatch.setattr(registry_mod, "_plugin_failures", {})
    try:
        failures = registry_mod.load_entry_point_plugins()
        assert "broken" in failures and "ModuleNotFoundError" in failures["broken"]
        assert target.get("from-plugin") == "hello"
        with pytest.raises(UnknownPluginError, match="Plugins that failed to load: broken"):
            target.get("nope")
    finally:
        del sys.modules["alignkit_test_good_plugin"]
