"""Values from the environment (``${env:NAME}``) are used, never shown.

A configuration value that came wholly or partly from an environment variable — directly,
or through a reference to a key that did — is a secret: the merged config records its key
path and the variables' names (``EnvValues``), and everything that shows, logs or quotes
configuration values renders it as ``<redacted: env:NAME>`` (``Redacted``): the ``config``
command, the override log line, validation errors. Plugins receive the real value.

As a last line of defence ``Secrets`` remembers the text of every value read from the
environment in this process, and ``Secrets.redact`` replaces it in any message: the command
line passes every error line through it, and ``RedactingFilter`` does the same for every
log record. A quoted value (``'abc'``) is replaced whatever its length; bare text only from
``MIN_BARE`` characters on, so that a variable holding ``1`` does not blank every digit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from datareplay.config.safe_yaml import KeyPath

MIN_BARE = 4


@dataclass(frozen=True)
class Redacted:
    """What is shown instead of a value taken from environment variables ``names``."""

    names: tuple[str, ...]

    def __str__(self) -> str:
        return f"<redacted: {', '.join(f'env:{name}' for name in self.names)}>"

    __repr__ = __str__


@dataclass
class EnvValues:
    """Which key paths took their value from which environment variables, and the values."""

    paths: dict[KeyPath, tuple[str, ...]] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)  # variable name -> value read

    def names(self, path: KeyPath) -> tuple[str, ...]:
        """The variables behind the value at ``path`` or the value that holds it."""
        probe = tuple(path)
        while True:
            if probe in self.paths:
                return self.paths[probe]
            if not probe:
                return ()
            probe = probe[:-1]

    def redacted(self, value: Any, path: KeyPath = ()) -> Any:
        """``value`` (found at ``path``) with every secret in it replaced by ``Redacted``."""
        if not self.paths:
            return value
        names = self.names(path)
        if names:
            return Redacted(names)
        if isinstance(value, dict):
            return {key: self.redacted(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [self.redacted(item, (*path, index)) for index, item in enumerate(value)]
        return value


class Secrets:
    """The text of every value read from the environment, to be kept out of messages."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}  # value -> the variable it came from

    def __bool__(self) -> bool:
        return bool(self._names)

    def add(self, values: dict[str, str]) -> None:
        """Remember values read from environment variables (``{name: value}``)."""
        for name, value in values.items():
            if value:
                self._names.setdefault(value, name)

    def redact(self, text: str) -> str:
        """``text`` with every known secret value replaced by ``<redacted: env:NAME>``."""
        if not self._names or not text:
            return text
        for value in sorted(self._names, key=len, reverse=True):
            marker = str(Redacted((self._names[value],)))
            for quoted in (repr(value), f"'{value}'", f'"{value}"'):
                text = text.replace(quoted, marker)
            if len(value) >= MIN_BARE:
                text = text.replace(value, marker)
        return text


class RedactingFilter(logging.Filter):
    """A handler filter that removes known secret values from every record it passes."""

    def __init__(self, secrets: Secrets) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: let the handler report it
            return True
        redacted = self.secrets.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.secrets.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.secrets.redact(record.stack_info)
        return True


def install_filter(secrets: Secrets) -> None:
    """Put a ``RedactingFilter`` on every handler of every configured logger."""
    loggers: list[logging.Logger] = [logging.getLogger()]
    known = logging.Logger.manager.loggerDict.values()
    loggers += [item for item in known if isinstance(item, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            for old in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
                handler.removeFilter(old)
            handler.addFilter(RedactingFilter(secrets))
