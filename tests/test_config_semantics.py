"""Configuration means what it says: YAML 1.2 values, exact ``--set`` values, quoting hints.

The pitfalls here are the ones users of YAML-configured tools meet in practice: Norway's
country code read as ``False``, a shift end ``17:45`` read as the integer 1065, ``1e-5``
left as text, a firmware version ``2.10`` interpolated as ``2.1``, and a ``--set`` value
cut short at a ``#``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_mini_project
from datareplay.config.overrides import Override
from datareplay.config.safe_yaml import parse_yaml, plain_scalar
from datareplay.errors import ConfigError

# -- YAML 1.2 core schema: how common values are read --------------------------------------

READ_AS = [
    # (written, value, why it matters)
    ("[SE, NO, DK, FI]", ["SE", "NO", "DK", "FI"], "YAML 1.1 read NO as False"),
    ("yes", "yes", "YAML 1.1 boolean"),
    ("off", "off", "YAML 1.1 boolean"),
    ("y", "y", "YAML 1.1 boolean"),
    ("true", True, "the only booleans: true/false"),
    ("False", False, "in any of the three spellings"),
    ("TRUE", True, ""),
    ("17:45", "17:45", "YAML 1.1 read 1065 (sexagesimal)"),
    ("12:30:00", "12:30:00", ""),
    ("2024-05-01", "2024-05-01", "a date stays text"),
    ("1e-5", 1e-5, "YAML 1.1 left this as text"),
    ("1E3", 1000.0, ""),
    ("2.10", 2.1, "a float; its text is kept for interpolation"),
    (".5", 0.5, ""),
    ("-.inf", -math.inf, ""),
    ("0o17", 15, "octal needs 0o"),
    ("017", 17, "a leading zero is decimal"),
    ("0x1F", 31, ""),
    ("1_000", "1_000", "no digit separators in YAML 1.2"),
    ("+12", 12, ""),
    ("~", None, ""),
    ("null", None, ""),
    ("", None, ""),
    ("None", "None", "Python's spelling is text"),
    ("0b101", "0b101", "no binary in the core schema"),
    ('"NO"', "NO", "quoted text is always text"),
]


@pytest.mark.parametrize(
    ("written", "expected", "why"), READ_AS, ids=[r[0] or "empty" for r in READ_AS]
)
def test_yaml_values_are_read_by_the_core_schema(written: str, expected: Any, why: str) -> None:
    value = parse_yaml(f"a: {written}\n".encode(), source="f.yaml").data["a"]
    assert value == expected, why
    assert type(value) is type(expected)


@pytest.mark.parametrize("text", ["1e400", "-1e999"])
def test_floats_beyond_the_float_range_are_refused_not_made_infinite(text: str) -> None:
    with pytest.raises(ConfigError, match=r"is too large for a float; write -?\.inf"):
        parse_yaml(f"a: {text}\n".encode(), source="f")
    with pytest.raises(ConfigError, match=r"^--set a: .* too large for a float"):
        Override.parse(f"a={text}")


def test_a_yaml_1_1_directive_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^f:1: configuration is read as YAML 1\.2; remove"):
        parse_yaml(b"%YAML 1.1\n---\na: yes\n", source="f")
    assert parse_yaml(b"%YAML 1.2\n---\na: yes\n", source="f").data == {"a": "yes"}


def test_nan_is_a_float() -> None:
    assert math.isnan(parse_yaml(b"a: .nan\n", source="f").data["a"])


def test_written_text_is_kept_for_numbers_booleans_and_nulls() -> None:
    doc = parse_yaml(b"a: 2.10\nb: [0x1F, TRUE, ~]\nc: text\n", source="f")
    assert doc.texts == {("a",): "2.10", ("b", 0): "0x1F", ("b", 1): "TRUE", ("b", 2): "~"}


def test_number_keys_keep_their_spelling() -> None:
    assert parse_yaml(b"017: a\n0x10: b\nNO: c\n", source="f").data == {
        "017": "a",
        "0x10": "b",
        "NO": "c",
    }


def test_merge_keys_keep_the_written_text_of_what_they_bring() -> None:
    doc = parse_yaml(b"base: &b {v: 2.10, w: 1.50}\nuse:\n  <<: *b\n  w: 3\n", source="f")
    assert doc.data["use"] == {"w": 3, "v": 2.1}
    assert doc.texts[("use", "v")] == "2.10"
    assert doc.texts[("use", "w")] == "3"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!int abc\n", r"^f:1:4: a: cannot read the value: 'abc' is not an integer"),
        ("a: !!bool yes\n", r"'yes' is not a boolean \(only true or false\)"),
        ("a: !!float x\n", r"'x' is not a number"),
    ],
)
def test_explicit_tags_must_hold_a_value_of_their_type(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_yaml(text.encode(), source="f")


# -- --set: the value is everything after the first '=' ------------------------------------

SET_VALUES = [
    ("run #3 wet road", "run #3 wet road"),
    ("@night", "@night"),
    ("a: b", "a: b"),
    ("- x", "- x"),
    ("x=y", "x=y"),
    ("*alias", "*alias"),
    ("&anchor", "&anchor"),
    ("%x", "%x"),
    ("|", "|"),
    ("17:45", "17:45"),
    ("NO", "NO"),
    ("1_000", "1_000"),
    ("2.10", 2.1),
    ("1e-5", 1e-5),
    ("0o17", 15),
    ("true", True),
    ("", None),
    ("null", None),
    (" 3 ", 3),
    ("[SE, NO]", ["SE", "NO"]),
    ("{k: 1.50}", {"k": 1.5}),
    ('"x # y"', "x # y"),
    ("'0.8'", "0.8"),
    ('"17:45"', "17:45"),
]


@pytest.mark.parametrize(("written", "expected"), SET_VALUES)
def test_set_values_are_typed_but_never_cut_short(written: str, expected: Any) -> None:
    value = Override.parse(f"pipeline.TagRun.params.label={written}").value
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("written", "kind", "problem"),
    [
        ("[1, 2", "a list", "did not find expected ',' or ']'"),
        ("[1, 2] # note", "a list", "text after the value would be ignored: '# note'"),
        ("{a: 1} extra", "a mapping", "did not find expected <document start>"),
        ('"abc', "a quoted text", "found unexpected end of stream"),
        ('"abc" # c', "a quoted text", "text after the value would be ignored"),
    ],
)
def test_set_values_that_start_structured_must_be_whole(
    written: str, kind: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as info:
        Override.parse(f"vars.x={written}")
    message = str(info.value)
    assert message.startswith("--set vars.x: ")
    assert problem in message
    assert f"starts like {kind} but is not one whole value" in message
    quoted = written if '"' not in written else "..."
    assert message.endswith(f"quote it: --set 'vars.x=\"{quoted}\"'")
    assert "\n" not in message


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40))
def test_set_value_is_the_text_as_written_or_its_yaml_value(text: str) -> None:
    if text.strip().startswith(("[", "{", '"', "'")):
        return  # structured values: covered by the tables above
    try:
        value = Override.parse(f"k={text}").value
    except ConfigError:  # only what a file refuses too (a float beyond the float range)
        with pytest.raises(ConfigError):
            parse_yaml(f"k: {text.strip()}\n".encode(), source="f")
        return
    if isinstance(value, str):
        assert value == text  # never trimmed, cut at '#' or half-parsed
    else:  # a number, boolean or null: exactly what YAML 1.2 reads from the text alone
        expected = parse_yaml(f"k: {text.strip()}\n".encode(), source="f").data["k"]
        assert value == expected or (value != value and expected != expected)


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False) | st.integers(min_value=-(10**30), max_value=10**30))
def test_numbers_read_back_as_written(number: float) -> None:
    written = repr(number)
    if written in ("inf", "-inf"):
        written = written.replace("inf", ".inf")
    doc = parse_yaml(f"a: {written}\n".encode(), source="f")
    assert doc.data["a"] == number
    assert doc.texts[("a",)] == written
    assert plain_scalar(written) == number


# -- end to end: interpolation, type errors, global options -----------------------------

PLUGINS = '''
"""Plugins for the configuration-semantics tests."""
from __future__ import annotations

import pandas as pd

from datareplay import BasePlugin, Param


class TagRun(BasePlugin):
    """Write the run's label, shift end and country list as one row."""

    outputs = {"out": "the tagged run"}
    label = Param("", "a label")
    shift_end = Param("", "when the shift ends, HH:MM")
    countries = Param([], "country codes")
    threshold = Param(0.0, "a threshold")

    def run(self, hub):
        hub["out"] = pd.DataFrame(
            {
                "label": [self.label],
                "shift_end": [self.shift_end],
                "countries": [",".join(map(str, self.countries))],
                "threshold": [self.threshold],
            }
        )
'''

CASE = """\
vars:
  firmware: 2.10
  version: ${vars.firmware}
data_sources:
  tagged:
    path: data/fw_${vars.version}/tagged_${vars.firmware}.csv
    format: csv
pipeline:
  - plugin: TagRun
    outputs: {out: tagged}
    params:
      label: wet road
      shift_end: 17:45
      countries: [SE, NO, DK, FI]
      threshold: 1e-5
"""


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    root = make_mini_project(tmp_path / "mini", PLUGINS)
    (root / "cases" / "tag").mkdir()
    (root / "cases" / "tag" / "case.yaml").write_text(CASE)
    return root


def test_values_reach_the_plugin_as_written(mini: Path, cli: Any) -> None:
    result = cli(mini, "pipeline", "--case", "tag")
    assert result.code == 0, result.err
    written = mini / "data" / "fw_2.10" / "tagged_2.10.csv"
    assert written.is_file(), sorted(p.name for p in (mini / "data").iterdir())
    row = pd.read_csv(written, dtype=str).iloc[0]
    assert row["shift_end"] == "17:45"
    assert row["countries"] == "SE,NO,DK,FI"
    assert float(row["threshold"]) == 1e-5


def test_set_value_with_a_hash_reaches_the_plugin_whole(mini: Path, cli: Any) -> None:
    result = cli(
        mini, "pipeline", "--case", "tag", "--set", "pipeline.TagRun.params.label=run #3 wet road"
    )
    assert result.code == 0, result.err
    row = pd.read_csv(mini / "data" / "fw_2.10" / "tagged_2.10.csv", dtype=str).iloc[0]
    assert row["label"] == "run #3 wet road"


def test_type_error_from_a_file_quotes_what_was_written(mini: Path, cli: Any) -> None:
    case = mini / "cases" / "tag" / "case.yaml"
    case.write_text(case.read_text().replace("label: wet road", "label: 2.10"))
    result = cli(mini, "validate", "--case", "tag")
    assert result.code == 2
    assert result.err == (
        "error: cases/tag/case.yaml:12 (pipeline[0].params.label): param 'label' must be str, "
        'got float 2.1 (written 2.10); to keep it as text, quote it: label: "2.10"\n'
    )


def test_type_error_from_set_shows_the_quoted_command_line(mini: Path, cli: Any) -> None:
    result = cli(mini, "validate", "--case", "tag", "--set", "pipeline.TagRun.params.label=0x1F")
    assert result.code == 2
    assert (
        "param 'label' must be str, got int 31 (written 0x1F); to keep it as text, quote it: "
        "--set 'pipeline.TagRun.params.label=\"0x1F\"'" in result.err
    )
    assert result.err.count("\n") == 1


def test_schema_type_error_quotes_what_was_written(mini: Path, cli: Any) -> None:
    result = cli(mini, "validate", "--case", "tag", "--set", "description=TRUE")
    assert result.code == 2
    assert result.err == (
        "error: --set description: description: Input should be a valid string (got True) "
        "(written TRUE); to keep it as text, quote it: --set 'description=\"TRUE\"'\n"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "--case", "tag", "--project", "{root}"],
        ["validate", "--project", "{root}", "--case", "tag"],
        ["config", "--case", "tag", "--project", "{root}"],
        ["plugins", "--project={root}"],
        ["describe", "TagRun", "--project", "{root}", "--debug"],
        ["--project", "/nonexistent", "validate", "--case", "tag", "--project", "{root}"],
    ],
)
def test_global_options_work_after_the_command_name(
    mini: Path, tmp_path: Path, cli: Any, args: list[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = cli(elsewhere, *[arg.replace("{root}", str(mini)) for arg in args])
    assert result.code == 0, result.err


def test_debug_after_the_command_name_shows_the_traceback(mini: Path, cli: Any) -> None:
    (mini / "cases" / "tag" / "case.yaml").write_text(CASE.replace("TagRun", "Nothing"))
    quiet = cli(mini, "validate", "--case", "tag")
    loud = cli(mini, "validate", "--case", "tag", "--debug")
    assert quiet.code == loud.code == 2
    assert "Traceback" not in quiet.err
    assert "Traceback" in loud.err


# -- what a new user ran into -------------------------------------------------------------


def test_set_mapping_merges_into_the_mapping_below(mini: Path, cli: Any) -> None:
    (mini / "config" / "global.yaml").write_text("data:\n  case_folder: out\n")
    result = cli(mini, "config", "--case", "tag", "--set", "data={default_format: csv}")
    assert result.code == 0, result.err
    assert "case_folder: out  # config/global.yaml:2" in result.out
    assert "default_format: csv  # --set data" in result.out
    step = cli(mini, "config", "--case", "tag", "--set", "pipeline.TagRun.params={label: x}")
    assert "shift_end: 17:45" in step.out or "shift_end: '17:45'" in step.out
    assert "label: x  # --set pipeline.TagRun.params" in step.out


TRICKY_TEXT = ["0o17", "1e-5", "08", "1E3", "0.e5", ".inf", "true", "null", "~", "", "NO", "17:45"]


def test_config_output_reads_back_as_the_same_values(mini: Path, cli: Any) -> None:
    import yaml

    values = "".join(f'  t{i}: "{text}"\n' for i, text in enumerate(TRICKY_TEXT))
    case = mini / "cases" / "tag" / "case.yaml"
    case.write_text(case.read_text().replace("vars:\n", "vars:\n" + values, 1))
    result = cli(mini, "config", "--case", "tag")
    assert result.code == 0, result.err
    shown = parse_yaml(result.out.encode(), source="out").data["vars"]
    assert [shown[f"t{i}"] for i in range(len(TRICKY_TEXT))] == TRICKY_TEXT
    assert yaml.safe_load(result.out)["vars"]["t0"] == "0o17"


def test_config_json_writes_infinities_as_their_yaml_spelling(mini: Path, cli: Any) -> None:
    import json

    result = cli(
        mini,
        "config",
        "--case",
        "tag",
        "--json",
        "--set",
        "+vars.big=.inf",
        "--set",
        "+vars.n=.nan",
    )
    assert result.code == 0, result.err
    assert "Infinity" not in result.out and "NaN" not in result.out
    assert json.loads(result.out)["config"]["vars"]["big"] == ".inf"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "pipeline.TagRun.params.threshold=1" + "0" * 2000,
            "a number of 2,001 characters is too long (at most 1,000)",
        ),
        ("vars.firmware=a\x1b[31m", "control character U+001B at position 2 of the value"),
        ("pipeline.TagRun.params.lab\nel=1", "control character U+000A at position 27 of the key"),
        ("vars={a: 1, a: 2}", "duplicate key 'a'"),
        ("data.xyz=1", "unknown key 'data.xyz' (allowed: default_format, case_folder,"),
    ],
)
def test_bad_set_values_are_one_line_usage_errors(
    mini: Path, cli: Any, setting: str, message: str
) -> None:
    result = cli(mini, "validate", "--case", "tag", "--set", setting)
    assert result.code == 2
    assert message in result.err
    assert result.err.count("\n") == 1, result.err
    assert "is not one whole value" not in result.err  # only for values left unfinished
    assert "write +data.xyz" not in result.err  # a schema section takes no new keys


def test_quote_hint_inside_a_list_points_at_the_item(mini: Path, cli: Any) -> None:
    result = cli(
        mini, "validate", "--case", "tag", "--set", "+vars.label=[2.10]",
        "--set", "pipeline.TagRun.params.label=${vars.label.0}",
    )  # fmt: skip
    assert result.code == 2
    assert "(written 2.10 in vars.label[0] at --set vars.label)" in result.err
    assert 'quote it: "2.10" where it is written' in result.err


def test_quote_hint_follows_a_whole_reference_to_where_the_value_is_written(
    mini: Path, cli: Any
) -> None:
    case = mini / "cases" / "tag" / "case.yaml"
    case.write_text(case.read_text().replace("label: wet road", 'label: "${vars.firmware}"'))
    result = cli(mini, "validate", "--case", "tag")
    assert result.code == 2
    assert (
        "param 'label' must be str, got float 2.1 (written 2.10 in vars.firmware at "
        'cases/tag/case.yaml:2); to keep it as text, quote it: firmware: "2.10"' in result.err
    )


def test_yaml11_booleans_get_a_yaml12_hint(mini: Path, cli: Any) -> None:
    result = cli(mini, "validate", "--case", "tag", "--set", "run.release_memory=off")
    assert result.code == 2
    assert "only true and false are booleans in YAML 1.2 (off is text): write false" in result.err


def test_merge_keys_give_values_and_lines_of_the_first_mapping_named() -> None:
    text = b"a: &a {x: 1}\nb: &b {x: 2, z: 3}\nm:\n  <<: [*a, *b]\n"
    doc = parse_yaml(text, source="f")
    assert doc.data["m"] == {"x": 1, "z": 3}
    assert doc.where(("m", "x")) == "f:1"
    assert doc.where(("m", "z")) == "f:2"
    with pytest.raises(ConfigError, match="duplicate key '<<'"):
        parse_yaml(b"a: &a {x: 1}\nm:\n  <<: *a\n  <<: *a\n", source="f")
