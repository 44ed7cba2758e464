"""The one extension point: a plugin is a ``BasePlugin`` subclass with a ``run`` method.

A plugin declares what it reads, what it writes and which parameters it takes, all on
the class, and implements ``run``::

    class EventDetector(BasePlugin):
        \"\"\"Find hard-braking events in the feature table.\"\"\"

        inputs = {"features": "Per-sample speed, acceleration and jerk."}
        outputs = {"events": "One row per detected event."}

        threshold = Param(-3.0, "Deceleration below which braking is hard, in m/s².")

        def run(self, hub: DataHub) -> None:
            features = hub["features"]
            hub["events"] = features[features["accel_mps2"] < self.threshold]

Params are read as attributes (``self.threshold``); the values come from the class
defaults, overridden by the ``params`` of the pipeline step in case.yaml. A plugin
module must not do expensive work at import time.
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, overload

from datareplay.errors import (
    ConfigError,
    PluginDefinitionError,
    boolean_hint,
    did_you_mean,
    quote_value,
)

if TYPE_CHECKING:
    from datareplay.data.hub import DataHub

_REQUIRED: Any = object()
_TYPES: dict[type, str] = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    list: "list",
    dict: "dict",
}


@dataclass(frozen=True)
class Param:
    """A declared plugin parameter: default, description and type.

    The type is taken from the default unless given; ``Param(required=True, ...)`` has
    no default and must be set in case.yaml. ``choices`` restricts the allowed values.
    """

    default: Any = None
    description: str = ""
    type: type | None = None
    choices: tuple[Any, ...] | None = None
    required: bool = False
    check: Callable[[Any], None] | None = field(default=None, compare=False)
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.type is None:
            if self.default is None:
                if not self.required:
                    raise PluginDefinitionError(
                        "a Param with default None needs an explicit type=... or required=True"
                    )
            else:
                object.__setattr__(self, "type", type(self.default))
        if self.type is not None and self.type not in _TYPES:
            raise PluginDefinitionError(
                f"Param type {self.type!r} is not supported; use one of "
                f"{', '.join(_TYPES.values())}"
            )

    @property
    def type_name(self) -> str:
        return _TYPES[self.type] if self.type is not None else "any"

    def __set_name__(self, owner: builtins.type, name: str) -> None:
        object.__setattr__(self, "name", name)

    @overload
    def __get__(self, instance: None, owner: builtins.type) -> Param: ...
    @overload
    def __get__(self, instance: object, owner: builtins.type) -> Any: ...
    def __get__(self, instance: object | None, owner: builtins.type) -> Any:
        if instance is None:
            return self
        return instance.__dict__["_param_values"][self.name]

    def coerce(self, value: Any, *, where: str, quote_hint: str = "") -> Any:
        """Return ``value`` checked against the declared type (ints widen to float).

        ``quote_hint`` (``MergedConfig.quote_hint``) is added to the error when text was
        expected and the value was read as a number, boolean or null.
        """
        expected = self.type
        if expected is None:
            return value
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            try:
                value = float(value)
            except OverflowError:
                raise ConfigError(
                    f"{where}: param '{self.name}' must be float, got an int too large "
                    f"for a float ({len(str(abs(value))):,} digits)"
                ) from None
        ok = isinstance(value, expected) and not (
            expected in (int, float) and isinstance(value, bool)
        )
        if not ok:
            hint = (
                quote_hint if expected is str else boolean_hint(value) if expected is bool else ""
            )
            raise ConfigError(
                f"{where}: param '{self.name}' must be {self.type_name}, got "
                f"{type(value).__name__} {quote_value(value)}{hint}"
            )
        if self.choices is not None and value not in self.choices:
            options = ", ".join(repr(c) for c in self.choices)
            raise ConfigError(
                f"{where}: param '{self.name}' must be one of {options}, got {value!r}"
            )
        if self.check is not None:
            try:
                self.check(value)
            except (ValueError, ConfigError) as exc:
                raise ConfigError(f"{where}: param '{self.name}': {exc}") from None
        return value


class BasePlugin:
    """Base class of every processing step.

    Subclasses set ``inputs`` and ``outputs`` (mappings of port name to description),
    declare parameters as ``Param`` class attributes and implement ``run``.

    ``cacheable = False`` marks a plugin whose result is not a function of its code,
    params and inputs alone (it reads the clock, a random source or a service, or acts on
    the world): it runs in every run, never restored from an earlier one.
    """

    inputs: ClassVar[Mapping[str, str]] = {}
    outputs: ClassVar[Mapping[str, str]] = {}
    params: ClassVar[Mapping[str, Param]] = {}
    cacheable: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        collected: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, Param):
                    collected[name] = value
        cls.params = collected

    def __init__(self, *, params: Mapping[str, Any] | None = None, step: str = "") -> None:
        self.step = step or type(self).__name__
        self.__dict__["_param_values"] = self.resolve_params(params or {}, where=self.step)

    @classmethod
    def resolve_params(
        cls,
        given: Mapping[str, Any],
        *,
        where: str,
        origin_of: Callable[[str], str] | None = None,
        quote_hint_of: Callable[[str], str] | None = None,
    ) -> dict[str, Any]:
        """Merge ``given`` over the declared defaults, checking names and types.

        Every problem is reported at once: the ConfigError holds one line per problem.
        ``origin_of(name)`` says where a given value came from (default: ``where``);
        ``quote_hint_of(name)`` how to write it as text (see ``Param.coerce``).
        """
        problems: list[str] = []
        known = ", ".join(cls.params) or "none"
        origin_of = origin_of or (lambda _: where)
        for name in given:
            if name not in cls.params:
                problems.append(
                    f"{origin_of(name)}: unknown param '{name}' for plugin {cls.__name__}"
                    f"{did_you_mean(name, cls.params)} (known params: {known})"
                )
        values: dict[str, Any] = {}
        for name, spec in cls.params.items():
            try:
                if name in given:
                    values[name] = spec.coerce(
                        copy.deepcopy(given[name]),
                        where=origin_of(name),
                        quote_hint=quote_hint_of(name) if quote_hint_of else "",
                    )
                elif spec.required:
                    raise ConfigError(
                        f"{where}: plugin {cls.__name__} needs param '{name}' "
                        f"({spec.description or spec.type_name}); set it under params:"
                    )
                else:
                    values[name] = copy.deepcopy(spec.default)  # never share a mutable default
            except ConfigError as exc:
                problems.append(str(exc))
        if problems:
            raise ConfigError("\n".join(problems))
        return values

    @classmethod
    def input_ports(cls, params: Mapping[str, Any]) -> Mapping[str, str]:
        """The inputs of a step configured with ``params`` (default: ``inputs``).

        A plugin whose inputs depend on its params (a quality gate checking the sources
        it is told to) overrides this; the engine calls it before anything runs.
        """
        return cls.inputs

    @property
    def param_values(self) -> dict[str, Any]:
        """The resolved parameter values of this instance."""
        return dict(self.__dict__["_param_values"])

    @classmethod
    def docstring(cls) -> str:
        """The class's own docstring, cleaned (never inherited from a parent)."""
        import inspect

        return inspect.cleandoc(cls.__dict__.get("__doc__") or "")

    @classmethod
    def summary(cls) -> str:
        """The first line of the class docstring."""
        doc = cls.docstring()
        return doc.splitlines()[0].strip() if doc else ""

    @classmethod
    def description(cls) -> str:
        """The class docstring after its first paragraph."""
        doc = cls.docstring()
        parts = doc.split("\n\n", 1)
        return parts[1].strip() if len(parts) > 1 else ""

    def run(self, hub: DataHub) -> None:
        """Read the declared inputs from ``hub``, compute, write the declared outputs."""
        raise NotImplementedError


def check_plugin_class(cls: type, *, origin: str) -> None:
    """Raise PluginDefinitionError when ``cls`` breaks the plugin contract."""
    name = cls.__name__
    if not (isinstance(cls, type) and issubclass(cls, BasePlugin)):
        raise PluginDefinitionError(f"{origin}: {name} is not a BasePlugin subclass")
    if cls.run is BasePlugin.run:
        raise PluginDefinitionError(f"{origin}: plugin {name} does not implement run(self, hub)")
    if not cls.summary():
        raise PluginDefinitionError(
            f"{origin}: plugin {name} has no docstring; its first line is the summary in PLUGINS.md"
        )
    for kind in ("inputs", "outputs"):
        ports = getattr(cls, kind)
        if not isinstance(ports, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in ports.items()
        ):
            raise PluginDefinitionError(
                f"{origin}: {name}.{kind} must be a mapping of port name to description"
            )
    both = set(cls.inputs) & set(cls.outputs)
    if both:
        raise PluginDefinitionError(
            f"{origin}: {name} declares '{sorted(both)[0]}' as both input and output"
        )
    # Checked here, when the plugin is registered, rather than when a case is validated:
    # the default is wrong whatever a case sets, so `plugins`, `describe` and PLUGINS.md
    # show the plugin as broken at once (instead of documenting a default that cannot be
    # used), and every case that runs it fails in `validate` with this reason, even one
    # that sets the param (the class would be just as wrong in the next case).
    problems = [
        f"param '{param}' has default {spec.default!r}, which is not one of its choices "
        f"({', '.join(repr(choice) for choice in spec.choices)})"
        for param, spec in cls.params.items()
        if spec.choices is not None and not spec.required and spec.default not in spec.choices
    ]
    if problems:
        raise PluginDefinitionError(
            f"{origin}: plugin {name}: {'; '.join(problems)}; make the default one of the "
            "choices or add it to them"
        )
