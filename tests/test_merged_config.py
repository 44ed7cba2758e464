"""Unit and property tests of datareplay.config.merged: layers, origins and render_yaml."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datareplay.config.merged import MergedConfig, render_yaml
from datareplay.config.safe_yaml import KeyPath, YamlDocument, parse_yaml, plain_scalar
from datareplay.errors import ConfigError

# -- reference model -----------------------------------------------------------------------


def deep_merge(base: Any, over: Any) -> Any:
    """The merge rule, written independently: mappings merge, everything else replaces."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = deep_merge(base.get(key), value)
        return out
    return copy.deepcopy(over)


def leaf_paths(value: Any, path: KeyPath = ()) -> list[KeyPath]:
    """Key paths of every leaf (scalar, empty list, empty mapping), in document order."""
    if isinstance(value, dict) and value:
        return [p for key, item in value.items() for p in leaf_paths(item, (*path, key))]
    if isinstance(value, list) and value:
        return [p for index, item in enumerate(value) for p in leaf_paths(item, (*path, index))]
    return [path]


def last_writer(path: KeyPath, layers: list[tuple[str, dict[str, Any]]]) -> str:
    """The name of the last layer whose data holds ``path``."""
    writer = "built-in default"
    for name, layer in layers:
        node: Any = layer
        for part in path:
            holds = (isinstance(part, str) and isinstance(node, dict) and part in node) or (
                isinstance(part, int) and isinstance(node, list) and part < len(node)
            )
            if not holds:
                break
            node = node[part]
        else:
            writer = name
    return writer


class _Yaml12Dumper(yaml.SafeDumper):
    """PyYAML's emitter quotes by YAML 1.1 rules; quote what YAML 1.2 would retype too."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = '"' if not isinstance(plain_scalar(value), str) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Yaml12Dumper.add_representer(str, _represent_text)


def doc(data: dict[str, Any], source: str) -> YamlDocument:
    text = yaml.dump(data, Dumper=_Yaml12Dumper, allow_unicode=True, sort_keys=False)
    return parse_yaml(text.encode("utf-8"), source=source)


def layer_of(origin: str) -> str:
    return origin.rpartition(":")[0]


# -- strategies ----------------------------------------------------------------------------

keys = st.text(alphabet="abc.", min_size=1, max_size=2)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False)
    # U+0085 is left out: PyYAML itself writes it in a way it reads back as a space
    | st.text(alphabet=st.characters(codec="utf-8", blacklist_characters="\x85"), max_size=6)
    | st.sampled_from(["", "null", "1", "x: y", "- z", "# c", "a  # b", "\xa0", "\u3000x", "a\nb"])
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3),
    max_leaves=12,
)
layers = st.dictionaries(keys, values, max_size=4)
# printable text without line breaks or unusual spaces, for the leaf-per-line check
# (unicode spaces are covered by test_render_yaml_loads_back_to_the_same_data)
line_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Zs"), whitelist_characters=" "
    ),
    max_size=8,
)
line_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | line_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3),
    max_leaves=12,
)
line_layers = st.dictionaries(keys, line_values, max_size=4)

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- properties ----------------------------------------------------------------------------


@FAST
@given(a=layers, b=layers)
def test_two_layers_merge_like_the_reference(a: dict[str, Any], b: dict[str, Any]) -> None:
    merged = MergedConfig()
    merged.apply(doc(a, "A.yaml"))
    merged.apply(doc(b, "B.yaml"))
    assert merged.data == deep_merge(a, b)


@FAST
@given(a=layers, b=layers)
def test_every_leaf_origin_names_the_layer_that_last_wrote_it(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    merged = MergedConfig()
    merged.apply(doc(a, "A.yaml"))
    merged.apply(doc(b, "B.yaml"))
    expected = deep_merge(a, b)
    leaves = merged.leaves()
    if not expected:
        assert leaves == [((), {}, "built-in default")]
        return
    assert [path for path, _, _ in leaves] == leaf_paths(expected)
    for path, _, origin in leaves:
        assert origin == merged.origin(path)
        assert layer_of(origin) == last_writer(path, [("A.yaml", a), ("B.yaml", b)]), path


@FAST
@given(a=layers, b=layers, c=layers)
def test_three_layers_equal_a_then_b_merged_with_c(
    a: dict[str, Any], b: dict[str, Any], c: dict[str, Any]
) -> None:
    one_by_one = MergedConfig()
    for data, name in ((a, "A.yaml"), (b, "B.yaml"), (c, "C.yaml")):
        one_by_one.apply(doc(data, name))
    assert one_by_one.data == deep_merge(deep_merge(a, b), c)
    combined = MergedConfig()
    combined.apply(doc(a, "A.yaml"))
    combined.apply(doc(deep_merge(b, c), "BC.yaml"))
    if not restores_a_replaced_mapping(a, b, c):
        assert combined.data == one_by_one.data


def restores_a_replaced_mapping(a: Any, b: Any, c: Any) -> bool:
    """True where B replaces a mapping of A by a non-mapping and C writes a mapping there.

    Only there is layering not associative: applied in turn, C's mapping merges over B's
    value (so A's keys are gone), while B merged with C first is a mapping that then
    merges over A's mapping (so A's keys come back). See the example test below.
    """
    if isinstance(a, dict) and isinstance(b, dict) and isinstance(c, dict):
        return any(restores_a_replaced_mapping(a.get(k), b[k], c[k]) for k in b if k in c)
    return isinstance(a, dict) and not isinstance(b, dict) and isinstance(c, dict)


def test_layering_is_sequential_where_it_is_not_associative() -> None:
    merged = MergedConfig()
    merged.apply(parse_yaml(b"m:\n  x: 1\n", source="A.yaml"))
    merged.apply(parse_yaml(b"m: null\n", source="B.yaml"))
    merged.apply(parse_yaml(b"m: {y: 2}\n", source="C.yaml"))
    assert merged.data == {"m": {"y": 2}}  # B's null dropped x; C merges over null
    assert merged.leaves() == [(("m", "y"), 2, "C.yaml:1")]


@FAST
@given(a=layers, b=layers)
def test_applying_does_not_change_the_layers(a: dict[str, Any], b: dict[str, Any]) -> None:
    doc_a, doc_b = doc(a, "A.yaml"), doc(b, "B.yaml")
    before = copy.deepcopy((doc_a.data, doc_b.data))
    merged = MergedConfig()
    merged.apply(doc_a)
    merged.apply(doc_b)
    merged.set(("zz",), 1, origin="--set zz")
    assert (doc_a.data, doc_b.data) == before


def _leaf_comments(text: str) -> list[tuple[KeyPath, str]]:
    """For every leaf node of the rendered YAML, its path and the rest of its line."""
    lines = text.split("\n")
    out: list[tuple[KeyPath, str]] = []

    def walk(node: yaml.Node, path: KeyPath) -> None:
        if isinstance(node, yaml.MappingNode) and node.value:
            for key_node, value_node in node.value:
                walk(value_node, (*path, key_node.value))
        elif isinstance(node, yaml.SequenceNode) and node.value:
            for index, item in enumerate(node.value):
                walk(item, (*path, index))
        else:
            mark = node.end_mark
            out.append((path, lines[mark.line][mark.column :]))

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    assert root is not None
    walk(root, ())
    return out


def _same(x: Any, y: Any) -> bool:
    """Equal and, for scalars, of the same type (1 is not True, 1.0 is not 1)."""
    if isinstance(x, (dict, list)):
        return bool(x == y)
    return type(x) is type(y) and x == y


@FAST
@given(a=layers, b=layers)
def test_render_yaml_loads_back_to_the_same_data(a: dict[str, Any], b: dict[str, Any]) -> None:
    merged = MergedConfig()
    merged.apply(doc(a, "A.yaml"))
    merged.apply(doc(b, "B.yaml"))
    text = render_yaml(merged.data, merged.origin)
    loaded = yaml.safe_load(text)
    assert loaded == merged.data
    for path, value, _ in merged.leaves():
        node: Any = loaded
        for part in path:
            node = node[part]
        assert _same(node, value), path


@FAST
@given(a=line_layers, b=line_layers)
def test_render_yaml_puts_each_leaf_origin_after_it(a: dict[str, Any], b: dict[str, Any]) -> None:
    merged = MergedConfig()
    merged.apply(doc(a, "A.yaml"))
    merged.apply(doc(b, "B.yaml"))
    if not merged.data:
        return
    text = render_yaml(merged.data, merged.origin)
    assert yaml.safe_load(text) == merged.data
    comments = _leaf_comments(text)
    expected = [(path, f"  # {origin}") for path, _, origin in merged.leaves()]
    assert comments == expected
    # one line per leaf: every line is either a leaf or a container head
    leaf_lines = [line for line in text.splitlines() if "  # " in line]
    assert len(leaf_lines) == len(expected)


# -- examples: apply / set / origin / leaves ------------------------------------------------


def test_apply_records_file_and_line() -> None:
    merged = MergedConfig()
    merged.apply(parse_yaml(b"a:\n  b: 1\n  c: [x, y]\nd: text\n", source="g.yaml"))
    assert merged.origin(("a", "b")) == "g.yaml:2"
    assert merged.origin(("a", "c", 1)) == "g.yaml:3"
    assert merged.origin(("d",)) == "g.yaml:4"
    assert merged.origin(("zz",)) == "built-in default"


def test_lists_replace_and_forget_old_items() -> None:
    merged = MergedConfig()
    merged.apply(parse_yaml(b"l: [1, 2, 3]\n", source="A.yaml"))
    merged.apply(parse_yaml(b"\n\nl: [9]\n", source="B.yaml"))
    assert merged.data == {"l": [9]}
    assert merged.leaves() == [(("l", 0), 9, "B.yaml:3")]
    assert ("l", 2) not in merged.origins


def test_empty_mapping_over_mapping_keeps_it() -> None:
    merged = MergedConfig()
    merged.apply(parse_yaml(b"m:\n  x: 1\n", source="A.yaml"))
    merged.apply(parse_yaml(b"m: {}\n", source="B.yaml"))
    assert merged.data == {"m": {"x": 1}}
    assert merged.leaves() == [(("m", "x"), 1, "A.yaml:2")]
    assert merged.origin(("m",)) == "B.yaml:1"  # the key was last written by B


def test_empty_mapping_written_by_both_layers_comes_from_the_last() -> None:
    merged = MergedConfig()
    merged.apply(parse_yaml(b"m: {}\n", source="A.yaml"))
    merged.apply(parse_yaml(b"\nm: {}\n", source="B.yaml"))
    assert merged.leaves() == [(("m",), {}, "B.yaml:2")]


def test_null_replaces_a_mapping() -> None:
    merged = MergedConfig()
    merged.apply(parse_yaml(b"m:\n  x: 1\n", source="A.yaml"))
    merged.apply(parse_yaml(b"m: null\n", source="B.yaml"))
    assert merged.data == {"m": None}
    assert merged.leaves() == [(("m",), None, "B.yaml:1")]


@pytest.mark.parametrize("text", [b"- a\n", b"just text\n", b"3\n"])
def test_layer_must_be_a_mapping(text: bytes) -> None:
    with pytest.raises(ConfigError, match=r"^L\.yaml: the top level must be a mapping of keys"):
        MergedConfig().apply(parse_yaml(text, source="L.yaml"))


def test_empty_layer_is_ignored() -> None:
    merged = MergedConfig()
    merged.apply(parse_yaml(b"a: 1\n", source="A.yaml"))
    merged.apply(parse_yaml(b"# nothing\n", source="B.yaml"))
    assert merged.leaves() == [(("a",), 1, "A.yaml:1")]


def test_set_replaces_value_and_origin() -> None:
    merged = MergedConfig()
    merged.apply(parse_yaml(b"a:\n  b: [1, 2]\n  c: 3\n", source="A.yaml"))
    merged.set(("a", "b"), 7, origin="--set a.b")
    assert merged.data == {"a": {"b": 7, "c": 3}}
    assert merged.origin(("a", "b")) == "--set a.b"
    assert ("a", "b", 0) not in merged.origins
    assert merged.origin(("a", "c")) == "A.yaml:3"


def test_set_a_mapping_records_each_leaf() -> None:
    merged = MergedConfig()
    merged.apply(parse_yaml(b"a:\n  b: 1\n", source="A.yaml"))
    merged.set(("a",), {"x": [1, 2], "y": {}}, origin="--set a")
    assert merged.leaves() == [  # a mapping set over a mapping merges into it
        (("a", "b"), 1, "A.yaml:2"),
        (("a", "x", 0), 1, "--set a"),
        (("a", "x", 1), 2, "--set a"),
        (("a", "y"), {}, "--set a"),
    ]


def test_set_creates_missing_mappings() -> None:
    merged = MergedConfig()
    merged.set(("vars", "new", "deep"), "v", origin="--set +vars.new.deep")
    assert merged.data == {"vars": {"new": {"deep": "v"}}}
    assert merged.leaves() == [(("vars", "new", "deep"), "v", "--set +vars.new.deep")]


def test_set_a_list_item() -> None:
    merged = MergedConfig()
    merged.apply(parse_yaml(b"pipeline:\n  - plugin: A\n  - plugin: B\n", source="c.yaml"))
    merged.set(("pipeline", 1, "params", "x"), 0.5, origin="--set pipeline.B.params.x")
    assert merged.data["pipeline"][1] == {"plugin": "B", "params": {"x": 0.5}}
    assert merged.origin(("pipeline", 1, "plugin")) == "c.yaml:3"
    assert merged.origin(("pipeline", 1, "params", "x")) == "--set pipeline.B.params.x"


def test_set_inside_a_scalar_is_an_error() -> None:
    merged = MergedConfig()
    merged.apply(parse_yaml(b"a: 1\n", source="A.yaml"))
    with pytest.raises(ConfigError, match=r"^--set a\.b: cannot set a\.b\.c inside a value"):
        merged.set(("a", "b", "c"), 1, origin="--set a.b")


def test_later_layer_after_set_wins_again() -> None:
    merged = MergedConfig()
    merged.apply(parse_yaml(b"a: 1\n", source="A.yaml"))
    merged.set(("a",), 2, origin="--set a")
    merged.apply(parse_yaml(b"a: 3\n", source="B.yaml"))
    assert merged.leaves() == [(("a",), 3, "B.yaml:1")]


def test_origin_of_a_parent_and_of_a_missing_child() -> None:
    merged = MergedConfig()
    merged.apply(parse_yaml(b"a:\n  b: 1\n", source="A.yaml"))
    merged.apply(parse_yaml(b"l: [1]\n", source="B.yaml"))
    assert merged.origin(("a",)) in {"A.yaml:1", "A.yaml:2"}
    assert merged.origin(("l", 0, "x")) == "B.yaml:1"  # closest recorded parent


def test_leaves_in_document_order() -> None:
    merged = MergedConfig()
    merged.apply(parse_yaml(b"z: 1\na:\n  y: []\n  x: [{k: v}, [1]]\n", source="A.yaml"))
    assert [path for path, _, _ in merged.leaves()] == [
        ("z",),
        ("a", "y"),
        ("a", "x", 0, "k"),
        ("a", "x", 1, 0),
    ]


# -- examples: render_yaml ------------------------------------------------------------------


def test_render_yaml_layout() -> None:
    data = {
        "data": {"default_format": "csv", "roots": []},
        "pipeline": [{"plugin": "A", "params": {"x": 0.5, "l": [1, "two"]}}, {"plugin": "B"}],
        "nested": [[1, 2], {}],
        "text": "0.8",
        "none": None,
    }
    text = render_yaml(data, lambda path: "/".join(map(str, path)))
    assert text == (
        "data:\n"
        "  default_format: csv  # data/default_format\n"
        "  roots: []  # data/roots\n"
        "pipeline:\n"
        "  - plugin: A  # pipeline/0/plugin\n"
        "    params:\n"
        "      x: 0.5  # pipeline/0/params/x\n"
        "      l:\n"
        "        - 1  # pipeline/0/params/l/0\n"
        "        - two  # pipeline/0/params/l/1\n"
        "  - plugin: B  # pipeline/1/plugin\n"
        "nested:\n"
        "  -\n"
        "    - 1  # nested/0/0\n"
        "    - 2  # nested/0/1\n"
        "  - {}  # nested/1\n"
        'text: "0.8"  # text\n'
        "none: null  # none\n"
    )
    assert yaml.safe_load(text) == data


@pytest.mark.parametrize(
    "value", ["", "true", "null", "1", "a: b", "x  # y", "- z", "'q'", '"', "[x]", "#", "~"]
)
def test_render_yaml_quotes_tricky_text(value: str) -> None:
    data = {"k": value, "l": [value], value or "e": {"n": value}}
    text = render_yaml(data, lambda path: "o")
    assert yaml.safe_load(text) == data


@pytest.mark.parametrize("value", ["\xa0", "\u3000", "\xa0x", "x\u2003", "\u2009a\u2009"])
def test_render_yaml_keeps_unicode_spaces(value: str) -> None:
    data = {"k": value, "l": [value]}
    text = render_yaml(data, lambda path: "o")
    assert yaml.safe_load(text) == data


def test_render_yaml_multiline_text_loads_back() -> None:
    data = {"a": {"b": ["x\ny", "\n"]}, "c": "line1\n\nline3\n"}
    assert yaml.safe_load(render_yaml(data, lambda path: "o")) == data


def test_render_yaml_of_the_merged_config_names_origins() -> None:
    merged = MergedConfig()
    merged.apply(parse_yaml(b"a:\n  b: 1\n  c: 2\n", source="A.yaml"))
    merged.apply(parse_yaml(b"a:\n  c: 3\n", source="B.yaml"))
    merged.set(("a", "d"), [True], origin="--set +a.d")
    assert render_yaml(merged.data, merged.origin) == (
        "a:\n  b: 1  # A.yaml:2\n  c: 3  # B.yaml:2\n  d:\n    - true  # --set +a.d\n"
    )
