"""Unit tests of datareplay.config.manager and config_schema: layering, origins, checks."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from datareplay.config.manager import CaseConfig, ConfigManager, MergedConfig
from datareplay.config.safe_yaml import parse_yaml
from datareplay.config.schema import Settings, known_keys
from datareplay.errors import ConfigError, UnknownNameError, UnsafeNameError
from datareplay.project.paths import Project

GLOBAL = """\
project:
  name: test-project
data:
  default_format: parquet
  case_folder: data
  allowed_roots: []
plugins:
  paths: [modules, more_modules]
run:
  release_memory: true
"""


# A case needs at least one step; cases that do not test the pipeline get this one,
# appended after their own lines so that line numbers stay as written.
FILLER_PIPELINE = "pipeline:\n  - plugin: Anything\n"


def build_project(
    root: Path,
    case_yaml: str,
    *,
    global_yaml: str | None = GLOBAL,
    case: str = "demo",
    add_pipeline: bool = True,
) -> Project:
    (root / "config").mkdir(parents=True, exist_ok=True)
    (root / "cases" / case).mkdir(parents=True, exist_ok=True)
    if global_yaml is not None:
        (root / "config" / "global.yaml").write_text(textwrap.dedent(global_yaml))
    text = textwrap.dedent(case_yaml)
    if add_pipeline and "pipeline:" not in text:
        text += FILLER_PIPELINE
    (root / "cases" / case / "case.yaml").write_text(text)
    return Project.at(root)


def load(root: Path, case_yaml: str, **kwargs: Any) -> tuple[ConfigManager, CaseConfig]:
    manager = ConfigManager(build_project(root, case_yaml, **kwargs))
    return manager, manager.load_case(kwargs.get("case", "demo"))


def config_error(root: Path, case_yaml: str, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load(root, case_yaml, **kwargs)
    return str(info.value)


# -- layering -----------------------------------------------------------------------------


def test_case_layer_merges_over_global(tmp_path: Path) -> None:
    _, config = load(
        tmp_path,
        """\
        description: A test case.
        data:
          default_format: csv
        plugins:
          paths: [case_modules]
        """,
    )
    data = config.merged.data
    assert data["data"] == {
        "default_format": "csv",  # from the case
        "case_folder": "data",  # kept from global
        "allowed_roots": [],
    }
    assert data["plugins"]["paths"] == ["case_modules"]  # lists replace, never append
    assert data["project"]["name"] == "test-project"
    assert data["description"] == "A test case."
    assert isinstance(config.settings, Settings)
    assert config.settings.data.default_format == "csv"
    assert config.settings.plugins.paths == ["case_modules"]
    assert config.name == "demo"
    assert config.folder == tmp_path.resolve() / "cases" / "demo"
    assert config.files == ["config/global.yaml", "cases/demo/case.yaml"]


def test_origins_name_file_and_line_of_each_value(tmp_path: Path) -> None:
    _, config = load(
        tmp_path,
        """\
        description: x

        data:
          default_format: csv
        """,
    )
    merged = config.merged
    assert merged.origin(("data", "default_format")) == "cases/demo/case.yaml:4"
    assert merged.origin(("data", "case_folder")) == "config/global.yaml:5"
    assert merged.origin(("project", "name")) == "config/global.yaml:2"
    assert merged.origin(("plugins", "paths")) == "config/global.yaml:8"
    assert merged.origin(("plugins", "paths", 1)) == "config/global.yaml:8"
    assert merged.origin(("description",)) == "cases/demo/case.yaml:1"
    # a parent path reports one of its children; an unknown path is a built-in default
    assert merged.origin(("data",)) in {
        "cases/demo/case.yaml:3",
        "cases/demo/case.yaml:4",
        "config/global.yaml:5",
        "config/global.yaml:6",
    }
    assert merged.origin(("data_sources",)) == "built-in default"
    assert merged.origin(("pipeline", 0, "plugin")) == "cases/demo/case.yaml:6"


def test_origin_of_replaced_subtree_forgets_lower_layer(tmp_path: Path) -> None:
    _, config = load(
        tmp_path,
        """\
        plugins: {paths: [a]}
        """,
        global_yaml="""\
        plugins:
          paths:
            - x
            - y
            - z
        """,
    )
    assert config.merged.data["plugins"]["paths"] == ["a"]
    assert config.merged.origin(("plugins", "paths", 0)) == "cases/demo/case.yaml:1"
    assert config.merged.origin(("plugins", "paths")) == "cases/demo/case.yaml:1"
    paths_keys = [k for k in config.merged.origins if k[:2] == ("plugins", "paths")]
    assert paths_keys == [("plugins", "paths", 0)]


def test_mapping_over_scalar_replaces_and_scalar_over_mapping_replaces() -> None:
    merged = MergedConfig()
    merged.apply(parse_yaml(b"a: 1\nb:\n  c: 2\n  d: 3\n", source="g.yaml"))
    merged.apply(parse_yaml(b"a:\n  x: 1\nb: 5\n", source="c.yaml"))
    assert merged.data == {"a": {"x": 1}, "b": 5}
    assert merged.origin(("a", "x")) == "c.yaml:2"
    assert merged.origin(("b", "c")) == "c.yaml:3"
    assert ("b", "c") not in merged.origins
    assert ("a",) not in merged.origins


def test_empty_layer_changes_nothing() -> None:
    merged = MergedConfig()
    merged.apply(parse_yaml(b"a: 1\n", source="g.yaml"))
    merged.apply(parse_yaml(b"", source="c.yaml"))
    merged.apply(parse_yaml(b"{}\n", source="c.yaml"))
    assert merged.data == {"a": 1}
    assert merged.origin(("a",)) == "g.yaml:1"


def test_layer_must_be_a_mapping(tmp_path: Path) -> None:
    message = config_error(tmp_path, "- a\n- b\n", add_pipeline=False)
    assert message.startswith("cases/demo/case.yaml: the top level must be a mapping")


def test_global_layer_must_be_a_mapping(tmp_path: Path) -> None:
    message = config_error(tmp_path, "description: x\n", global_yaml="just text\n")
    assert message.startswith("config/global.yaml: the top level must be a mapping")


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_empty_case_file_is_refused(tmp_path: Path, text: str) -> None:
    message = config_error(tmp_path, text, add_pipeline=False)
    assert message.startswith("cases/demo/case.yaml: the file is empty")


@pytest.mark.parametrize("text", ["description: x\n", "pipeline: []\n"])
def test_case_without_steps_is_refused(tmp_path: Path, text: str) -> None:
    message = config_error(tmp_path, text, add_pipeline=False)
    assert message.startswith("cases/demo/case.yaml: the pipeline is empty")


def test_empty_global_file_is_fine(tmp_path: Path) -> None:
    _, config = load(tmp_path, "description: x\n", global_yaml="")
    assert config.settings.description == "x"
    assert config.files == ["config/global.yaml", "cases/demo/case.yaml"]


def test_without_global_file(tmp_path: Path) -> None:
    _, config = load(tmp_path, "description: only the case\n", global_yaml=None)
    assert config.files == ["cases/demo/case.yaml"]
    assert config.settings.data.default_format == "parquet"
    assert config.settings.plugins.paths == ["modules"]


def test_unknown_case(tmp_path: Path) -> None:
    manager = ConfigManager(build_project(tmp_path, "description: x\n"))
    with pytest.raises(UnknownNameError, match="did you mean 'demo'"):
        manager.load_case("dem")
    with pytest.raises(UnsafeNameError):
        manager.load_case("../demo")


def test_yaml_errors_in_case_file_are_config_errors(tmp_path: Path) -> None:
    message = config_error(tmp_path, "a: [1\n")
    assert message.startswith("cases/demo/case.yaml:")


# -- validation ------------------------------------------------------------------------------


def test_unknown_top_level_key_suggests_the_right_one(tmp_path: Path) -> None:
    message = config_error(tmp_path, "description: x\npipline: []\n")
    assert message == "cases/demo/case.yaml:2: unknown key 'pipline'; did you mean 'pipeline'?"


def test_unknown_key_holding_a_list_points_at_the_key_line(tmp_path: Path) -> None:
    message = config_error(
        tmp_path,
        """\
        description: x
        pipline:
          - plugin: A
        """,
    )
    # line 2 holds the misspelt key; line 3 is only its first item
    assert message == "cases/demo/case.yaml:2: unknown key 'pipline'; did you mean 'pipeline'?"


def test_unknown_nested_key_suggests_and_names_global_file(tmp_path: Path) -> None:
    message = config_error(
        tmp_path,
        "description: x\n",
        global_yaml="""\
        data:
          default_format: parquet
          case_foldr: data
        """,
    )
    assert message.startswith("config/global.yaml:3: unknown key 'data.case_foldr'")
    assert "did you mean 'case_folder'?" in message


def test_unknown_key_without_close_match_lists_allowed(tmp_path: Path) -> None:
    message = config_error(tmp_path, "run:\n  zzzzz: 1\n")
    assert "unknown key 'run.zzzzz'" in message
    assert "(allowed: release_memory)" in message


def test_unknown_key_in_data_source(tmp_path: Path) -> None:
    message = config_error(
        tmp_path,
        """\
        data_sources:
          signals:
            formt: csv
        """,
    )
    assert message.startswith("cases/demo/case.yaml:3: unknown key 'data_sources.signals.formt'")
    assert "did you mean 'format'?" in message


def test_unknown_key_in_pipeline_step(tmp_path: Path) -> None:
    message = config_error(
        tmp_path,
        """\
        pipeline:
          - plugin: A
          - plugin: B
            parms: {x: 1}
        """,
    )
    assert message.startswith("cases/demo/case.yaml:4: unknown key 'pipeline[1].parms'")
    assert "did you mean 'params'?" in message


@pytest.mark.parametrize(
    "case_yaml,line,key",
    [
        ("run:\n  release_memory: maybe\n", 2, "run.release_memory"),
        ("description: x\nproject:\n  name: 5\n", 3, "project.name"),
        ("data:\n  allowed_roots: shared\n", 2, "data.allowed_roots"),
        ("pipeline:\n  - plugin: [A]\n", 2, "pipeline[0].plugin"),
        ("data_sources:\n  s:\n    read_only: 'yes'\n", 3, "data_sources.s.read_only"),
    ],
)
def test_wrong_types_name_key_path_and_line(
    tmp_path: Path, case_yaml: str, line: int, key: str
) -> None:
    message = config_error(tmp_path, case_yaml)
    assert message.startswith(f"cases/demo/case.yaml:{line}: {key}: "), message


def test_wrong_type_in_global_names_global(tmp_path: Path) -> None:
    message = config_error(
        tmp_path, "description: x\n", global_yaml="project:\n  name: x\nrun:\n  release_memory: 3\n"
    )
    assert message.startswith("config/global.yaml:4: run.release_memory: ")
    assert "(got 3)" in message


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    message = config_error(tmp_path, "data_sources:\n  s:\n    format: xml\n")
    assert message.startswith("cases/demo/case.yaml:3: data_sources.s.format: unknown format")


def test_unsafe_data_source_and_step_names(tmp_path: Path) -> None:
    message = config_error(tmp_path, "data_sources:\n  '../evil': {}\n")
    assert "invalid data source name '../evil'" in message
    message = config_error(tmp_path, "pipeline:\n  - plugin: A\n    name: a/b\n")
    assert "invalid step name 'a/b'" in message


def test_known_keys() -> None:
    assert "pipeline" in known_keys(())
    assert known_keys(("run",)) == ["release_memory"]
    assert "trusted" in known_keys(("data_sources", "anything"))
    assert "params" in known_keys(("pipeline", 0))


# -- data sources ------------------------------------------------------------------------------


def sources_of(root: Path, case_yaml: str, **kwargs: Any) -> dict[str, Any]:
    manager, config = load(root, case_yaml, **kwargs)
    return manager.data_sources(config)


def test_default_paths_live_in_the_case_data_folder(tmp_path: Path) -> None:
    sources = sources_of(
        tmp_path,
        """\
        data_sources:
          signals: {}
          table: {format: csv}
          doc: {format: json}
          blob: {format: pkl}
          ipc: {format: arrow}
          scratch: {format: memory}
        """,
    )
    case_data = tmp_path.resolve() / "cases" / "demo" / "data"
    assert sources["signals"].path == case_data / "signals.parquet"
    assert sources["signals"].format.name == "parquet"
    assert sources["table"].path == case_data / "table.csv"
    assert sources["doc"].path == case_data / "doc.json"
    assert sources["blob"].path == case_data / "blob.pkl"
    assert sources["blob"].format.name == "pickle"
    assert sources["ipc"].format.name == "feather"
    assert sources["ipc"].path == case_data / "ipc.feather"
    assert sources["scratch"].path is None
    assert not sources["scratch"].persisted
    assert all(s.may_unpickle(s.path) for s in sources.values() if s.path is not None)
    assert list(sources) == ["signals", "table", "doc", "blob", "ipc", "scratch"]


def test_default_format_comes_from_merged_config(tmp_path: Path) -> None:
    sources = sources_of(tmp_path, "data:\n  default_format: feather\ndata_sources:\n  s: {}\n")
    assert sources["s"].format.name == "feather"
    assert sources["s"].path.name == "s.feather"


def test_custom_case_folder(tmp_path: Path) -> None:
    sources = sources_of(tmp_path, "data:\n  case_folder: out\ndata_sources:\n  s: {}\n")
    assert sources["s"].path == tmp_path.resolve() / "cases" / "demo" / "out" / "s.parquet"


def test_case_folder_escaping_the_project_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafeNameError, match=r"data\.case_folder"):
        sources_of(tmp_path / "p", "data:\n  case_folder: ../../../out\n")


@pytest.mark.parametrize(
    "path,fmt",
    [
        ("data/raw/a.csv", "csv"),
        ("data/raw/a.feather", "feather"),
        ("data/raw/a.json", "json"),
        ("data/raw/a.pkl", "pickle"),
        ("data/raw/a.parquet", "parquet"),
    ],
)
def test_format_is_inferred_from_path_suffix(tmp_path: Path, path: str, fmt: str) -> None:
    sources = sources_of(
        tmp_path, f"data:\n  default_format: json\ndata_sources:\n  a:\n    path: {path}\n"
    )
    assert sources["a"].format.name == fmt
    assert sources["a"].path == tmp_path.resolve() / path


def test_explicit_format_wins_over_suffix(tmp_path: Path) -> None:
    sources = sources_of(tmp_path, "data_sources:\n  a: {path: x/a.csv, format: json}\n")
    assert sources["a"].format.name == "json"
    assert sources["a"].path == tmp_path.resolve() / "x" / "a.csv"


@pytest.mark.parametrize("path", ["x/a.dat", "raw/shuttles.xlsb", "raw/notes.txt"])
def test_unknown_suffix_is_an_error_naming_the_format_key(tmp_path: Path, path: str) -> None:
    with pytest.raises(
        ConfigError,
        match=r"case.yaml:2: data_sources.a.path: the suffix '\.\w+' names no known format; set data_sources.a.format",
    ):
        sources_of(tmp_path, f"data_sources:\n  a: {{path: {path}, read_only: true}}\n")


def test_unknown_suffix_with_a_format_is_fine(tmp_path: Path) -> None:
    sources = sources_of(tmp_path, "data_sources:\n  a: {path: x/a.dat, format: csv}\n")
    assert sources["a"].format.name == "csv"


def test_read_only_and_description_are_passed_on(tmp_path: Path) -> None:
    sources = sources_of(
        tmp_path, "data_sources:\n  a: {path: raw/a.csv, read_only: true, description: Raw.}\n"
    )
    assert sources["a"].read_only is True
    assert sources["a"].description == "Raw."


@pytest.mark.parametrize("path", ["../outside.parquet", "data/../../x.csv", "/etc/passwd.csv"])
def test_path_escaping_the_project_is_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(UnsafeNameError) as info:
        sources_of(
            tmp_path / "p",
            f"""\
            description: x
            data_sources:
              leak:
                path: {path}
            """,
        )
    message = str(info.value)
    assert message.startswith("cases/demo/case.yaml:3: data source 'leak': path ")
    assert "allowed_roots" in message


def test_symlink_out_of_the_project_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    project = tmp_path / "p"
    build_project(project, "description: x\n")
    (project / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafeNameError):
        sources_of(project, "data_sources:\n  a: {path: link/a.csv}\n")


def test_allowed_roots_let_a_path_outside_through(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    project_global = GLOBAL.replace("allowed_roots: []", "allowed_roots: [../shared]")
    sources = sources_of(
        tmp_path / "p",
        """\
        data_sources:
          rec: {path: ../shared/rec.feather}
          other: {path: ../shared/sub/other.csv}
        """,
        global_yaml=project_global,
    )
    assert sources["rec"].path == shared.resolve() / "rec.feather"
    assert sources["other"].path == shared.resolve() / "sub" / "other.csv"
    with pytest.raises(UnsafeNameError):
        sources_of(
            tmp_path / "p",
            "data_sources:\n  x: {path: ../elsewhere/x.csv}\n",
            global_yaml=project_global,
        )


def test_absolute_allowed_root(tmp_path: Path) -> None:
    shared = tmp_path / "abs_shared"
    shared.mkdir()
    sources = sources_of(
        tmp_path / "p",
        f"data_sources:\n  rec: {{path: '{shared}/r.csv'}}\n",
        global_yaml=GLOBAL.replace("allowed_roots: []", f"allowed_roots: ['{shared}']"),
    )
    assert sources["rec"].path == shared.resolve() / "r.csv"


@pytest.mark.parametrize(
    ("layer", "options"),
    [
        ("case", {}),
        ("set", {"overrides": ["data.allowed_roots=[/]"]}),
    ],
)
def test_a_case_or_an_override_cannot_widen_the_allowed_roots(
    tmp_path: Path, layer: str, options: dict[str, Any]
) -> None:
    case_yaml = "data:\n  allowed_roots: [/]\ndata_sources:\n  x: {path: /tmp/x.csv}\n"
    if layer == "set":
        case_yaml = "data_sources:\n  x: {}\n"
    project = build_project(tmp_path, case_yaml)
    with pytest.raises(ConfigError) as info:
        ConfigManager(project).load_case("demo", **options)
    origin = "cases/demo/case.yaml:2" if layer == "case" else "--set data.allowed_roots"
    assert str(info.value) == (
        f"{origin}: data.allowed_roots can only be set in config/global.yaml or an env layer "
        "(config/env/NAME.yaml); a case, --params or --set cannot widen where data may go"
    )


def test_pickle_outside_case_folder_is_untrusted_unless_marked(tmp_path: Path) -> None:
    sources = sources_of(
        tmp_path,
        """\
        data_sources:
          own: {format: pickle}
          own_explicit: {path: cases/demo/data/x.pkl}
          shared: {path: data/raw/blob.pkl}
          other_case: {path: cases/other/data/blob.pkl}
          marked: {path: data/raw/blob2.pkl, trusted: true}
          table: {path: data/raw/table.parquet}
        """,
    )

    def trusted(name: str) -> bool:  # the trust check made on the resolved file when read
        path = sources[name].path
        return path is not None and sources[name].may_unpickle(path.resolve())

    assert trusted("own")
    assert trusted("own_explicit")
    assert not trusted("shared")
    assert not trusted("other_case")
    assert trusted("marked")
    assert trusted("table")  # only pickle runs code on load


# -- property: the merge rule ---------------------------------------------------------------

_KEYS = st.sampled_from(["a", "b", "c", "d"])
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet="xyz:- 0", max_size=4),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(_KEYS, children, max_size=3)
    ),
    max_leaves=12,
)
_LAYERS = st.dictionaries(_KEYS, _VALUES, max_size=4)


def reference_merge(base: Any, over: Any, source: str, origins: dict[Any, str], path: Any) -> Any:
    """Mappings merge key by key; anything else replaces. Records the layer of each leaf."""
    if isinstance(base, dict) and isinstance(over, dict):
        result = dict(base)
        for key, value in over.items():
            result[key] = reference_merge(base.get(key), value, source, origins, (*path, key))
        if not result and path:  # an empty mapping is a leaf written by the later layer
            origins[path] = source
        return result
    for key in [k for k in origins if k[: len(path)] == path]:
        del origins[key]
    mark_leaves(over, source, origins, path)
    return over


def mark_leaves(value: Any, source: str, origins: dict[Any, str], path: Any) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            mark_leaves(item, source, origins, (*path, key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            mark_leaves(item, source, origins, (*path, index))
    else:
        origins[path] = source


def leaves(value: Any, path: Any = ()) -> list[Any]:
    if isinstance(value, dict) and value:
        return [p for k, v in value.items() for p in leaves(v, (*path, k))]
    if isinstance(value, list) and value:
        return [p for i, v in enumerate(value) for p in leaves(v, (*path, i))]
    return [path]


@settings(max_examples=200, deadline=None)
@given(_LAYERS, _LAYERS)
def test_merge_rule_matches_reference(lower: dict[str, Any], upper: dict[str, Any]) -> None:
    merged = MergedConfig()
    merged.apply(parse_yaml(yaml.safe_dump(lower).encode(), source="global.yaml"))
    merged.apply(parse_yaml(yaml.safe_dump(upper).encode(), source="case.yaml"))

    origins: dict[Any, str] = {}
    expected = reference_merge({}, lower, "global.yaml", origins, ())
    expected = reference_merge(expected, upper, "case.yaml", origins, ())
    assert merged.data == expected
    # every leaf of the result is traced to the layer it came from
    for path in leaves(expected):
        if path == ():
            continue
        assert merged.origin(path).split(":")[0] == origins[path], path
