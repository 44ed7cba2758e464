"""Unit tests of datareplay.config.interpolation: ``${...}`` references in merged configuration."""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

import pytest

from datareplay.config.interpolation import interpolate
from datareplay.config.safe_yaml import KeyPath, format_path
from datareplay.errors import ConfigError

BUILTINS = {"case.name": "demo", "case.folder": "cases/demo", "project.root": "/proj"}


def where(path: KeyPath) -> str:
    return f"file.yaml:{len(path)}" if path else "file.yaml"


def run(data: dict[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    return interpolate(data, builtins=BUILTINS, where=where, environ=environ or {})


def test_plain_values_pass_through() -> None:
    data = {"a": 1, "b": [True, None, 2.5], "c": {"d": "text with $ and { }"}}
    assert run(data) == data


@pytest.mark.parametrize("value", [5, 2.5, True, None, [1, 2], {"x": 1}, "text"])
def test_whole_value_reference_keeps_type(value: Any) -> None:
    result = run({"vars": {"v": value}, "ref": "${vars.v}"})
    assert result["ref"] == value
    assert type(result["ref"]) is type(value)


def test_whole_value_reference_with_spaces() -> None:
    assert run({"a": 3, "b": "${ a }"})["b"] == 3


def test_reference_into_a_list_by_index() -> None:
    assert run({"l": ["x", "y"], "r": "${l.1}"})["r"] == "y"


def test_embedded_reference_is_formatted_as_text() -> None:
    result = run({"vars": {"rate": 20, "drive": "d1"}, "p": "data/${vars.drive}/${vars.rate}hz"})
    assert result["p"] == "data/d1/20hz"


def test_embedded_bool_and_float() -> None:
    assert run({"a": True, "b": 0.5, "t": "${a}-${b}"})["t"] == "True-0.5"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${case.name}", "demo"),
        ("${case.folder}/data", "cases/demo/data"),
        ("${project.root}/x", "/proj/x"),
        ("${case.name}-${case.name}", "demo-demo"),
    ],
)
def test_builtins(text: str, expected: str) -> None:
    assert run({"v": text})["v"] == expected


def test_builtins_inside_lists_and_nested_mappings() -> None:
    result = run({"a": {"b": ["${case.name}", {"c": "x/${case.folder}"}]}})
    assert result == {"a": {"b": ["demo", {"c": "x/cases/demo"}]}}


def test_env_variable_is_used_and_logged_by_name_only(caplog: pytest.LogCaptureFixture) -> None:
    secret = "s3cr3t-value-123"
    with caplog.at_level(logging.DEBUG, logger="datareplay.config"):
        result = run(
            {"vars": {"token": "${env:API_TOKEN}", "url": "https://x/?t=${env:API_TOKEN}"}},
            environ={"API_TOKEN": secret},
        )
    assert result["vars"] == {"token": secret, "url": f"https://x/?t={secret}"}
    messages = [record.getMessage() for record in caplog.records]
    assert any("API_TOKEN" in message for message in messages)
    assert all(secret not in message for message in messages)
    assert secret not in caplog.text
    # the variable is logged once, with the key that uses it
    named = [m for m in messages if "API_TOKEN" in m]
    assert len(named) == 1
    assert "vars.token" in named[0]


def test_env_variable_only_from_the_given_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DR_TEST_ONLY_IN_OS", "x")
    with pytest.raises(ConfigError, match="environment variable 'DR_TEST_ONLY_IN_OS' is not set"):
        run({"a": "${env:DR_TEST_ONLY_IN_OS}"}, environ={"OTHER": "y"})


def test_env_variable_from_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DR_TEST_VAR", "from-os")
    assert interpolate({"a": "${env:DR_TEST_VAR}"}, builtins={}, where=where) == {"a": "from-os"}


def test_unset_env_variable_is_an_error() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^file\.yaml:2: vars\.home: environment variable 'NOPE_NOT_SET' is not set$",
    ):
        run({"vars": {"home": "${env:NOPE_NOT_SET}"}}, environ={"HOME": "/h"})


def test_env_value_is_not_interpolated_again() -> None:
    result = run({"a": "${env:X}"}, environ={"X": "${case.name}"})
    assert result["a"] == "${case.name}"


def test_embedded_env_value_containing_a_reference_is_kept_literally() -> None:
    result = run({"a": "pre-${env:X}"}, environ={"X": "${y}"})
    assert result["a"] == "pre-${y}"


def test_environment_is_not_a_plain_reference() -> None:
    with pytest.raises(ConfigError, match=r"unknown reference '\$\{HOME\}'"):
        run({"a": "${HOME}"}, environ={"HOME": "/h"})


def test_unknown_reference_suggests_the_closest_key() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^file\.yaml:1: p: unknown reference '\$\{vars\.drvie\}'; did you mean 'drive'\?$",
    ):
        run({"vars": {"drive": "d1"}, "p": "${vars.drvie}"})


def test_unknown_top_level_reference_suggests_builtins() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown reference '\$\{case\.nam\}'; did you mean 'case\.name'\?"
    ):
        run({"p": "data/${case.nam}"})


def test_unknown_reference_names_the_key_holding_it() -> None:
    with pytest.raises(ConfigError, match=r"^file\.yaml:3: a\.b\[0\]: unknown reference"):
        run({"a": {"b": ["${zzz}"]}})


def test_reference_past_a_list_end_is_unknown() -> None:
    with pytest.raises(ConfigError, match=r"unknown reference '\$\{l\.2\}'"):
        run({"l": [1, 2], "r": "${l.2}"})


def test_cycle_is_an_error_naming_the_chain() -> None:
    with pytest.raises(ConfigError, match=r"reference cycle: ") as info:
        run({"a": "${b}", "b": "${c}", "c": "x-${a}"})
    message = str(info.value)
    chain = message.split("reference cycle: ", 1)[1]
    assert chain.split(" -> ")[0] == chain.split(" -> ")[-1]
    assert {"a", "b", "c"} <= set(chain.split(" -> "))


def test_self_reference_is_a_cycle() -> None:
    with pytest.raises(
        ConfigError, match=r"^file\.yaml:2: vars\.x: reference cycle: vars\.x -> vars\.x$"
    ):
        run({"vars": {"x": "${vars.x}"}})


def test_reference_to_an_ancestor_is_a_cycle() -> None:
    with pytest.raises(ConfigError, match=r"reference cycle: "):
        run({"vars": {"all": "${vars}"}})


def test_dollar_dollar_brace_is_a_literal() -> None:
    result = run({"a": "$${not.a.ref}", "b": "cost $${x} and ${case.name}", "c": "$5 {y}"})
    assert result == {"a": "${not.a.ref}", "b": "cost ${x} and demo", "c": "$5 {y}"}


def test_escaped_literal_survives_an_embedded_reference() -> None:
    result = run({"a": "$${x}", "b": "pre ${a}", "c": "${a}"})
    assert result == {"a": "${x}", "b": "pre ${x}", "c": "${x}"}


@pytest.mark.parametrize("target", [[1, 2], {"k": "v"}])
def test_list_or_mapping_inside_text_is_an_error(target: Any) -> None:
    kind = type(target).__name__
    with pytest.raises(
        ConfigError,
        match=rf"^file\.yaml:1: t: '\$\{{v\}}' is a {kind} and cannot be part of a text$",
    ):
        run({"v": target, "t": "x ${v}"})


@pytest.mark.parametrize("text", ["${", "a ${b", "${a", "x ${${a}}"])
def test_unclosed_reference(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^file\.yaml:1: t: unclosed or empty reference"):
        run({"a": 1, "t": text})


@pytest.mark.parametrize("text", ["${}", "x ${ } y"])
def test_empty_reference(text: str) -> None:
    with pytest.raises(
        ConfigError, match=r"^file\.yaml:1: t: (unclosed or empty|unknown) reference"
    ):
        run({"t": text})


def test_nested_references_resolve_through_a_chain() -> None:
    result = run({"a": "${b}", "b": "${c}", "c": [1, "${case.name}"], "d": "${a}"})
    assert result["a"] == [1, "demo"]
    assert result["b"] == [1, "demo"]
    assert result["d"] == [1, "demo"]


def test_nested_references_in_text() -> None:
    result = run({"root": "/data", "drive": "${root}/d1", "file": "${drive}/speed.csv"})
    assert result["file"] == "/data/d1/speed.csv"


def test_the_same_key_referenced_twice_is_not_a_cycle() -> None:
    result = run({"a": 1, "b": "${a}${a}", "c": ["${a}", "${a}"]})
    assert result["b"] == "11"
    assert result["c"] == [1, 1]


def test_input_is_not_mutated() -> None:
    data = {
        "vars": {"drive": "d1", "l": ["${vars.drive}", {"x": "${case.name}"}]},
        "p": "${vars.l}",
        "q": "a/${vars.drive}",
    }
    before = copy.deepcopy(data)
    result = run(data)
    assert data == before
    assert result["p"] == ["d1", {"x": "demo"}]
    # the result shares no containers with the input
    assert result["vars"] is not data["vars"]
    assert result["vars"]["l"] is not data["vars"]["l"]
    result["p"][1]["x"] = "changed"
    assert data == before


def test_error_location_uses_where() -> None:
    seen: list[str] = []

    def recording_where(path: KeyPath) -> str:
        seen.append(format_path(path))
        return "origin-of-" + format_path(path)

    with pytest.raises(ConfigError, match=r"^origin-of-x\.y: x\.y: unknown reference"):
        interpolate({"x": {"y": "${nope}"}}, builtins={}, where=recording_where, environ={})
    assert seen == ["x.y"]


def test_numbers_inside_text_appear_as_written() -> None:
    data = {"vars": {"fw": 2.1, "on": True, "none": None, "alias": "${vars.fw}"}, "p": ""}
    data["p"] = "fw_${vars.fw}/${vars.on}/${vars.none}/${vars.alias}"
    texts = {("vars", "fw"): "2.10", ("vars", "on"): "TRUE", ("vars", "none"): "~"}
    result = interpolate(data, builtins=BUILTINS, where=where, environ={}, texts=texts)
    assert result["p"] == "fw_2.10/TRUE/~/2.10"
    assert result["vars"]["alias"] == 2.1  # a whole reference keeps the value's type


def test_without_written_text_numbers_inside_text_use_python_spelling() -> None:
    assert run({"a": 2.5, "b": "x${a}"})["b"] == "x2.5"
