"""Unit tests of datareplay.config.safe_yaml: plain values only, line tracking, hard limits."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datareplay.config.merged import render_yaml
from datareplay.config.safe_yaml import (
    MAX_BYTES,
    MAX_DEPTH,
    YamlDocument,
    format_path,
    load_yaml,
    parse_yaml,
)
from datareplay.errors import ConfigError


def parse(text: str | bytes, source: str = "f.yaml") -> YamlDocument:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return parse_yaml(raw, source=source)


def refused(text: str | bytes, source: str = "f.yaml") -> str:
    """Parse ``text``, expect a ConfigError, return its message."""
    with pytest.raises(ConfigError) as info:
        parse(text, source)
    return str(info.value)


# -- plain values ----------------------------------------------------------------------


def test_plain_values_load_as_python_values() -> None:
    doc = parse(
        "s: text\n"
        "q: 'quoted'\n"
        "i: 42\n"
        "neg: -7\n"
        "f: 2.5\n"
        "exp: 1.0e+3\n"
        "t: true\n"
        "n: null\n"
        "tilde: ~\n"
        "seq: [1, two, 3.0]\n"
        "nested:\n"
        "  deeper:\n"
        "    - a\n"
        "    - {k: v}\n"
    )
    assert doc.data == {
        "s": "text",
        "q": "quoted",
        "i": 42,
        "neg": -7,
        "f": 2.5,
        "exp": 1000.0,
        "t": True,
        "n": None,
        "tilde": None,
        "seq": [1, "two", 3.0],
        "nested": {"deeper": ["a", {"k": "v"}]},
    }
    assert type(doc.data["i"]) is int
    assert type(doc.data["t"]) is bool
    assert doc.source == "f.yaml"


def test_top_level_sequence_and_scalar_are_returned_as_is() -> None:
    assert parse("- 1\n- 2\n").data == [1, 2]
    assert parse("hello\n").data == "hello"


def test_explicit_plain_tags_are_allowed() -> None:
    doc = parse("a: !!str 12\nb: !!int '7'\nc: !!float 1\nd: !!bool true\ne: !!null ''\n")
    assert doc.data == {"a": "12", "b": 7, "c": 1.0, "d": True, "e": None}


def test_empty_file_gives_data_none() -> None:
    doc = parse(b"")
    assert doc.data is None
    assert doc.lines == {}


def test_comment_only_file_gives_data_none() -> None:
    assert parse("# nothing here\n\n").data is None


def test_dates_and_timestamps_stay_strings() -> None:
    doc = parse("d: 2024-01-02\nt: 2024-01-02 03:04:05\nz: 2001-12-14t21:59:43.10-05:00\n")
    assert doc.data == {
        "d": "2024-01-02",
        "t": "2024-01-02 03:04:05",
        "z": "2001-12-14t21:59:43.10-05:00",
    }
    assert all(isinstance(v, str) for v in doc.data.values())


def test_numeric_keys_become_strings() -> None:
    assert parse("1: one\n2.x: two\n").data == {"1": "one", "2.x": "two"}


@pytest.mark.parametrize("key", ["true", "null", "1.5"])
def test_boolean_null_and_float_keys_are_refused(key: str) -> None:
    message = refused(f"{key}: x\n")
    assert message.startswith("f.yaml:1:1:")
    assert "must be a string" in message


def test_complex_keys_are_refused() -> None:
    message = refused("? [a, b]\n: c\n")
    assert "mapping keys must be plain" in message


# -- line numbers ------------------------------------------------------------------------


def test_line_numbers_are_recorded_for_every_key_path() -> None:
    doc = parse(
        "project:\n"  # 1
        "  name: demo\n"  # 2
        "\n"  # 3
        "pipeline:\n"  # 4
        "  - plugin: A\n"  # 5
        "    params:\n"  # 6
        "      rate: 3\n"  # 7
        "  - plugin: B\n"  # 8
    )
    assert doc.lines == {
        ("project",): 1,
        ("project", "name"): 2,
        ("pipeline",): 4,
        ("pipeline", 0): 5,  # list items have the line they start on
        ("pipeline", 0, "plugin"): 5,
        ("pipeline", 0, "params"): 6,
        ("pipeline", 0, "params", "rate"): 7,
        ("pipeline", 1): 8,
        ("pipeline", 1, "plugin"): 8,
    }


def test_where_names_file_and_line_of_closest_recorded_parent() -> None:
    doc = parse("a:\n  b:\n    - x\n    - y\n", source="config/global.yaml")
    assert doc.where(("a", "b")) == "config/global.yaml:2"
    assert doc.where(("a", "b", 1)) == "config/global.yaml:4"  # the item's own line
    assert doc.where(("a", "b", 1, "c")) == "config/global.yaml:4"
    assert doc.where(("a",)) == "config/global.yaml:1"
    assert doc.where(("nope",)) == "config/global.yaml"
    assert doc.where(()) == "config/global.yaml"


def test_format_path_renders_keys_and_indices() -> None:
    assert format_path(("pipeline", 0, "params", "rate_hz")) == "pipeline[0].params.rate_hz"
    assert format_path(("a",)) == "a"
    assert format_path(()) == ""


# -- duplicate keys ----------------------------------------------------------------------


def test_duplicate_key_names_key_and_both_lines() -> None:
    message = refused("a:\n  b: 1\n  c: 2\n  b: 3\n")
    assert message.startswith("f.yaml:4:3:")
    assert "duplicate key 'a.b'" in message
    assert "line 2" in message


def test_duplicate_top_level_key_is_refused() -> None:
    message = refused("x: 1\ny: 2\nx: 3\n")
    assert message.startswith("f.yaml:3:1:")
    assert "duplicate key 'x'" in message
    assert "line 1" in message


def test_same_key_in_different_mappings_is_fine() -> None:
    assert parse("a: {k: 1}\nb: {k: 2}\n").data == {"a": {"k": 1}, "b": {"k": 2}}


# -- tags that would construct objects -------------------------------------------------------

FORBIDDEN_TAGS = {
    "apply_flow_seq": ("cmd: !!python/object/apply:os.system ['echo pwned']\n", "python/object"),
    "apply_block_map": (
        "cmd: !!python/object/apply:os.system\n  args: ['echo pwned']\n",
        "python/object",
    ),
    "verbatim_apply": (
        "cmd: !<tag:yaml.org,2002:python/object/apply:os.system> ['echo pwned']\n",
        "python/object",
    ),
    "object_new": ("x: !!python/object/new:collections.OrderedDict [[]]\n", "python/object"),
    "object": ("x: !!python/object:argparse.Namespace {a: 1}\n", "python/object"),
    "name": ("fn: !!python/name:os.system ''\n", "python/name"),
    "module": ("m: !!python/module:os ''\n", "python/module"),
    "tuple": ("t: !!python/tuple [1, 2]\n", "python/tuple"),
    "binary": ("b: !!binary aGVsbG8=\n", "!!binary"),
    "set": ("s: !!set {a: null, b: null}\n", "!!set"),
    "set_question_marks": ("s: !!set\n  ? a\n  ? b\n", "!!set"),
    "omap": ("o: !!omap [a: 1, b: 2]\n", "!!omap"),
    "local_scalar": ("x: !foo bar\n", "!foo"),
    "local_mapping": ("x: !foo {a: 1}\n", "!foo"),
    "local_sequence": ("x: !foo [1]\n", "!foo"),
    "nested_deep": ("a:\n  b:\n    - c: !!python/name:os.system ''\n", "python/name"),
    "as_top_level": ("!!python/object/apply:os.system ['echo pwned']\n", "python/object"),
}


@pytest.mark.parametrize("text,tag", FORBIDDEN_TAGS.values(), ids=FORBIDDEN_TAGS.keys())
def test_non_plain_tags_are_refused_without_running_code(
    text: str, tag: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a) or 0)
    message = refused(text)
    assert re.match(r"^f\.yaml:\d+:\d+: tag '", message), message
    assert tag in message
    assert "not allowed" in message
    assert calls == []


def test_forbidden_tag_position_is_reported() -> None:
    message = refused("ok: 1\nbad: !!binary aGVsbG8=\n")
    assert message.startswith("f.yaml:2:6:")


# -- alias expansion limits ---------------------------------------------------------------

BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
)


def test_alias_bomb_is_refused() -> None:
    assert len(BILLION_LAUGHS.encode()) < 500
    message = refused(BILLION_LAUGHS)
    assert "after expanding aliases" in message
    assert re.match(r"^f\.yaml:\d+:\d+: ", message)


def test_alias_bomb_of_mappings_through_merge_keys_is_refused() -> None:
    lines = ["l0: &l0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10}\n"]
    for level in range(1, 8):
        prev = f"*l{level - 1}"
        items = ", ".join(f"k{n}: {prev}" for n in range(10))
        lines.append(f"l{level}: &l{level} {{{items}}}\n")
    message = refused("".join(lines))
    assert "after expanding aliases" in message


def test_small_aliases_are_expanded() -> None:
    doc = parse("base: &b [1, 2]\ncopy: *b\n")
    assert doc.data == {"base": [1, 2], "copy": [1, 2]}


def test_recursive_sequence_alias_is_refused() -> None:
    message = refused("a: &a [*a]\n")
    assert message.startswith("f.yaml:")
    assert "nested deeper" in message or "aliases" in message


def test_recursive_mapping_alias_is_refused() -> None:
    message = refused("a: &a {b: *a}\n")
    assert message.startswith("f.yaml:")


def test_recursive_merge_alias_is_refused_with_config_error() -> None:
    # A mapping that merges itself: no deeper key path, only the same node again.
    message = refused("a: &a\n  k: 1\n  <<: *a\n")
    assert message.startswith("f.yaml:")


def test_nesting_deeper_than_limit_is_refused() -> None:
    deep = "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    message = refused(f"x: {deep}\n")
    assert f"deeper than {MAX_DEPTH}" in message


def test_nesting_at_the_limit_is_fine() -> None:
    depth = MAX_DEPTH - 1
    doc = parse(f"x: {'[' * depth}1{']' * depth}\n")
    value = doc.data["x"]
    for _ in range(depth - 1):
        value = value[0]
    assert value == [1]


# -- file level checks -----------------------------------------------------------------


def test_oversized_input_is_refused() -> None:
    raw = b"a: " + b"x" * MAX_BYTES
    message = refused(raw)
    assert message.startswith("f.yaml: file is ")
    assert "limited to" in message


def test_input_of_exactly_the_limit_is_accepted() -> None:
    raw = b"a: " + b"x" * (MAX_BYTES - 4) + b"\n"
    assert len(raw) == MAX_BYTES
    assert len(parse(raw).data["a"]) == MAX_BYTES - 4


def test_invalid_utf8_is_refused_with_offset() -> None:
    message = refused(b"a: ok\nb: \xff\xfe\n")
    assert message.startswith("f.yaml: not UTF-8")
    assert "offset 9" in message


def test_latin1_text_is_refused() -> None:
    message = refused("name: caf\u00e9\n".encode("latin-1"))
    assert "not UTF-8" in message


def test_utf8_bom_is_accepted() -> None:
    doc = parse(b"\xef\xbb\xbfname: caf\xc3\xa9\nn: 1\n")
    assert doc.data == {"name": "caf\u00e9", "n": 1}
    assert doc.lines[("name",)] == 1
    assert doc.lines[("n",)] == 2


@pytest.mark.parametrize(
    "text,where",
    [
        ("a: [1, 2\nb: 3\n", "f.yaml:2:2"),
        ("a:\n  b: 1\n c: 2\n", "f.yaml:3:2"),
        ("a: b: c\n", "f.yaml:1:5"),
    ],
)
def test_syntax_errors_report_file_line_and_column(text: str, where: str) -> None:
    message = refused(text)
    assert message.startswith(f"{where}: YAML syntax error: ")


def test_multiple_documents_are_refused() -> None:
    message = refused("a: 1\n---\nb: 2\n")
    assert message.startswith("f.yaml")


def test_load_yaml_reads_file_and_uses_display_name(tmp_path: Path) -> None:
    path = tmp_path / "case.yaml"
    path.write_text("a:\n  b: 1\n", encoding="utf-8")
    doc = load_yaml(path, display="cases/x/case.yaml")
    assert doc.data == {"a": {"b": 1}}
    assert doc.where(("a", "b")) == "cases/x/case.yaml:2"
    assert load_yaml(path).source == str(path)


def test_load_yaml_missing_file_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml: file not found"):
        load_yaml(tmp_path / "missing.yaml", display="missing.yaml")


def test_load_yaml_on_a_folder_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_yaml(tmp_path, display="folder")


# -- merge keys ------------------------------------------------------------------------


def test_merge_key_copies_mapping_and_explicit_keys_win() -> None:
    doc = parse("base: &b\n  x: 1\n  y: 2\nprod:\n  <<: *b\n  y: 3\n")
    assert doc.data == {"base": {"x": 1, "y": 2}, "prod": {"x": 1, "y": 3}}
    assert "<<" not in doc.data["prod"]


def test_merge_key_after_explicit_key_does_not_override_it() -> None:
    doc = parse("base: &b {x: 1, y: 2}\nprod:\n  y: 3\n  <<: *b\n")
    assert doc.data["prod"] == {"x": 1, "y": 3}


def test_merge_of_sequence_earlier_mappings_win() -> None:
    doc = parse(
        "one: &one {a: 1, b: 1}\ntwo: &two {b: 2, c: 2}\nboth:\n  <<: [*one, *two]\n  c: 3\n"
    )
    assert doc.data["both"] == {"a": 1, "b": 1, "c": 3}


def test_merge_of_non_mapping_is_refused() -> None:
    message = refused("s: &s [1, 2]\nm:\n  <<: *s\n")
    assert "'<<' merges only mappings" in message


def test_quoted_merge_key_is_a_plain_key() -> None:
    assert parse("'<<': x\n").data == {"<<": "x"}


def test_explicit_key_line_is_kept_when_merge_comes_after_it() -> None:
    doc = parse(
        "base: &b\n"  # 1
        "  x: 1\n"  # 2
        "prod:\n"  # 3
        "  x: 10\n"  # 4
        "  <<: *b\n"  # 5
    )
    assert doc.data["prod"]["x"] == 10
    # the value 10 is written on line 4; the merged (and overridden) x is on line 2
    assert doc.lines[("prod", "x")] == 4


# -- property: safe_dump output always loads back equal -------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
    ),
    max_leaves=25,
)


def _same(a: Any, b: Any) -> bool:
    """Equality that also tells True from 1 and 1.0 from 1."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_values)
def test_rendered_config_loads_back_equal(value: Any) -> None:
    # what `config` prints reads back, under YAML 1.2, as the very same values
    text = render_yaml({"v": value}, lambda _: "origin")
    doc = parse_yaml(text.encode("utf-8"), source="gen.yaml")
    assert _same(doc.data["v"], value), (value, text, doc.data)
