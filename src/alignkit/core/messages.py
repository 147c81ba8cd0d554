"""Chat messages: the unit every model reads.

A prompt may be given as a plain string (one user message) or as a sequence of messages; every
provider sees the normalized form, a tuple of :class:`Message`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, get_args

from alignkit.core.errors import ConfigError

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = get_args(Role)


@dataclass(frozen=True, slots=True)
class Message:
    """One chat turn."""

    role: Role
    content: str
    name: str | None = None  # speaker name, for multi-party chats or named tools
    tool_call_id: str | None = None  # for role="tool": the call this message answers

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ConfigError(f"message role must be one of {', '.join(ROLES)}; got {self.role!r}")
        if not isinstance(self.content, str):
            raise ConfigError(f"message content must be a string; got {type(self.content).__name__}")

    def to_dict(self) -> dict[str, str]:
        """The OpenAI-style dict form (what chat templates and HTTP APIs take)."""
        out = {"role": self.role, "content": self.content}
        if self.name is not None:
            out["name"] = self.name
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        try:
            return cls(
                role=data["role"],
                content=data["content"],
                name=data.get("name"),
                tool_call_id=data.get("tool_call_id"),
            )
        except KeyError as e:
            raise ConfigError(f"a message needs 'role' and 'content'; {e.args[0]!r} is missing") from None


def system(content: str) -> Message:
    return Message("system", content)


def user(content: str) -> Message:
    return Message("user", content)


def assistant(content: str) -> Message:
    return Message("assistant", content)


Prompt: TypeAlias = str | Message | Sequence[Message | Mapping[str, Any]]
"""What a model accepts as one input: a user string, one message, or a conversation."""


def to_messages(prompt: Prompt) -> tuple[Message, ...]:
    """Normalize any accepted prompt form into a tuple of messages."""
    if isinstance(prompt, str):
        return (Message("user", prompt),)
    if isinstance(prompt, Message):
        return (prompt,)
    if isinstance(prompt, Sequence):
        msgs = tuple(_one_message(m) for m in prompt)
        if not msgs:
            raise ConfigError("a prompt needs at least one message")
        return msgs
    raise ConfigError(f"a prompt must be a string, a Message or a list of messages; got {type(prompt).__name__}")


def _one_message(m: object) -> Message:
    if isinstance(m, Message):
        return m
    if isinstance(m, Mapping):
        return Message.from_dict(m)
    raise ConfigError(f"each message must be a Message or a dict with role and content; got {type(m).__name__}")


def last_user_text(messages: Sequence[Message]) -> str:
    """The content of the last user message (empty when there is none)."""
    for m in reversed(messages):
        if m.role == "user":
            return m.content
    return ""
