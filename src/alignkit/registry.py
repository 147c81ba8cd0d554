"""One registry mechanism for every plugin kind (providers, and later validators, detectors, probes,
converters, checks).

Each kind has a :class:`Registry` and a thin decorator (``@provider("mock")``). Built-in plugins live
in the registry's package: on first use it imports every module there, so adding a plugin is writing a
module with the decorator, nothing else. Third-party packages add theirs through the ``alignkit``
entry-point group, whose entries name modules that register on import::

    [project.entry-points.alignkit]
    my_plugins = "my_package.alignkit_plugins"

Unknown names fail with the list of known ones and a close match.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import pkgutil
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from alignkit.core.errors import ConfigError, UnknownPluginError

log = logging.getLogger(__name__)

T = TypeVar("T")
ENTRY_POINT_GROUP = "alignkit"

_plugins_lock = threading.Lock()
_plugins_loaded = False
_plugin_failures: dict[str, str] = {}


def load_entry_point_plugins() -> dict[str, str]:
    """Import every module named in the ``alignkit`` entry-point group, once per process.

    Returns the plugins that failed to load, by entry-point name, with the reason. A failure is logged
    and reported in "unknown name" errors; it does not stop the other plugins from loading.
    """
    global _plugins_loaded
    with _plugins_lock:
        if not _plugins_loaded:
            _plugins_loaded = True
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                try:
                    ep.load()
                except Exception as e:  # a broken third-party plugin must not break alignkit
                    _plugin_failures[ep.name] = f"{type(e).__name__}: {e}"
                    log.warning("alignkit plugin %r (%s) failed to load: %s", ep.name, ep.value, e)
        return dict(_plugin_failures)


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered plugin: its name, aliases, the object, a one-line description and, for a plugin that
    cannot be built without arguments, an ``example`` of them (what docs show and contract tests build)."""

    name: str
    obj: T
    aliases: tuple[str, ...] = ()
    description: str = ""
    module: str = field(default="")
    example: Mapping[str, Any] | None = None


class Registry(Generic[T]):
    """Named plugins of one kind."""

    def __init__(self, kind: str, package: str = "") -> None:
        """``package``: where the built-in plugins live; every module in it is imported on first lookup."""
        self.kind = kind
        self._package = package
        self._builtins_loaded = False
        self._entries: dict[str, Entry[T]] = {}
        self._aliases: dict[str, str] = {}
        self._lock = threading.RLock()

    # -- registration -------------------------------------------------------------------------------
    def add(
        self,
        name: str,
        obj: T,
        *,
        aliases: Sequence[str] = (),
        description: str = "",
        example: Mapping[str, Any] | None = None,
    ) -> T:
        """Register ``obj`` under ``name`` (and ``aliases``). Re-registering a name replaces it."""
        key = _norm(name)
        if not key:
            raise ConfigError(f"a {self.kind} name must not be empty")
        doc = description or _first_line(getattr(obj, "__doc__", None))
        with self._lock:
            for a in aliases:
                owner = self._aliases.get(_norm(a))
                if owner is not None and owner != key:
                    raise ConfigError(f"{self.kind} alias {a!r} already points at {owner!r}")
            module = getattr(obj, "__module__", "") or ""
            self._entries[key] = Entry(key, obj, tuple(aliases), doc, module, dict(example) if example else None)
            for a in aliases:
                self._aliases[_norm(a)] = key
        return obj

    def register(
        self,
        name: str,
        *,
        aliases: Sequence[str] = (),
        description: str = "",
        example: Mapping[str, Any] | None = None,
    ) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def deco(obj: T) -> T:
            return self.add(name, obj, aliases=aliases, description=description, example=example)

        return deco

    # -- lookup -------------------------------------------------------------------------------------
    def _ensure_loaded(self) -> None:
        if not self._builtins_loaded:
            with self._lock:
                if not self._builtins_loaded:
                    for mod in package_modules(self._package):
                        importlib.import_module(mod)
                    self._builtins_loaded = True
        load_entry_point_plugins()

    def resolve_name(self, name: str) -> str:
        """The canonical name for ``name`` or one of its aliases."""
        self._ensure_loaded()
        key = _norm(name)
        if key in self._entries:
            return key
        if key in self._aliases:
            return self._aliases[key]
        known = sorted(self._entries)
        close = difflib.get_close_matches(key, [*known, *self._aliases], n=1)
        err = UnknownPluginError(self.kind, name, known, close[0] if close else None)
        failures = load_entry_point_plugins()
        if failures:
            broken = "; ".join(f"{n}: {why}" for n, why in failures.items())
            err.args = (f"{err.args[0]}. Plugins that failed to load: {broken}",)
        raise err

    def entry(self, name: str) -> Entry[T]:
        return self._entries[self.resolve_name(name)]

    def get(self, name: str) -> T:
        """The object registered under ``name`` or an alias; :class:`UnknownPluginError` otherwise."""
        return self.entry(name).obj

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the factory registered under ``name``; an argument it does not take is a ConfigError."""
        factory = self.get(name)
        if not callable(factory):
            raise ConfigError(f"{self.kind} {name!r} is not a factory")
        try:
            return factory(*args, **kwargs)
        except TypeError as e:
            if "unexpected keyword argument" not in str(e):
                raise
            raise ConfigError(f"{self.kind} {name!r} does not take that argument ({e})") from None

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        self._ensure_loaded()
        key = _norm(name)
        return key in self._entries or key in self._aliases

    def __iter__(self) -> Iterator[Entry[T]]:
        self._ensure_loaded()
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def names(self) -> list[str]:
        return [e.name for e in self]


def package_modules(package: str) -> list[str]:
    """The dotted names of every module and subpackage directly in ``package`` (none for ``""``)."""
    if not package:
        return []
    path = importlib.import_module(package).__path__
    return sorted(f"{package}.{m.name}" for m in pkgutil.iter_modules(path))


def _norm(name: str) -> str:
    return name.strip().lower()


def _first_line(doc: str | None) -> str:
    return doc.strip().splitlines()[0].strip() if doc and doc.strip() else ""
