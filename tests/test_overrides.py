"""Unit tests of datareplay.config.overrides: parsing ``--set key.path=value`` and resolving keys."""

from __future__ import annotations

from typing import Any

import pytest

from datareplay.config.manager import _known
from datareplay.config.overrides import Override, resolve_path
from datareplay.config.safe_yaml import KeyPath
from datareplay.errors import ConfigError

# -- Override.parse ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a.b=20", 20),
        ("a.b=-3", -3),
        ("a.b=0.8", 0.8),
        ("a.b=true", True),
        ("a.b=false", False),
        ("a.b=null", None),
        ("a.b=~", None),
        ("a.b=[a,b]", ["a", "b"]),
        ("a.b=[1, 2.5, x]", [1, 2.5, "x"]),
        ("a.b={x: 1}", {"x": 1}),
        ('a.b="0.8"', "0.8"),
        ("a.b='true'", "true"),
        ("a.b=night", "night"),
        ("a.b=", None),
        ("a.b=x=y", "x=y"),
    ],
)
def test_parse_types_values_the_yaml_way(text: str, value: Any) -> None:
    override = Override.parse(text)
    assert override.key == "a.b"
    assert override.value == value
    assert type(override.value) is type(value)
    assert override.add is False
    assert override.origin == "--set"


def test_parse_plus_prefix_allows_adding() -> None:
    override = Override.parse("+vars.run_label=test")
    assert override.key == "vars.run_label"
    assert override.add is True
    assert override.value == "test"


def test_parse_strips_spaces_around_the_key() -> None:
    assert Override.parse(" vars.x =1").key == "vars.x"


def test_parse_keeps_custom_origin() -> None:
    assert Override.parse("a=1", origin="params.yaml:3").origin == "params.yaml:3"


@pytest.mark.parametrize("text", ["vars.x", "", "=1", "+=1", "+"])
def test_parse_without_key_or_equals_is_an_error(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^--set expects key\.path=value, got "):
        Override.parse(text)


def test_parse_error_quotes_the_text() -> None:
    with pytest.raises(ConfigError, match=r"got 'vars\.x'$"):
        Override.parse("vars.x")


@pytest.mark.parametrize("key", ["a..b", ".a", "a.", "pipeline..params"])
def test_parse_empty_segment_is_an_error(key: str) -> None:
    with pytest.raises(ConfigError, match=r"empty segment in the key path"):
        Override.parse(f"{key}=1")


def test_parse_bad_yaml_value_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^--set a\.b.*YAML syntax error"):
        Override.parse("a.b=[1, 2")


def test_parse_keeps_python_tags_as_plain_text() -> None:
    # a tag is never read from --set: the value is text, exactly as written
    text = "!!python/object/apply:os.system [ls]"
    assert Override.parse(f"a.b={text}").value == text


def test_parse_refuses_python_tags_inside_a_list() -> None:
    with pytest.raises(ConfigError, match=r"tag '!!python/object/apply:os.system' is not allowed"):
        Override.parse("a.b=[!!python/object/apply:os.system [ls]]")


# -- resolve_path --------------------------------------------------------------------------


def data() -> dict[str, Any]:
    return {
        "project": {"name": "p"},
        "data": {"default_format": "parquet"},
        "vars": {"drive": "d1", "paths": {"raw": "r"}, "a.b": 1},
        "data_sources": {"raw": {"path": "data/raw.csv"}},
        "pipeline": [
            {"plugin": "Loader", "name": "load", "params": {"rate": 1}},
            {"plugin": "Scale", "params": {"factor": 2, "nested": {"k": 1}}},
            {"plugin": "Dup"},
            {"plugin": "Dup"},
        ],
        "run": {"release_memory": True},
    }


def resolve(key: str, *, add: bool = False, node: dict[str, Any] | None = None) -> KeyPath:
    return resolve_path(
        data() if node is None else node, key, add=add, known=_known, origin="--set"
    )


def test_existing_key() -> None:
    assert resolve("project.name") == ("project", "name")
    assert resolve("vars") == ("vars",)


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("pipeline.0.params.rate", ("pipeline", 0, "params", "rate")),
        ("pipeline.3.plugin", ("pipeline", 3, "plugin")),
        ("pipeline.-1.plugin", ("pipeline", 3, "plugin")),
        ("pipeline.-4.name", ("pipeline", 0, "name")),
    ],
)
def test_list_items_by_index(key: str, path: KeyPath) -> None:
    assert resolve(key) == path


def test_step_by_name() -> None:
    assert resolve("pipeline.load.params.rate") == ("pipeline", 0, "params", "rate")


def test_step_by_plugin_when_it_has_no_name() -> None:
    assert resolve("pipeline.Scale.params.factor") == ("pipeline", 1, "params", "factor")


def test_step_with_a_name_is_not_addressed_by_its_plugin() -> None:
    with pytest.raises(ConfigError, match=r"'pipeline' has no item 'Loader'"):
        resolve("pipeline.Loader.params.rate")


def test_ambiguous_step_name() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^--set pipeline\.Dup\.params\.x: several items of 'pipeline' are called "
        r"'Dup'; use an index$",
    ):
        resolve("pipeline.Dup.params.x")


def test_unknown_step_suggests_the_closest() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^--set pipeline\.Scael\.params\.factor: 'pipeline' has no item 'Scael'; "
        r"did you mean 'Scale'\? \(address items by step name or index\)$",
    ):
        resolve("pipeline.Scael.params.factor")


def test_unknown_step_without_close_match_lists_items() -> None:
    with pytest.raises(ConfigError, match=r"has no item 'zzzzzz' \(items: load, Scale, Dup, Dup\)"):
        resolve("pipeline.zzzzzz.params.factor")


@pytest.mark.parametrize("index", ["4", "-5", "99"])
def test_out_of_range_index(index: str) -> None:
    with pytest.raises(
        ConfigError,
        match=rf"^--set pipeline\.{index}\.plugin: index {index} is out of range for "
        r"'pipeline' \(4 items\)$",
    ):
        resolve(f"pipeline.{index}.plugin")


@pytest.mark.parametrize("segment", ["--1", "1-", "-", "²"])
def test_malformed_index_is_a_config_error(segment: str) -> None:
    with pytest.raises(ConfigError, match=rf"has no item '{segment}'"):
        resolve(f"pipeline.{segment}.plugin")


def test_unknown_key_suggests_without_a_plus_hint_where_the_schema_names_the_keys() -> None:
    # '+' cannot add a key the schema does not know, so it is not offered there
    with pytest.raises(
        ConfigError,
        match=r"^--set projct\.name: no key 'projct' in the top level; did you mean "
        r"'project'\?$",
    ):
        resolve("projct.name")


def test_unknown_nested_key_suggests_schema_keys() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^--set data\.defualt_format: no key 'defualt_format' in data; did you mean "
        r"'default_format'\?",
    ):
        resolve("data.defualt_format")


def test_unknown_key_without_close_match_lists_keys() -> None:
    with pytest.raises(
        ConfigError,
        match=r"no key 'zzz' in project \(keys there: name\)$",
    ):
        resolve("project.zzz")


def test_unknown_key_in_data_source_suggests_field() -> None:
    with pytest.raises(
        ConfigError, match=r"no key 'pth' in data_sources\.raw; did you mean 'path'"
    ):
        resolve("data_sources.raw.pth")


@pytest.mark.parametrize("name", ["newsrc", "format", "path"])
def test_new_data_source_needs_plus(name: str) -> None:
    # below data_sources the keys are source names, not the fields of one source
    with pytest.raises(
        ConfigError, match=rf"^--set data_sources\.{name}: no key '{name}' in data_sources"
    ):
        resolve(f"data_sources.{name}")
    assert resolve(f"data_sources.{name}", add=True) == ("data_sources", name)


def test_plus_adds_unknown_keys() -> None:
    assert resolve("projct.name", add=True) == ("projct", "name")
    assert resolve("vars.paths.new.deep", add=True) == ("vars", "paths", "new", "deep")


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("data.raw_root", ("data", "raw_root")),
        ("description", ("description",)),
        ("plugins.paths", ("plugins", "paths")),
        ("run.release_memory", ("run", "release_memory")),
        ("pipeline.2.params", ("pipeline", 2, "params")),
        ("pipeline.2.name", ("pipeline", 2, "name")),
        ("data_sources.raw.format", ("data_sources", "raw", "format")),
    ],
)
def test_schema_keys_without_plus(key: str, path: KeyPath) -> None:
    assert resolve(key) == path


def test_missing_top_level_schema_key_without_plus() -> None:
    assert resolve("plugins.paths", node={}) == ("plugins", "paths")
    assert resolve("vars.x", node={}) == ("vars", "x")


def test_any_param_of_a_step_without_plus() -> None:
    assert resolve("pipeline.Scale.params.new_param") == ("pipeline", 1, "params", "new_param")
    # a step without a params mapping yet
    assert resolve("pipeline.2.params.threshold") == ("pipeline", 2, "params", "threshold")


def test_any_var_without_plus() -> None:
    assert resolve("vars.label") == ("vars", "label")


def test_nested_key_under_vars_without_plus() -> None:
    # "any key under vars": also below a mapping that vars already holds
    assert resolve("vars.paths.new") == ("vars", "paths", "new")


def test_nested_key_under_step_params_without_plus() -> None:
    assert resolve("pipeline.Scale.params.nested.new") == (
        "pipeline",
        1,
        "params",
        "nested",
        "new",
    )


def test_key_containing_dots_is_matched_as_a_whole() -> None:
    assert resolve("vars.a.b") == ("vars", "a.b")


def test_longest_dotted_key_wins() -> None:
    node = {"vars": {"a": {"b": 1}, "a.b": 2}}
    assert resolve("vars.a.b", node=node) == ("vars", "a.b")


def test_descending_into_a_scalar_is_an_error() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^--set run\.release_memory\.x: 'run\.release_memory' is a bool, it has no "
        r"key 'x'$",
    ):
        resolve("run.release_memory.x")


def test_descending_into_a_scalar_is_an_error_even_with_plus() -> None:
    with pytest.raises(ConfigError, match=r"'project\.name' is a str, it has no key 'x'"):
        resolve("project.name.x", add=True)


def test_descending_into_a_list_item_scalar() -> None:
    node = {"plugins": {"paths": ["a", "b"]}}
    with pytest.raises(ConfigError, match=r"'plugins\.paths\[1\]' is a str, it has no key 'x'"):
        resolve("plugins.paths.1.x", node=node)


def test_origin_prefixes_the_message() -> None:
    with pytest.raises(ConfigError, match=r"^params\.yaml:3 projct: no key 'projct'"):
        resolve_path(data(), "projct", add=False, known=_known, origin="params.yaml:3")
