"""One exception hierarchy for everything a user can get wrong.

Every message is a single line a person can act on: it names the file, the YAML path and line, or the item
and the state it is in. The CLI prints ``str(error)`` and exits non-zero; no traceback reaches a user for
bad input. Programming errors are *not* PlancycleError and are allowed to crash loudly.
"""

from __future__ import annotations


class PlancycleError(Exception):
    """Base of every error caused by input (config, command, upload, calendar range)."""


class ConfigError(PlancycleError):
    """A cycle definition (or another config file) is wrong.

    Rendered as ``file:line: yaml.path: what is wrong (expected …)`` so editors can jump to it.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 path: str | None = None, expected: str | None = None):
        self.message = message
        self.file = file
        self.line = line
        self.path = path
        self.expected = expected
        super().__init__(str(self))

    def __str__(self) -> str:  # one line, always
        where = self.file or "<config>"
        if self.line is not None:
            where += f":{self.line}"
        parts = [where]
        if self.path:
            parts.append(self.path)
        text = ": ".join(parts) + ": " + self.message
        if self.expected:
            text += f" (expected {self.expected})"
        return " ".join(text.split("\n"))


class DeadlinePhraseError(PlancycleError):
    """A deadline phrase (2019年6月上旬, 开题 + 10 个工作日 …) cannot be understood."""


class CalendarError(PlancycleError):
    """A date outside every year the working-day calendar knows: never guessed."""


class NotFound(PlancycleError):
    """An item, milestone, department or run that does not exist."""


class TransitionError(PlancycleError):
    """A move the status machine or a gate refuses ("cannot accept topic-07 开题: it is returned …")."""


class IdempotencyConflict(PlancycleError):
    """The same idempotency key was used for a different request."""
