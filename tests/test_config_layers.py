"""End-to-end tests of the configuration layers through ConfigManager.load_case.

Layers, lowest first: built-in defaults, config/global.yaml, config/env/<env>.yaml,
cases/<case>/case.yaml, --params files in order, --set overrides in order.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from datareplay.config.manager import CaseConfig, ConfigManager
from datareplay.errors import ConfigError, UnknownNameError, UnsafeNameError
from datareplay.project.paths import Project

GLOBAL = """\
project:
  name: layers-test
data:
  default_format: parquet
  raw_root: data/raw
vars:
  level: global
  speed: 1
  root: data
"""

FAST = """\
vars:
  level: env
  rate: 10
run:
  release_memory: false
"""

CASE = """\
description: layer test
vars:
  speed: 2
  rate: 20
data_sources:
  raw:
    path: ${vars.root}/raw/${case.name}.csv
    read_only: true
  scaled: {}
pipeline:
  - plugin: Loader
    name: load
    outputs: {out: raw}
    params: {rate: 5}
  - plugin: Scale
    inputs: {data: raw}
    outputs: {out: scaled}
    params:
      factor: 2
      offset: 0
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "config" / "env").mkdir(parents=True)
    (root / "cases" / "demo").mkdir(parents=True)
    (root / "config" / "global.yaml").write_text(GLOBAL)
    (root / "config" / "env" / "fast.yaml").write_text(FAST)
    (root / "config" / "env" / "slow.yaml").write_text("vars:\n  level: slow\n")
    (root / "cases" / "demo" / "case.yaml").write_text(CASE)
    return root


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.write_text(textwrap.dedent(text))
    return path


def load(root: Path, **kwargs: Any) -> CaseConfig:
    return ConfigManager(Project.at(root)).load_case("demo", **kwargs)


def value(config: CaseConfig, *path: str | int) -> Any:
    node: Any = config.merged.data
    for part in path:
        node = node[part]
    return node


# -- without layers ------------------------------------------------------------------------


def test_global_and_case_only(root: Path) -> None:
    config = load(root)
    assert config.files == ["config/global.yaml", "cases/demo/case.yaml"]
    assert value(config, "vars") == {"level": "global", "speed": 2, "root": "data", "rate": 20}
    assert config.merged.origin(("vars", "level")) == "config/global.yaml:7"
    assert config.merged.origin(("vars", "speed")) == "cases/demo/case.yaml:3"
    assert config.settings.run.release_memory is True  # built-in default
    assert config.merged.origin(("run", "release_memory")) == "built-in default"
    assert config.overrides == []


# -- layer order ---------------------------------------------------------------------------


def test_env_layer_over_global(root: Path) -> None:
    config = load(root, env="fast")
    assert config.files == ["config/global.yaml", "config/env/fast.yaml", "cases/demo/case.yaml"]
    assert value(config, "vars", "level") == "env"
    assert config.merged.origin(("vars", "level")) == "config/env/fast.yaml:2"
    assert config.settings.run.release_memory is False
    assert config.merged.origin(("run", "release_memory")) == "config/env/fast.yaml:5"
    # keys the env layer does not set stay as global wrote them
    assert config.merged.origin(("vars", "root")) == "config/global.yaml:9"


def test_case_layer_over_env(root: Path) -> None:
    config = load(root, env="fast")
    assert value(config, "vars", "rate") == 20
    assert config.merged.origin(("vars", "rate")) == "cases/demo/case.yaml:4"


def test_params_file_over_case(root: Path) -> None:
    params = write(
        root,
        "params.yaml",
        """\
        vars:
          speed: 3
        data:
          default_format: csv
        """,
    )
    config = load(root, params_files=[params])
    assert config.files[-1] == "params.yaml"
    assert value(config, "vars", "speed") == 3
    assert config.merged.origin(("vars", "speed")) == "params.yaml:2"
    # nested keys merge: the rest of vars and data is kept
    assert value(config, "vars", "level") == "global"
    assert value(config, "data") == {"default_format": "csv", "raw_root": "data/raw"}
    assert config.merged.origin(("data", "default_format")) == "params.yaml:4"
    assert config.merged.origin(("data", "raw_root")) == "config/global.yaml:5"


def test_params_files_apply_in_order(root: Path) -> None:
    first = write(root, "first.yaml", "vars:\n  speed: 3\n  rate: 30\n")
    second = write(root, "second.yaml", "\nvars:\n  speed: 4\n")
    config = load(root, params_files=[first, second])
    assert config.files[-2:] == ["first.yaml", "second.yaml"]
    assert value(config, "vars", "speed") == 4
    assert config.merged.origin(("vars", "speed")) == "second.yaml:3"
    assert value(config, "vars", "rate") == 30
    assert config.merged.origin(("vars", "rate")) == "first.yaml:3"


def test_params_file_list_replaces(root: Path) -> None:
    params = write(root, "params.yaml", "plugins:\n  paths: [a, b]\n")
    config = load(root, params_files=[params])
    assert config.settings.plugins.paths == ["a", "b"]
    assert config.merged.origin(("plugins", "paths", 1)) == "params.yaml:2"


def test_set_over_params(root: Path) -> None:
    params = write(root, "params.yaml", "vars:\n  speed: 3\n")
    config = load(root, params_files=[params], overrides=["vars.speed=4"])
    assert value(config, "vars", "speed") == 4
    assert config.merged.origin(("vars", "speed")) == "--set vars.speed"


def test_two_sets_last_wins(root: Path) -> None:
    config = load(root, overrides=["vars.speed=5", "vars.speed=6"])
    assert value(config, "vars", "speed") == 6
    assert [o for o in config.overrides if o[0] == "vars.speed"] == [
        ("vars.speed", 6, "--set vars.speed")
    ]


def test_set_values_are_typed_the_yaml_way(root: Path) -> None:
    config = load(
        root,
        overrides=[
            "pipeline.Scale.params.factor=0.8",
            "pipeline.Scale.params.offset='0.8'",
            "pipeline.load.params.rate=[1, 2]",
            "run.release_memory=false",
            "vars.none=",
        ],
    )
    params = config.settings.pipeline[1].params
    assert params == {"factor": 0.8, "offset": "0.8"}
    assert config.settings.pipeline[0].params == {"rate": [1, 2]}
    assert config.settings.run.release_memory is False
    assert config.settings.vars["none"] is None


def test_set_empty_value_is_null_and_checked(root: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"^--set description: description: .*string \(got None\) \(written as nothing\); "
        r"to keep it as text, quote it: --set 'description=\"\"'$",
    ):
        load(root, overrides=["description="])


def test_all_layers_origins(root: Path) -> None:
    params = write(
        root,
        "params.yaml",
        """\
        vars:
          speed: 3
        pipeline.Scale.params.offset: 7
        """,
    )
    config = load(
        root,
        env="fast",
        params_files=[params],
        overrides=["pipeline.Scale.params.factor=9"],
    )
    origin = config.merged.origin
    assert origin(("project", "name")) == "config/global.yaml:2"
    assert origin(("vars", "level")) == "config/env/fast.yaml:2"
    assert origin(("description",)) == "cases/demo/case.yaml:1"
    assert origin(("vars", "speed")) == "params.yaml:2"
    assert origin(("pipeline", 1, "params", "offset")) == "params.yaml:3"
    assert origin(("pipeline", 1, "params", "factor")) == "--set pipeline.Scale.params.factor"
    assert config.settings.pipeline[1].params == {"factor": 9, "offset": 7}
    assert config.files == [
        "config/global.yaml",
        "config/env/fast.yaml",
        "cases/demo/case.yaml",
        "params.yaml",
    ]


def test_overrides_list_exactly_env_params_and_set_values(root: Path) -> None:
    params = write(
        root,
        "params.yaml",
        """\
        vars:
          speed: 3
        pipeline.load.params.rate: 50
        """,
    )
    config = load(
        root,
        env="fast",
        params_files=[params],
        overrides=["pipeline.Scale.params.factor=9", "+vars.label=night"],
    )
    assert sorted(config.overrides) == sorted(
        [
            # vars.rate from fast.yaml is overridden by case.yaml, so it is not listed
            ("vars.level", "env", "config/env/fast.yaml:2"),
            ("run.release_memory", False, "config/env/fast.yaml:5"),
            ("vars.speed", 3, "params.yaml:2"),
            ("pipeline[0].params.rate", 50, "params.yaml:3"),
            ("pipeline[1].params.factor", 9, "--set pipeline.Scale.params.factor"),
            ("vars.label", "night", "--set vars.label"),
        ]
    )


def test_overrides_empty_params_file_and_no_set(root: Path) -> None:
    params = write(root, "params.yaml", "# nothing yet\n")
    config = load(root, params_files=[params])
    assert config.overrides == []
    assert config.files[-1] == "params.yaml"


# -- params files --------------------------------------------------------------------------


def test_params_file_with_dotted_keys(root: Path) -> None:
    params = write(
        root,
        "params.yaml",
        """\
        pipeline.Scale.params.factor: 4
        pipeline.0.params.rate: 6
        pipeline.load.params.new_param: x
        vars.speed: 8
        +vars.extra.deep: 1
        """,
    )
    config = load(root, params_files=[params])
    assert config.settings.pipeline[1].params == {"factor": 4, "offset": 0}
    assert config.settings.pipeline[0].params == {"rate": 6, "new_param": "x"}
    assert value(config, "vars", "speed") == 8
    assert value(config, "vars", "extra") == {"deep": 1}
    assert config.merged.origin(("pipeline", 1, "params", "factor")) == "params.yaml:1"
    assert config.merged.origin(("pipeline", 0, "params", "new_param")) == "params.yaml:3"
    assert config.merged.origin(("vars", "extra", "deep")) == "params.yaml:5"


def test_params_file_dotted_key_unknown_names_file_line_and_suggestion(root: Path) -> None:
    params = write(root, "params.yaml", "vars:\n  speed: 3\npipline.Scale.params.factor: 4\n")
    with pytest.raises(
        ConfigError,
        match=r"^params\.yaml:3 pipline\.Scale\.params\.factor: no key 'pipline' in the top "
        r"level; did you mean 'pipeline'\?",
    ):
        load(root, params_files=[params])


def test_params_file_dotted_key_unknown_step(root: Path) -> None:
    params = write(root, "params.yaml", "pipeline.Scael.params.factor: 4\n")
    with pytest.raises(
        ConfigError, match=r"^params\.yaml:1 .*'pipeline' has no item 'Scael'; did you mean 'Scale'"
    ):
        load(root, params_files=[params])


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", "42\n"])
def test_params_file_that_is_not_a_mapping(root: Path, text: str) -> None:
    params = write(root, "params.yaml", text)
    with pytest.raises(
        ConfigError, match=r"^params\.yaml: a params file must be a mapping of keys$"
    ):
        load(root, params_files=[params])


def test_missing_params_file(root: Path) -> None:
    with pytest.raises(ConfigError, match=r"^nope\.yaml: file not found$"):
        load(root, params_files=[root / "nope.yaml"])


def test_params_file_with_unknown_nested_key_fails_validation(root: Path) -> None:
    params = write(root, "params.yaml", "data:\n  defualt_format: csv\n")
    with pytest.raises(
        ConfigError,
        match=r"^params\.yaml:2: unknown key 'data\.defualt_format'; did you mean "
        r"'default_format'\?",
    ):
        load(root, params_files=[params])


# -- --set ---------------------------------------------------------------------------------


def test_set_unknown_key_names_the_suggestion(root: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"^--set pipline\.Scale\.params\.factor: no key 'pipline' in the top level; "
        r"did you mean 'pipeline'\?$",
    ):
        load(root, overrides=["pipline.Scale.params.factor=3"])


def test_set_unknown_nested_key_suggests(root: Path) -> None:
    with pytest.raises(ConfigError, match=r"no key 'raw_rot' in data; did you mean 'raw_root'\?"):
        load(root, overrides=["data.raw_rot=x"])


def test_set_schema_key_with_a_default_without_plus(root: Path) -> None:
    config = load(root, overrides=["data.case_folder=store", "project.name=renamed"])
    assert config.settings.data.case_folder == "store"
    assert config.settings.project.name == "renamed"
    assert config.merged.origin(("data", "case_folder")) == "--set data.case_folder"


def test_set_step_param_not_in_case_without_plus(root: Path) -> None:
    config = load(root, overrides=["pipeline.load.params.window=3"])
    assert config.settings.pipeline[0].params == {"rate": 5, "window": 3}


def test_set_added_key_the_schema_refuses_names_the_set(root: Path) -> None:
    with pytest.raises(ConfigError, match=r"^--set project\.extra: unknown key 'project\.extra'"):
        load(root, overrides=["+project.extra=1"])


def test_set_bad_value_names_the_set(root: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"^--set run\.release_memory: run\.release_memory: .*\(got 'yes please'\)",
    ):
        load(root, overrides=["run.release_memory=yes please"])


def test_set_without_equals(root: Path) -> None:
    with pytest.raises(ConfigError, match=r"^--set expects key\.path=value, got 'vars\.speed'$"):
        load(root, overrides=["vars.speed"])


# -- environments --------------------------------------------------------------------------


def test_unknown_environment_suggests(root: Path) -> None:
    with pytest.raises(
        UnknownNameError,
        match=r"^unknown environment 'fsat': no config/env/fsat\.yaml; did you mean 'fast'\?$",
    ):
        load(root, env="fsat")


def test_unknown_environment_lists_environments(root: Path) -> None:
    with pytest.raises(UnknownNameError, match=r"\(environments: fast, slow\)$"):
        load(root, env="production")


def test_unknown_environment_without_env_folder(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "config").mkdir(parents=True)
    (root / "cases" / "demo").mkdir(parents=True)
    (root / "cases" / "demo" / "case.yaml").write_text("pipeline:\n  - plugin: A\n")
    with pytest.raises(UnknownNameError, match=r"\(environments: none\)$"):
        load(root, env="fast")


@pytest.mark.parametrize("env", ["../x", "../../etc/passwd", "a/b", "..", ".hidden", ""])
def test_bad_environment_name_is_refused(root: Path, env: str) -> None:
    (root / "x.yaml").write_text("vars: {level: escaped}\n")
    if env == "":
        # an empty --env means no environment layer
        assert value(load(root, env=env), "vars", "level") == "global"
        return
    with pytest.raises(UnsafeNameError, match=r"invalid environment name"):
        load(root, env=env)


def test_environment_layer_with_a_list_and_references(root: Path) -> None:
    (root / "config" / "env" / "ci.yaml").write_text(
        "plugins:\n  paths: [ci_modules]\nvars:\n  root: /ci/${case.name}\n"
    )
    config = load(root, env="ci")
    assert config.settings.plugins.paths == ["ci_modules"]
    assert config.merged.origin(("plugins", "paths", 0)) == "config/env/ci.yaml:2"
    assert config.settings.data_sources["raw"].path == "/ci/demo/raw/demo.csv"


# -- references ----------------------------------------------------------------------------


def test_case_name_in_a_data_source_path(root: Path) -> None:
    config = load(root)
    assert config.settings.data_sources["raw"].path == "data/raw/demo.csv"
    assert config.merged.origin(("data_sources", "raw", "path")) == "cases/demo/case.yaml:7"


def test_reference_follows_the_highest_layer(root: Path) -> None:
    config = load(root, overrides=["vars.root=/mnt/drive"])
    assert config.settings.data_sources["raw"].path == "/mnt/drive/raw/demo.csv"


def test_references_to_builtins_and_typed_values(root: Path) -> None:
    config = load(
        root,
        overrides=[
            "description=${case.folder} in ${project.root}",
            "pipeline.Scale.params.factor=${vars.speed}",
        ],
    )
    assert config.settings.description == f"cases/demo in {root.resolve()}"
    assert config.settings.pipeline[1].params["factor"] == 2  # keeps the int type


def test_env_variable_reference_from_the_environment(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DR_LAYERS_DRIVE", "/secret/drive")
    config = load(root, overrides=["vars.root=${env:DR_LAYERS_DRIVE}"])
    assert config.settings.data_sources["raw"].path == "/secret/drive/raw/demo.csv"


def test_unknown_reference_names_the_key_and_origin(root: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"^--set description: description: unknown reference '\$\{vars\.sped\}'; "
        r"did you mean 'speed'\?$",
    ):
        load(root, overrides=["description=${vars.sped}"])


def test_reference_cycle_across_layers(root: Path) -> None:
    params = write(root, "params.yaml", "vars:\n  a: ${vars.b}\n  b: ${vars.a}\n")
    with pytest.raises(ConfigError, match=r"^params\.yaml:\d: vars\.[ab]: reference cycle: "):
        load(root, params_files=[params])


def test_literal_dollar_brace(root: Path) -> None:
    config = load(root, overrides=["description=cost $${vars.speed}"])
    assert config.settings.description == "cost ${vars.speed}"
