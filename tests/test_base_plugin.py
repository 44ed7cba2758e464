"""Unit tests of datareplay.plugins.base: Param declarations, resolution and the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from datareplay.data.catalog import DataCatalog
from datareplay.data.hub import DataHub
from datareplay.errors import ConfigError, PluginDefinitionError
from datareplay.plugins.base import BasePlugin, Param, check_plugin_class


class Detector(BasePlugin):
    """Find hard-braking events.

    Events are rows whose deceleration is below the threshold.
    A second line of the description.
    """

    inputs: ClassVar[dict[str, str]] = {"features": "Per-sample features."}
    outputs: ClassVar[dict[str, str]] = {"events": "Detected events."}

    threshold = Param(-3.0, "Deceleration below which braking is hard.")
    window = Param(5, "Samples per window.")
    label = Param("brake", "Event label.")
    strict = Param(False, "Fail on gaps.")
    channels = Param(["x"], "Channels.")
    limits = Param({"max": 1}, "Limits.")
    mode = Param("fast", "Mode.", choices=("fast", "exact"))
    sensor = Param(required=True, type=str, description="Sensor id.")

    def run(self, hub: DataHub) -> None:
        hub["events"] = hub["features"]


# -- Param ---------------------------------------------------------------------------------


def test_param_type_is_inferred_from_default() -> None:
    assert Detector.threshold.type is float
    assert Detector.window.type is int
    assert Detector.label.type is str
    assert Detector.strict.type is bool
    assert Detector.channels.type is list
    assert Detector.limits.type is dict
    assert [Detector.params[n].type_name for n in ("threshold", "window", "strict")] == [
        "float",
        "int",
        "bool",
    ]


def test_param_knows_its_name() -> None:
    assert Detector.threshold.name == "threshold"
    assert Detector.sensor.name == "sensor"


def test_explicit_type_with_none_default() -> None:
    p = Param(None, "maybe", type=int)
    assert p.type is int and p.default is None


def test_param_with_none_default_needs_a_type() -> None:
    with pytest.raises(PluginDefinitionError, match="needs an explicit type"):
        Param(None, "no type")


def test_required_param_without_type_takes_any_value() -> None:
    p = Param(required=True)
    assert p.type is None
    assert p.type_name == "any"
    assert p.coerce({"a": 1}, where="w") == {"a": 1}


@pytest.mark.parametrize("default", [(1, 2), {1, 2}, b"x", 1j, object()])
def test_unsupported_param_types_are_refused(default: Any) -> None:
    with pytest.raises(PluginDefinitionError, match="is not supported"):
        Param(default)


def test_unsupported_explicit_type_is_refused() -> None:
    with pytest.raises(PluginDefinitionError, match="is not supported"):
        Param(None, type=tuple)


def test_int_widens_to_float() -> None:
    value = Detector.threshold.coerce(-4, where="w")
    assert value == -4.0
    assert type(value) is float


@pytest.mark.parametrize("value", [True, False])
def test_bool_is_not_accepted_as_int_or_float(value: bool) -> None:
    with pytest.raises(ConfigError, match="param 'window' must be int, got bool"):
        Detector.window.coerce(value, where="w")
    with pytest.raises(ConfigError, match="param 'threshold' must be float, got bool"):
        Detector.threshold.coerce(value, where="w")


def test_int_is_not_accepted_as_bool() -> None:
    with pytest.raises(ConfigError, match="param 'strict' must be bool, got int 1"):
        Detector.strict.coerce(1, where="w")


def test_float_is_not_narrowed_to_int() -> None:
    with pytest.raises(ConfigError, match=r"param 'window' must be int, got float 2\.0"):
        Detector.window.coerce(2.0, where="w")


@pytest.mark.parametrize(
    "name,value",
    [("label", 3), ("channels", "x"), ("limits", ["max"]), ("threshold", "-3")],
)
def test_wrong_types_name_param_and_location(name: str, value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        Detector.params[name].coerce(value, where="cases/demo/case.yaml:7")
    message = str(info.value)
    assert message.startswith("cases/demo/case.yaml:7: param ")
    assert f"'{name}'" in message
    assert repr(value) in message


def test_choices() -> None:
    assert Detector.mode.coerce("exact", where="w") == "exact"
    with pytest.raises(ConfigError) as info:
        Detector.mode.coerce("slow", where="w")
    assert "must be one of 'fast', 'exact', got 'slow'" in str(info.value)


def test_choices_are_checked_after_type() -> None:
    with pytest.raises(ConfigError, match="must be str"):
        Detector.mode.coerce(1, where="w")


# -- resolving params -----------------------------------------------------------------------


def test_defaults_are_used_and_params_read_as_attributes() -> None:
    plugin = Detector(params={"sensor": "imu"})
    assert plugin.threshold == -3.0
    assert plugin.window == 5
    assert plugin.label == "brake"
    assert plugin.strict is False
    assert plugin.sensor == "imu"
    assert plugin.step == "Detector"
    assert plugin.param_values["mode"] == "fast"


def test_given_params_override_defaults() -> None:
    plugin = Detector(params={"sensor": "gps", "window": 9, "threshold": -2}, step="detect2")
    assert plugin.window == 9
    assert plugin.threshold == -2.0 and type(plugin.threshold) is float
    assert plugin.step == "detect2"


def test_param_values_is_a_copy() -> None:
    plugin = Detector(params={"sensor": "imu"})
    values = plugin.param_values
    values["window"] = 99
    assert plugin.window == 5


def test_params_are_per_instance() -> None:
    a = Detector(params={"sensor": "a", "window": 1})
    b = Detector(params={"sensor": "b", "window": 2})
    assert (a.window, b.window) == (1, 2)


def test_mutable_default_is_not_shared_between_instances() -> None:
    first = Detector(params={"sensor": "imu"})
    first.channels.append("y")
    first.limits["max"] = 2
    second = Detector(params={"sensor": "imu"})
    assert second.channels == ["x"]
    assert second.limits == {"max": 1}
    assert Detector.channels.default == ["x"]


def test_given_mutable_params_are_not_shared_with_the_caller() -> None:
    given = {"sensor": "imu", "channels": ["a"]}
    first = Detector(params=given)
    first.channels.append("b")
    assert given["channels"] == ["a"]
    assert Detector(params=given).channels == ["a"]


def test_required_param_missing() -> None:
    with pytest.raises(ConfigError) as info:
        Detector(params={}, step="detect")
    message = str(info.value)
    assert message.startswith("detect: plugin Detector needs param 'sensor'")
    assert "Sensor id." in message


def test_unknown_param_with_suggestion() -> None:
    with pytest.raises(ConfigError) as info:
        Detector.resolve_params({"sensor": "x", "treshold": 1.0}, where="case.yaml:3")
    message = str(info.value)
    assert message.startswith("case.yaml:3: unknown param 'treshold' for plugin Detector")
    assert "did you mean 'threshold'?" in message
    assert "known params: threshold, window" in message


def test_unknown_param_without_close_match_lists_known() -> None:
    with pytest.raises(ConfigError) as info:
        Detector.resolve_params({"zzz": 1}, where="w")
    assert "did you mean" not in str(info.value)
    assert "known params:" in str(info.value)


def test_plugin_without_params_says_none() -> None:
    with pytest.raises(ConfigError, match=r"known params: none"):
        Minimal.resolve_params({"x": 1}, where="w")


def test_wrong_type_through_constructor_names_step() -> None:
    with pytest.raises(ConfigError, match=r"^my_step: param 'window' must be int"):
        Detector(params={"sensor": "x", "window": "5"}, step="my_step")


def test_params_are_inherited_and_overridable() -> None:
    class Child(Detector):
        """Child detector."""

        window = Param(7, "Longer window.")
        extra = Param(1.5, "New.")

    assert set(Child.params) == set(Detector.params) | {"extra"}
    assert Child.params["window"].default == 7
    assert Detector.params["window"].default == 5
    child = Child(params={"sensor": "s"})
    assert (child.window, child.extra, child.label) == (7, 1.5, "brake")


# -- docstrings -----------------------------------------------------------------------------


class Minimal(BasePlugin):
    """One line only."""

    def run(self, hub: DataHub) -> None:
        return None


def test_summary_and_description_from_docstring() -> None:
    assert Detector.summary() == "Find hard-braking events."
    assert Detector.description() == (
        "Events are rows whose deceleration is below the threshold.\n"
        "A second line of the description."
    )
    assert Minimal.summary() == "One line only."
    assert Minimal.description() == ""


def test_base_run_is_not_implemented() -> None:
    with pytest.raises(NotImplementedError):
        BasePlugin().run(DataCatalog({}, project_root=Path(".")).hub("base", reads={}, writes={}))


# -- check_plugin_class -------------------------------------------------------------------------


def test_valid_plugins_pass_the_check() -> None:
    check_plugin_class(Detector, origin="modules/x.py")
    check_plugin_class(Minimal, origin="modules/x.py")


def test_not_a_plugin() -> None:
    class Other:
        """Not a plugin."""

    with pytest.raises(PluginDefinitionError, match="Other is not a BasePlugin subclass"):
        check_plugin_class(Other, origin="m.py")


def test_plugin_without_run() -> None:
    class NoRun(BasePlugin):
        """Does nothing."""

    with pytest.raises(PluginDefinitionError) as info:
        check_plugin_class(NoRun, origin="modules/a.py")
    assert str(info.value) == "modules/a.py: plugin NoRun does not implement run(self, hub)"


def test_plugin_without_docstring() -> None:
    class NoDoc(BasePlugin):
        def run(self, hub: DataHub) -> None:
            return None

    with pytest.raises(PluginDefinitionError) as info:
        check_plugin_class(NoDoc, origin="modules/a.py")
    assert "plugin NoDoc has no docstring" in str(info.value)


def test_plugin_with_blank_docstring() -> None:
    class Blank(BasePlugin):
        """ """

        def run(self, hub: DataHub) -> None:
            return None

    with pytest.raises(PluginDefinitionError, match="has no docstring"):
        check_plugin_class(Blank, origin="modules/a.py")


@pytest.mark.parametrize(
    "kind,ports",
    [
        ("inputs", ["a", "b"]),
        ("inputs", {"a": 1}),
        ("outputs", {1: "one"}),
        ("outputs", "events"),
    ],
)
def test_bad_ports(kind: str, ports: Any) -> None:
    cls = type(
        "BadPorts",
        (BasePlugin,),
        {"__doc__": "Bad ports.", kind: ports, "run": lambda self, hub: None},
    )
    with pytest.raises(PluginDefinitionError) as info:
        check_plugin_class(cls, origin="m.py")
    assert f"BadPorts.{kind} must be a mapping of port name to description" in str(info.value)


def test_same_port_as_input_and_output() -> None:
    class Both(BasePlugin):
        """Reads and writes one port."""

        inputs: ClassVar[dict[str, str]] = {"table": "in", "b": "x"}
        outputs: ClassVar[dict[str, str]] = {"table": "out", "c": "y"}

        def run(self, hub: DataHub) -> None:
            return None

    with pytest.raises(PluginDefinitionError, match="declares 'table' as both input and output"):
        check_plugin_class(Both, origin="m.py")
