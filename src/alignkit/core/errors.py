"""The alignkit exception tree.

Every error alignkit raises on purpose derives from :class:`AlignkitError`, and its message says what
went wrong *and how to fix it*::

    AlignkitError
    ├── ConfigError               bad user input: a spec, an option, a model string
    │   └── UnknownPluginError    a name no registry knows (lists the known ones)
    ├── RecordError               a JSONL/record file that does not match its schema (file and line)
    └── ProviderError             a model provider failed
        ├── MissingDependencyError   an optional extra is not installed (names the pip command)
        ├── ModelNotFoundError       no such model folder, hub id or packaged model
        └── ProviderHTTPError        an HTTP provider answered with an error status
"""

from __future__ import annotations


class AlignkitError(Exception):
    """Base class of every error alignkit raises on purpose."""


class ConfigError(AlignkitError, ValueError):
    """User input (a spec, option or model string) is invalid."""


class UnknownPluginError(ConfigError, KeyError):
    """A registry was asked for a name it does not know."""

    def __init__(self, kind: str, name: str, known: list[str], suggestion: str | None = None) -> None:
        self.kind, self.name, self.known = kind, name, known
        hint = f" Did you mean {suggestion!r}?" if suggestion else ""
        listing = ", ".join(known) if known else "(none registered)"
        super().__init__(f"unknown {kind} {name!r}.{hint} Known {kind}s: {listing}")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class RecordError(AlignkitError, ValueError):
    """A record file does not match its schema; the message names the file and line."""


class ProviderError(AlignkitError, RuntimeError):
    """A model provider could not answer."""


class MissingDependencyError(ProviderError, ImportError):
    """An optional dependency is missing; the message gives the install command."""

    def __init__(self, feature: str, packages: str, extra: str) -> None:
        super().__init__(
            f"{feature} needs {packages}, which is not installed. Install it with: pip install 'alignkit[{extra}]'"
        )


class ModelNotFoundError(ProviderError, FileNotFoundError):
    """The named model does not exist where the provider looked."""


class ProviderHTTPError(ProviderError):
    """An HTTP model endpoint answered with an error status after all retries."""

    def __init__(self, status: int, message: str, url: str) -> None:
        self.status, self.url = status, url
        super().__init__(f"{url} answered HTTP {status}: {message}")
