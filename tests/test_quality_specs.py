"""Check declarations: parse_checks and checks_by_source, happy paths and every error."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from datareplay.errors import ConfigError
from datareplay.quality.specs import (
    MODELS,
    AllowedValuesCheck,
    CheckSpec,
    CompareCheck,
    ConstantCheck,
    DriftCheck,
    MonotonicCheck,
    NotNullCheck,
    RangeCheck,
    ReferentialCheck,
    RegexCheck,
    RowCountCheck,
    SchemaCheck,
    StuckCheck,
    UniqueCheck,
    checks_by_source,
    parse_checks,
)

WHERE = "cases/demo/case.yaml:19: data_sources.wheel.checks"


def one(item: dict[str, Any]) -> CheckSpec:
    specs = parse_checks([item], where=WHERE)
    assert len(specs) == 1
    return specs[0]


def error_of(raw: Any, where: str = WHERE) -> str:
    with pytest.raises(ConfigError) as info:
        parse_checks(raw, where=where)
    return str(info.value)


# -- happy paths -----------------------------------------------------------------------


def test_every_check_has_a_model() -> None:
    assert set(MODELS) == {
        "schema",
        "not_null",
        "unique",
        "range",
        "allowed_values",
        "regex",
        "row_count",
        "monotonic",
        "stuck",
        "compare",
        "constant",
        "referential",
        "drift",
    }


def test_schema_parses_columns_with_and_without_types() -> None:
    spec = one({"check": "schema", "columns": {"t_s": "float", "name": None}, "strict": True})
    assert spec.name == "schema"
    assert isinstance(spec.params, SchemaCheck)
    assert spec.params.columns == {"t_s": "float", "name": None}
    assert spec.params.strict is True
    assert spec.describe() == "schema(t_s, name)"


def test_schema_is_not_strict_by_default() -> None:
    assert one({"check": "schema", "columns": {"x": "int"}}).params.strict is False


@pytest.mark.parametrize(("name", "model"), [("not_null", NotNullCheck), ("unique", UniqueCheck)])
def test_column_shorthand_becomes_a_one_item_columns_list(name: str, model: type) -> None:
    spec = one({"check": name, "column": "speed_mps"})
    assert isinstance(spec.params, model)
    assert spec.params.columns == ["speed_mps"]
    assert not hasattr(spec.params, "column")
    assert spec.describe() == f"{name}(speed_mps)"
    assert spec.as_dict() == {
        "check": name,
        "severity": "error",
        "tolerance": 0.0,
        "columns": ["speed_mps"],
    }


@pytest.mark.parametrize("name", ["not_null", "unique"])
def test_columns_list_is_kept(name: str) -> None:
    spec = one({"check": name, "columns": ["a", "b"]})
    assert spec.params.columns == ["a", "b"]
    assert spec.describe() == f"{name}(a, b)"


def test_range_parses_bounds_and_inclusiveness() -> None:
    spec = one(
        {
            "check": "range",
            "column": "fl",
            "min": -5,
            "max": 250,
            "min_inclusive": False,
            "tolerance": 0.0003,
        }
    )
    assert isinstance(spec.params, RangeCheck)
    assert (spec.params.min, spec.params.max) == (-5.0, 250.0)
    assert spec.params.min_inclusive is False
    assert spec.params.max_inclusive is True
    assert spec.params.tolerance == pytest.approx(0.0003)
    assert spec.describe() == "range(fl)"


@pytest.mark.parametrize("bound", ["min", "max"])
def test_range_with_one_bound(bound: str) -> None:
    spec = one({"check": "range", "column": "x", bound: 1})
    assert getattr(spec.params, bound) == 1.0
    other = "max" if bound == "min" else "min"
    assert getattr(spec.params, other) is None


def test_range_with_equal_bounds_is_fine() -> None:
    spec = one({"check": "range", "column": "x", "min": 3, "max": 3})
    assert spec.params.min == spec.params.max == 3.0


def test_allowed_values() -> None:
    spec = one({"check": "allowed_values", "column": "gear", "values": [1, 2, "N"]})
    assert isinstance(spec.params, AllowedValuesCheck)
    assert spec.params.values == [1, 2, "N"]
    assert spec.describe() == "allowed_values(gear)"


def test_regex() -> None:
    spec = one({"check": "regex", "column": "vin", "pattern": r"^[A-Z0-9]{17}$"})
    assert isinstance(spec.params, RegexCheck)
    assert spec.params.pattern == r"^[A-Z0-9]{17}$"


def test_row_count() -> None:
    spec = one({"check": "row_count", "min": 10, "max": 1000})
    assert isinstance(spec.params, RowCountCheck)
    assert (spec.params.min, spec.params.max) == (10, 1000)
    assert spec.describe() == "row_count"
    assert spec.references == ()


def test_row_count_without_bounds_is_allowed() -> None:
    spec = one({"check": "row_count"})
    assert spec.params.min is None and spec.params.max is None


def test_monotonic_defaults_to_strict_without_gap_limit() -> None:
    spec = one({"check": "monotonic", "column": "t_s"})
    assert isinstance(spec.params, MonotonicCheck)
    assert spec.params.strict is True
    assert spec.params.max_gap is None
    spec = one({"check": "monotonic", "column": "t_s", "strict": False, "max_gap": 5.0})
    assert spec.params.strict is False
    assert spec.params.max_gap == 5.0


def test_stuck() -> None:
    spec = one({"check": "stuck", "column": "ax", "max_repeats": 100})
    assert isinstance(spec.params, StuckCheck)
    assert spec.params.max_repeats == 100


def test_referential_names_its_reference() -> None:
    spec = one({"check": "referential", "column": "trip_id", "reference": "trips"})
    assert isinstance(spec.params, ReferentialCheck)
    assert spec.params.reference_column is None
    assert spec.references == ("trips",)
    spec = one(
        {"check": "referential", "column": "trip", "reference": "trips", "reference_column": "id"}
    )
    assert spec.params.reference_column == "id"


def test_drift_defaults_and_limits() -> None:
    spec = one({"check": "drift", "column": "speed_mps", "reference": "baseline"})
    assert isinstance(spec.params, DriftCheck)
    assert spec.params.method == "psi"
    assert spec.params.bins == 10
    assert spec.params.limit == 0.2
    assert spec.references == ("baseline",)
    ks = one({"check": "drift", "column": "x", "reference": "b", "method": "ks"})
    assert ks.params.limit == 0.1
    custom = one({"check": "drift", "column": "x", "reference": "b", "threshold": 0.5, "bins": 20})
    assert custom.params.limit == 0.5
    assert custom.params.bins == 20


def test_severity_and_tolerance_defaults_and_values() -> None:
    spec = one({"check": "not_null", "column": "x"})
    assert spec.severity == "error"
    assert spec.params.tolerance == 0.0
    spec = one({"check": "not_null", "column": "x", "severity": "warn", "tolerance": 1})
    assert spec.severity == "warn"
    assert spec.params.tolerance == 1.0
    assert one({"check": "not_null", "column": "x", "tolerance": 0}).params.tolerance == 0.0


def test_where_names_the_index_of_each_check() -> None:
    specs = parse_checks(
        [{"check": "unique", "column": "t_s"}, {"check": "monotonic", "column": "t_s"}],
        where=WHERE,
    )
    assert [s.where for s in specs] == [f"{WHERE}[0]", f"{WHERE}[1]"]
    assert [s.name for s in specs] == ["unique", "monotonic"]


def test_empty_list_gives_no_checks() -> None:
    assert parse_checks([], where=WHERE) == ()


def test_as_dict_round_trips_through_parse_checks() -> None:
    items = [
        {"check": "schema", "columns": {"a": "float"}},
        {"check": "not_null", "columns": ["a", "b"], "severity": "warn"},
        {"check": "range", "column": "a", "min": 0, "max": 1, "tolerance": 0.1},
        {"check": "allowed_values", "column": "a", "values": [1, 2]},
        {"check": "regex", "column": "a", "pattern": "^x"},
        {"check": "row_count", "min": 1},
        {"check": "monotonic", "column": "a", "max_gap": 2},
        {"check": "stuck", "column": "a", "max_repeats": 3},
        {"check": "referential", "column": "a", "reference": "r"},
        {"check": "drift", "column": "a", "reference": "r", "method": "ks"},
        {"check": "regex", "column": "a", "pattern": "x", "match": "search"},
        {"check": "monotonic", "column": "a", "max_gap": "250ms"},
        {"check": "compare", "column": "a", "op": "<=", "other": "b"},
        {"check": "compare", "column": "a", "op": "!=", "value": "x"},
        {"check": "constant", "column": "a"},
        {"check": "constant", "column": "a", "value": 3},
        {
            "check": "range",
            "column": "a",
            "min": 0,
            "where": {"any": [{"column": "b", "in": [1, 2]}, {"column": "c", "is": None}]},
        },
    ]
    specs = parse_checks(items, where=WHERE)
    again = parse_checks([s.as_dict() for s in specs], where=WHERE)
    assert [s.params for s in again] == [s.params for s in specs]


def test_specs_are_frozen() -> None:
    spec = one({"check": "range", "column": "x", "min": 0})
    with pytest.raises(ValidationError, match="frozen"):
        spec.params.min = 5  # type: ignore[misc]


# -- errors ----------------------------------------------------------------------------


def test_unknown_check_suggests_the_closest() -> None:
    message = error_of([{"check": "rnage", "column": "x", "min": 1}])
    assert message.startswith(f"{WHERE}[0]: unknown check 'rnage'")
    assert "did you mean 'range'?" in message
    assert "(checks: schema, not_null, unique, range" in message


def test_unknown_check_without_close_match_lists_all_checks() -> None:
    message = error_of([{"check": "not_null", "column": "a"}, {"check": "foo"}])
    assert f"{WHERE}[1]: unknown check 'foo'" in message
    assert "did you mean" not in message
    assert all(name in message for name in MODELS)


@pytest.mark.parametrize("name", [3, None, ["range"]])
def test_check_name_that_is_not_a_string(name: Any) -> None:
    with pytest.raises(ConfigError, match=r"\[0\]: unknown check"):
        parse_checks([{"check": name}], where=WHERE)


def test_unknown_optional_parameter_suggests_the_closest() -> None:
    with pytest.raises(
        ConfigError,
        match=re.escape(
            f"{WHERE}[0]: check 'range' has no parameter 'max_inclusiv'; "
            "did you mean 'max_inclusive'?"
        ),
    ):
        parse_checks(
            [{"check": "range", "column": "x", "min": 1, "max_inclusiv": False}], where=WHERE
        )


def test_misspelt_severity_suggests_severity() -> None:
    with pytest.raises(ConfigError, match="has no parameter 'severty'; did you mean 'severity'"):
        parse_checks([{"check": "not_null", "column": "x", "severty": "warn"}], where=WHERE)


def test_unknown_parameter_without_close_match_lists_the_parameters() -> None:
    message = error_of([{"check": "range", "column": "x", "min": 1, "zzz": 1}])
    assert "check 'range' has no parameter 'zzz'" in message
    assert (
        "(parameters: severity, tolerance, where, column, min, max, min_inclusive, max_inclusive)"
        in message
    )


def test_parameter_list_of_column_checks_offers_column_not_only_columns() -> None:
    message = error_of([{"check": "unique", "columns": ["a"], "qqqqq": 1}])
    assert "has no parameter 'qqqqq'" in message
    assert "column" in message.split("parameters:")[1]


def test_misspelt_required_parameter_is_named_with_a_suggestion() -> None:
    # 'colum' is a typo of the required 'column': the message must name the typo and
    # suggest the right name, not only say that 'column' is missing.
    message = error_of([{"check": "range", "colum": "speed_mps", "min": 0}])
    assert "has no parameter 'colum'" in message
    assert "did you mean 'column'?" in message


def test_misspelt_column_shorthand_is_named_with_a_suggestion() -> None:
    message = error_of([{"check": "not_null", "colum": "speed_mps"}])
    assert "has no parameter 'colum'" in message
    assert "did you mean 'column'?" in message


def test_column_and_columns_together_give_a_sensible_message() -> None:
    message = error_of([{"check": "not_null", "column": "x", "columns": ["y"]}])
    assert "columns" in message
    # suggesting the very name that was written is no help
    assert "has no parameter 'column'; did you mean 'column'" not in message


def test_missing_required_parameter_is_named() -> None:
    with pytest.raises(ConfigError, match=r"check 'stuck': max_repeats: Field required"):
        parse_checks([{"check": "stuck", "column": "ax"}], where=WHERE)
    with pytest.raises(ConfigError, match=r"check 'referential': reference: Field required"):
        parse_checks([{"check": "referential", "column": "x"}], where=WHERE)
    with pytest.raises(ConfigError, match=r"check 'unique': columns: Field required"):
        parse_checks([{"check": "unique"}], where=WHERE)


@pytest.mark.parametrize(
    ("item", "pattern"),
    [
        (
            {"check": "range", "column": "x", "min": "abc"},
            r"check 'range': min: 'abc' is not a number \(write it without quotes",
        ),
        ({"check": "range", "column": ["x"], "min": 1}, r"check 'range': column: .*valid string"),
        (
            {"check": "monotonic", "column": "t", "strict": "maybe"},
            r"check 'monotonic': strict: .*valid boolean",
        ),
        (
            {"check": "stuck", "column": "ax", "max_repeats": 2.5},
            r"check 'stuck': max_repeats: .*valid integer",
        ),
        ({"check": "schema", "columns": ["a"]}, r"check 'schema': columns: .*valid dictionary"),
        (
            {"check": "schema", "columns": {"a": 5}},
            r"check 'schema': columns\.a: .*valid string",
        ),
        (
            {"check": "allowed_values", "column": "x", "values": "abc"},
            r"check 'allowed_values': values: .*valid list",
        ),
        (
            {"check": "not_null", "column": "x", "tolerance": "lots"},
            r"check 'not_null': tolerance: .*valid number",
        ),
    ],
)
def test_wrong_types_name_the_parameter(item: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ConfigError, match=rf"{re.escape(WHERE)}\[0\]: {pattern}"):
        parse_checks([item], where=WHERE)


@pytest.mark.parametrize(
    ("item", "pattern"),
    [
        ({"check": "not_null", "columns": []}, r"columns: List should have at least 1 item"),
        ({"check": "schema", "columns": {}}, r"columns: Dictionary should have at least 1 item"),
        ({"check": "allowed_values", "column": "x", "values": []}, r"values: List should have"),
        (
            {"check": "stuck", "column": "x", "max_repeats": 0},
            r"max_repeats: .*greater than or equal to 1",
        ),
        ({"check": "monotonic", "column": "x", "max_gap": 0}, r"max_gap: .*greater than 0"),
        ({"check": "row_count", "min": -1}, r"min: .*greater than or equal to 0"),
        (
            {"check": "drift", "column": "x", "reference": "r", "bins": 1},
            r"bins: .*greater than or equal to 2",
        ),
        (
            {"check": "drift", "column": "x", "reference": "r", "method": "chi2"},
            r"method: Input should be 'psi' or 'ks'",
        ),
        (
            {"check": "drift", "column": "x", "reference": "r", "threshold": 0},
            r"threshold: .*greater than 0",
        ),
    ],
)
def test_out_of_bounds_values(item: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        parse_checks([item], where=WHERE)


def test_range_without_bounds() -> None:
    with pytest.raises(
        ConfigError, match=re.escape(f"{WHERE}[0]: check 'range'") + r".*give min, max or both"
    ):
        parse_checks([{"check": "range", "column": "x"}], where=WHERE)


def test_range_with_min_above_max() -> None:
    with pytest.raises(
        ConfigError, match=r"check 'range'.*min 5(\.0)? is greater than max 1(\.0)?"
    ):
        parse_checks([{"check": "range", "column": "x", "min": 5, "max": 1}], where=WHERE)


def test_invalid_regex_names_the_pattern_and_the_reason() -> None:
    with pytest.raises(
        ConfigError, match=r"check 'regex'.*pattern '\(' is not a valid regex: missing \)"
    ):
        parse_checks([{"check": "regex", "column": "x", "pattern": "("}], where=WHERE)


def test_bad_severity() -> None:
    with pytest.raises(
        ConfigError, match=r"check 'not_null': severity: Input should be 'error' or 'warn'"
    ):
        parse_checks([{"check": "not_null", "column": "x", "severity": "fatal"}], where=WHERE)


@pytest.mark.parametrize(
    ("tolerance", "pattern"),
    [(1.5, "less than or equal to 1"), (-0.1, "greater than or equal to 0")],
)
def test_tolerance_outside_zero_one(tolerance: float, pattern: str) -> None:
    with pytest.raises(ConfigError, match=rf"check 'not_null': tolerance: .*{pattern}"):
        parse_checks([{"check": "not_null", "column": "x", "tolerance": tolerance}], where=WHERE)


@pytest.mark.parametrize(
    ("raw", "kind"),
    [({"check": "not_null"}, "dict"), ("not_null", "str"), (None, "NoneType"), (3, "int")],
)
def test_checks_that_are_not_a_list(raw: Any, kind: str) -> None:
    with pytest.raises(
        ConfigError,
        match=re.escape(f"{WHERE}: checks must be a list of mappings, got {kind}"),
    ):
        parse_checks(raw, where=WHERE)


@pytest.mark.parametrize("item", [{"column": "x"}, "not_null", ["not_null"], None])
def test_item_without_check_key(item: Any) -> None:
    with pytest.raises(
        ConfigError,
        match=re.escape(f"{WHERE}[1]: a check is a mapping with a 'check' key, e.g. {{check:"),
    ):
        parse_checks([{"check": "unique", "column": "t_s"}, item], where=WHERE)


def test_errors_are_one_line() -> None:
    message = error_of([{"check": "regex", "column": "x", "pattern": "(["}])
    assert "\n" not in message


# -- checks_by_source ------------------------------------------------------------------

GATE = "cases/demo/case.yaml:58 (pipeline[2].params.checks)"


def test_checks_by_source_parses_each_list_with_its_own_where() -> None:
    result = checks_by_source(
        {
            "aligned": [{"check": "monotonic", "column": "t_s"}],
            "imu_raw": [
                {"check": "stuck", "column": "ax", "max_repeats": 100},
                {"check": "not_null", "column": "ax"},
            ],
        },
        where=GATE,
        known_sources=["aligned", "imu_raw", "wheel"],
    )
    assert list(result) == ["aligned", "imu_raw"]
    assert [s.name for s in result["imu_raw"]] == ["stuck", "not_null"]
    assert result["imu_raw"][1].where == f"{GATE}.imu_raw[1]"


def test_checks_by_source_without_known_sources_accepts_any_name() -> None:
    result = checks_by_source(
        {"anything": [{"check": "row_count", "min": 1}]}, where=GATE, known_sources=()
    )
    assert list(result) == ["anything"]


def test_checks_by_source_unknown_source_suggests_the_closest() -> None:
    with pytest.raises(
        ConfigError, match=re.escape(f"{GATE}: no data source 'alinged'; did you mean 'aligned'?")
    ):
        checks_by_source(
            {"alinged": [{"check": "not_null", "column": "x"}]},
            where=GATE,
            known_sources=["aligned", "wheel"],
        )


def test_checks_by_source_unknown_source_without_close_match() -> None:
    with pytest.raises(ConfigError, match=r"no data source 'zzz'$"):
        checks_by_source({"zzz": []}, where=GATE, known_sources=["aligned"])


@pytest.mark.parametrize("raw", [{}, [], None, "aligned", [{"check": "not_null"}]])
def test_checks_by_source_needs_a_non_empty_mapping(raw: Any) -> None:
    with pytest.raises(ConfigError, match="checks must map data-source names to lists of checks"):
        checks_by_source(raw, where=GATE, known_sources=())


def test_checks_by_source_reports_errors_inside_a_source_list() -> None:
    with pytest.raises(ConfigError, match=re.escape(f"{GATE}.aligned[1]: unknown check 'not_nul'")):
        checks_by_source(
            {"aligned": [{"check": "unique", "column": "t_s"}, {"check": "not_nul"}]},
            where=GATE,
            known_sources=(),
        )
    with pytest.raises(ConfigError, match=re.escape(f"{GATE}.aligned: checks must be a list")):
        checks_by_source({"aligned": {"check": "unique"}}, where=GATE, known_sources=())


def test_checks_by_source_non_string_source_name_is_a_config_error() -> None:
    # YAML turns a key like `1:` into an int; that must be a ConfigError, not a TypeError.
    with pytest.raises(ConfigError, match="data-source names must be text, got 1"):
        checks_by_source(
            {1: [{"check": "not_null", "column": "x"}]}, where=GATE, known_sources=["aligned"]
        )


# -- rules across columns and rows ------------------------------------------------------


def test_compare_takes_another_column_or_a_value() -> None:
    spec = one({"check": "compare", "column": "temp_min", "op": "<=", "other": "temp_max"})
    assert isinstance(spec.params, CompareCheck)
    assert spec.describe() == "compare(temp_min <= temp_max)"
    assert spec.columns == ("temp_min", "temp_max")
    assert spec.as_dict() == {
        "check": "compare",
        "severity": "error",
        "tolerance": 0.0,
        "column": "temp_min",
        "op": "<=",
        "other": "temp_max",
    }
    valued = one({"check": "compare", "column": "speed", "op": ">=", "value": 0})
    assert valued.describe() == "compare(speed >= 0)"
    assert one({"check": "compare", "column": "g", "op": "==", "value": "D"}).describe() == (
        "compare(g == 'D')"
    )


def test_constant_with_and_without_a_value() -> None:
    spec = one({"check": "constant", "column": "station"})
    assert isinstance(spec.params, ConstantCheck)
    assert spec.params.value is None
    assert "value" not in spec.as_dict()
    assert one({"check": "constant", "column": "station", "value": "SEA"}).params.value == "SEA"


def test_where_is_part_of_the_name_and_its_columns_are_named() -> None:
    spec = one(
        {
            "check": "range",
            "column": "temp_max",
            "max": 5,
            "where": {"all": [{"column": "weather", "==": "snow"}, {"column": "t", "is": None}]},
        }
    )
    assert spec.describe() == "range(temp_max) where weather == 'snow' and t is null"
    assert spec.columns == ("temp_max", "weather", "t")
    assert one({"check": "row_count", "min": 1}).params.where is None


def test_regex_match_mode_is_checked() -> None:
    assert one({"check": "regex", "column": "x", "pattern": "a"}).params.match == "full"
    with pytest.raises(ConfigError, match=r"check 'regex': match: Input should be 'full', "):
        parse_checks(
            [{"check": "regex", "column": "x", "pattern": "a", "match": "all"}], where=WHERE
        )
