"""``${...}`` references in configuration values, resolved after all layers are merged.

- ``${data.raw_root}`` or ``${vars.drive}``: another key of the merged config. A value that
  is exactly one reference keeps the referenced type; inside text a number, boolean or
  null appears as it was written (``firmware: 2.10`` gives ``fw_2.10``, not ``fw_2.1``).
- ``${case.name}``, ``${case.folder}``, ``${project.root}``: built-in variables.
- ``${env:NAME}``: an environment variable, only in this explicit form. Its use is logged
  by name (never its value), and an unset variable is an error. Every key path whose
  value came wholly or partly from the environment -- directly or through a reference --
  is recorded in ``env`` (``EnvValues``), so that it is shown redacted everywhere.
- ``$${`` is a literal ``${``.

Unknown references and cycles are errors naming the key that holds them.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from datareplay.config.safe_yaml import KeyPath, format_path
from datareplay.config.secrets import EnvValues
from datareplay.errors import ConfigError, did_you_mean

log = logging.getLogger("datareplay.config")

_REF = re.compile(r"\$\{([^${}]*)\}")
_ESCAPED = "\x00dollar-brace\x00"


def interpolate(
    data: dict[str, Any],
    *,
    builtins: Mapping[str, str],
    where: Callable[[KeyPath], str],
    environ: Mapping[str, str] | None = None,
    env: EnvValues | None = None,
    texts: Mapping[KeyPath, str] | None = None,
    references: dict[KeyPath, KeyPath] | None = None,
) -> dict[str, Any]:
    """Return ``data`` with every reference resolved; the input is not modified.

    ``env`` receives the key paths that took values from environment variables (and the
    values), as they are read, so a later error can still keep them out of its message.
    ``texts`` holds the written text of numbers, booleans and nulls by key path
    (``MergedConfig.texts``); a reference inside text uses it. ``references`` receives,
    for every value that is exactly one reference to another key, that key's path.
    """
    resolver = _Resolver(data, builtins, where, os.environ if environ is None else environ)
    resolver.texts = texts or {}
    if references is not None:
        resolver.references = references
    if env is not None:
        resolver.env = env
    result = resolver.value(data, ())
    assert isinstance(result, dict)
    return result


class _Resolver:
    def __init__(
        self,
        data: dict[str, Any],
        builtins: Mapping[str, str],
        where: Callable[[KeyPath], str],
        environ: Mapping[str, str],
    ) -> None:
        self.data = data
        self.builtins = builtins
        self.where = where
        self.environ = environ
        self.active: list[KeyPath] = []
        self.env_used: set[str] = set()
        self.env = EnvValues()
        self.env_stack: list[set[str]] = []  # variables behind each text being resolved
        self.texts: Mapping[KeyPath, str] = {}
        self.references: dict[KeyPath, KeyPath] = {}

    def value(self, value: Any, path: KeyPath) -> Any:
        if isinstance(value, dict):
            return {k: self.value(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            used: set[str] = set()
            self.env_stack.append(used)
            try:
                result = self.text(value, path)
            finally:
                self.env_stack.pop()
            if used:  # the value came (partly) from the environment, and so does its user's
                self.env.paths[path] = tuple(sorted(used))
                if self.env_stack:
                    self.env_stack[-1].update(used)
            return result
        return value

    def text(self, text: str, path: KeyPath) -> Any:
        protected = text.replace("$${", _ESCAPED)
        whole = _REF.fullmatch(protected)
        if whole:
            name = whole.group(1).strip()
            if not name.startswith("env:") and name not in self.builtins:
                self.references[path] = self.lookup(name, path)
            return self.reference(name, path)

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            resolved = self.reference(name, path)
            if isinstance(resolved, (dict, list)):
                raise self.fail(
                    path,
                    f"'${{{match.group(1)}}}' is a {type(resolved).__name__} "
                    "and cannot be part of a text",
                )
            if isinstance(resolved, str):
                return resolved
            written = self.written(name, path)
            return str(resolved) if written is None else written

        if "${" in _REF.sub("", protected):
            raise self.fail(path, f"unclosed or empty reference in {text!r}")
        return _REF.sub(substitute, protected).replace(_ESCAPED, "${")

    def reference(self, name: str, path: KeyPath) -> Any:
        if name.startswith("env:"):
            var = name[4:]
            if var not in self.environ:
                raise self.fail(path, f"environment variable '{var}' is not set")
            if var not in self.env_used:
                self.env_used.add(var)
                log.info("config %s uses environment variable %s", format_path(path), var)
            self.env.values[var] = self.environ[var]
            self.env_stack[-1].add(var)
            return self.environ[var]
        if name in self.builtins:
            return self.builtins[name]
        target = self.lookup(name, path)
        if target in self.active:
            chain = " -> ".join(format_path(p) for p in [*self.active, target])
            raise self.fail(path, f"reference cycle: {chain}")
        self.active.append(target)
        try:
            return self.value(self.get(target), target)
        finally:
            self.active.pop()

    def written(self, name: str, path: KeyPath) -> str | None:
        """The text the value behind reference ``name`` was written as, following
        whole-value references (``a: ${b}``, ``b: 2.10``); None if unknown."""
        while not name.startswith("env:") and name not in self.builtins:
            target = self.lookup(name, path)
            if target in self.texts:
                return self.texts[target]
            raw = self.get(target)
            whole = _REF.fullmatch(raw) if isinstance(raw, str) else None
            if whole is None:
                return None
            name, path = whole.group(1).strip(), target
        return None

    def lookup(self, name: str, path: KeyPath) -> KeyPath:
        node: Any = self.data
        target: list[str | int] = []
        for part in name.split("."):
            if isinstance(node, dict) and part in node:
                target.append(part)
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                target.append(int(part))
                node = node[int(part)]
            else:
                options = [*map(str, node)] if isinstance(node, dict) else []
                if not target:
                    options += list(self.builtins)
                raise self.fail(
                    path, f"unknown reference '${{{name}}}'{did_you_mean(part, options)}"
                )
        return tuple(target)

    def get(self, target: KeyPath) -> Any:
        node: Any = self.data
        for part in target:
            node = node[part]
        return node

    def fail(self, path: KeyPath, message: str) -> ConfigError:
        return ConfigError(f"{self.where(path)}: {format_path(path)}: {message}")
