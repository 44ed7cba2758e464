"""Configuration never runs code, never shows a secret, and is measured before it is read.

- ``config/logging.yaml`` is checked before ``dictConfig`` sees it: no factories, only the
  standard handler and formatter classes, no imports, no log file outside the project
  (``datareplay.config.logging_config``);
- values from ``${env:NAME}`` are redacted wherever config values are shown, logged or
  quoted in errors, and plugins still receive them (``datareplay.config.secrets``);
- YAML files are checked by ``fstat`` before they are read, and must be regular files;
  numbers and characters YAML cannot hold are one-line errors (``safe_yaml``).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import tree_hash
from datareplay.config.logging_config import HANDLERS, check_logging_config
from datareplay.config.safe_yaml import MAX_BYTES, YamlDocument, load_yaml, parse_yaml
from datareplay.config.secrets import EnvValues, Redacted, RedactingFilter, Secrets
from datareplay.errors import ConfigError

SECRET = "hunter2-s3cr3t-value"
RATE = "pipeline.SignalAligner.params.rate_hz"

# ---------------------------------------------------------------- logging.yaml runs no code


def crafted_logging(marker: Path) -> dict[str, str]:
    """logging.yaml files that would create ``marker`` if dictConfig ever saw them."""
    touch = f"touch {marker}"
    root = "root:\n  handlers: [h]\n"
    return {
        "handler-factory": f"version: 1\nhandlers:\n  h:\n    '()': os.system\n    command: {touch}\n"
        + root,
        "formatter-factory": (
            "version: 1\nformatters:\n  f:\n    '()': os.system\n"
            f"    command: {touch}\nhandlers:\n  h: {{class: logging.NullHandler, formatter: f}}\n"
            + root
        ),
        "filter-factory": (
            "version: 1\nfilters:\n  x:\n    '()': os.system\n"
            f"    command: {touch}\nhandlers:\n  h: {{class: logging.NullHandler, filters: [x]}}\n"
            + root
        ),
        "nested-factory": (
            "version: 1\nhandlers:\n  h:\n    class: logging.StreamHandler\n"
            f"    stream: {{'()': os.system, command: {touch}}}\n" + root
        ),
        "handler-class": (
            "version: 1\nhandlers:\n  h:\n    class: subprocess.Popen\n"
            f"    args: [touch, {marker}]\n" + root
        ),
        "formatter-class": (
            "version: 1\nformatters:\n  f: {class: subprocess.Popen}\n"
            "handlers:\n  h: {class: logging.NullHandler, formatter: f}\n" + root
        ),
        "ext-import": (
            "version: 1\nhandlers:\n  h:\n    class: logging.StreamHandler\n"
            "    stream: ext://os.system\n" + root
        ),
        "cfg-reference": (
            "version: 1\nhandlers:\n  h:\n    class: logging.StreamHandler\n"
            "    stream: cfg://handlers.h\n" + root
        ),
        "attributes": (
            "version: 1\nhandlers:\n  h:\n    class: logging.NullHandler\n"
            "    '.': {handle: x}\n" + root
        ),
    }


COMMANDS = [
    ["config", "--case", "demo"],
    ["config", "--case", "demo", "--json"],
    ["validate", "--case", "nonexistent"],
    ["validate", "--case", "demo"],
    ["generate-docs", "--check"],
    ["plugins"],
    ["describe", "SignalAligner"],
    ["pipeline", "--case", "demo"],
    ["plugin", "SignalAligner", "--case", "demo"],
]


@pytest.mark.parametrize("attack", sorted(crafted_logging(Path("m"))))
def test_crafted_logging_config_never_runs_code_on_any_command(
    project: Path, tmp_path: Path, cli, attack: str
) -> None:
    marker = tmp_path / "marker"
    (project / "config" / "logging.yaml").write_text(crafted_logging(marker)[attack])
    before = tree_hash(project)
    for args in COMMANDS:
        result = cli(project, *args)
        assert result.code == 2, (args, result.err)
        assert result.err.count("\n") == 1, result.err
        assert result.err.startswith("error: config/logging.yaml:"), result.err
        assert "configuration never runs code" in result.err
        assert result.out == ""
        assert not marker.exists(), (attack, args)
    assert tree_hash(project) == before


@pytest.mark.parametrize(
    "args",
    [["config", "--case", "demo"], ["validate", "--case", "nope"], ["generate-docs", "--check"]],
)
def test_crafted_project_given_with_project_option_runs_nothing(
    project: Path, tmp_path: Path, args: list[str]
) -> None:
    """The attack of the issue: another folder's project, named with --project."""
    marker = tmp_path / "marker"
    (project / "config" / "logging.yaml").write_text(crafted_logging(marker)["handler-factory"])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "datareplay", "--project", str(project), *args],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATAREPLAY_PROJECT": ""},
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: config/logging.yaml:4: handlers.h.(): factories")
    assert proc.stderr.count("\n") == 1
    assert not marker.exists()


def check(text: str, root: Path) -> dict:
    return check_logging_config(parse_yaml(text.encode(), source="logging.yaml"), project_root=root)


@pytest.mark.parametrize("cls", sorted(HANDLERS))
def test_every_standard_handler_class_is_accepted(tmp_path: Path, cls: str) -> None:
    options = "filename: logs/x.log" if "File" in cls else ""
    text = f"version: 1\nhandlers:\n  h:\n    class: {cls}\n    {options}\n"
    assert check(text, tmp_path)["handlers"]["h"]["class"] == cls


def test_shipped_logging_config_is_accepted_unchanged() -> None:
    shipped = Path(__file__).resolve().parent.parent / "config" / "logging.yaml"
    doc = load_yaml(shipped, display="config/logging.yaml")
    assert check_logging_config(doc, project_root=shipped.parent.parent) == doc.data


def test_relative_log_file_is_written_inside_the_project_whatever_the_cwd(
    project: Path, tmp_path: Path
) -> None:
    (project / "logs").mkdir()
    (project / "config" / "logging.yaml").write_text(
        "version: 1\nhandlers:\n  file:\n    class: logging.FileHandler\n"
        "    filename: logs/replay.log\nroot:\n  level: INFO\n  handlers: [file]\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "datareplay", "--project", str(project), "config", "--case", "demo"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATAREPLAY_PROJECT": "", "DR_SAFETY_TOKEN": "x"},
    )
    assert proc.returncode == 0, proc.stderr
    assert list(elsewhere.iterdir()) == []
    assert (project / "logs" / "replay.log").is_file()


@pytest.mark.parametrize("filename", ["../outside.log", "/tmp/outside.log", "logs/../../x.log"])
def test_log_file_outside_the_project_is_refused(tmp_path: Path, filename: str) -> None:
    text = (
        f"version: 1\nhandlers:\n  h:\n    class: logging.FileHandler\n    filename: {filename}\n"
    )
    with pytest.raises(
        ConfigError, match=r"^logging\.yaml:5: handlers\.h\.filename: log file .* is outside"
    ):
        check(text, tmp_path / "project")


def test_log_file_through_a_symlink_out_of_the_project_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "logs").symlink_to(tmp_path)
    text = "version: 1\nhandlers:\n  h:\n    class: logging.FileHandler\n    filename: logs/x.log\n"
    with pytest.raises(ConfigError, match="is outside the project"):
        check(text, root)


def test_log_folder_outside_the_project_can_be_allowed_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = tmp_path / "var-log"
    monkeypatch.setenv("DATAREPLAY_LOG_DIRS", str(logs))
    text = (
        f"version: 1\nhandlers:\n  h:\n    class: logging.FileHandler\n    filename: {logs}/x.log\n"
    )
    assert check(text, tmp_path / "project")["handlers"]["h"]["filename"] == str(logs / "x.log")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 2\n", r"^logging\.yaml:1: version: must be 1"),
        ("- a\n", r"^logging\.yaml: must be a logging dictConfig mapping"),
        ("version: 1\nhandler: {}\n", r"unknown key in the top level; did you mean 'handlers'\?"),
        ("version: 1\nhandlers:\n  h: {level: INFO}\n", r"handlers\.h: a handler needs a 'class'"),
        (
            "version: 1\nhandlers:\n  h: {class: logging.Formatter}\n",
            r"'logging\.Formatter' is not a handler class",
        ),
        (
            "version: 1\nhandlers:\n  h: {class: logging.StreamHandler, stream: ext://sys.stdin}\n",
            r"'ext://sys\.stdin' is not allowed",
        ),
        (
            "version: 1\nhandlers:\n  h: {class: logging.NullHandler, level: [INFO]}\n",
            r"handlers\.h\.level: must be a single value",
        ),
        ("version: 1\nloggers:\n  a: {handlers: h}\n", r"loggers\.a\.handlers: must be a list"),
        ("version: 1\nfilters:\n  x: {class: logging.Formatter}\n", r"is not a filter class"),
        ("version: 1\nfilters:\n  x: {nme: a}\n", r"filters\.x\.nme: unknown key in filters\.x"),
        (
            "version: 1\ndisable_existing_loggers: no\n",
            r"^logging\.yaml:2: disable_existing_loggers: must be true or false, got 'no' "
            r"\(only true and false are booleans in YAML 1\.2",
        ),
        ("version: 1\nloggers:\n  a: {propagate: off}\n", r"loggers\.a\.propagate: must be true"),
    ],
)
def test_logging_config_shape_errors_name_line_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        check(text, tmp_path)
    assert "\n" not in str(info.value)


def test_invalid_logging_values_are_one_line_config_errors(project: Path, cli) -> None:
    (project / "config" / "logging.yaml").write_text(
        "version: 1\nhandlers:\n  h: {class: logging.StreamHandler, level: LOUD}\n"
        "root: {handlers: [h]}\n"
    )
    result = cli(project, "config", "--case", "demo")
    assert result.code == 2
    assert result.err == (
        "error: config/logging.yaml: invalid logging configuration: Unable to configure "
        "handler 'h' (ValueError: Unknown level: 'LOUD')\n"
    )


# ---------------------------------------------------------------- ${env:NAME} is never shown

SECRET_PLUGIN = '''"""A plugin that hands back the token it was given."""

from __future__ import annotations

import logging

from datareplay import BasePlugin, DataHub, Param


class SecretEcho(BasePlugin):
    """Write the token it was given, and log it (which must not show)."""

    outputs = {"echo": "The token."}

    token = Param("", "A token.")

    def run(self, hub: DataHub) -> None:
        logging.getLogger("secret_echo").info("plugin got token %s", self.token)
        hub["echo"] = {"token": self.token}
'''

SECRET_CASE = """description: uses a secret
vars:
  token: ${env:DR_SAFETY_TOKEN}
  url: https://example.invalid/?t=${vars.token}
data_sources:
  echo: {format: json}
pipeline:
  - plugin: SecretEcho
    params: {token: "${vars.url}"}
"""


@pytest.fixture
def secret_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DR_SAFETY_TOKEN", SECRET)
    (project / "modules" / "secret_echo.py").write_text(SECRET_PLUGIN)
    (project / "cases" / "secret").mkdir()
    (project / "cases" / "secret" / "case.yaml").write_text(SECRET_CASE)
    return project


def test_plugin_receives_the_real_value_but_log_and_output_never_show_it(
    secret_project: Path, cli
) -> None:
    result = cli(
        secret_project,
        "pipeline",
        "--case",
        "secret",
        "--set",
        "+vars.extra=${env:DR_SAFETY_TOKEN}",
    )
    assert result.code == 0, result.err
    written = json.loads((secret_project / "cases" / "secret" / "data" / "echo.json").read_text())
    assert written == {"token": f"https://example.invalid/?t={SECRET}"}
    assert SECRET not in result.out + result.err
    assert (
        "plugin got token https://example.invalid/?t=<redacted: env:DR_SAFETY_TOKEN>" in result.err
    )
    assert "override vars.extra = <redacted: env:DR_SAFETY_TOKEN> (--set vars.extra)" in result.err
    assert "uses environment variable DR_SAFETY_TOKEN" in result.err


def test_config_shows_env_values_redacted(secret_project: Path, cli) -> None:
    result = cli(secret_project, "config", "--case", "secret")
    assert result.code == 0, result.err
    assert SECRET not in result.out + result.err
    marker = "<redacted: env:DR_SAFETY_TOKEN>"
    assert f"token: {marker}  # cases/secret/case.yaml:3" in result.out
    assert f"url: {marker}  # cases/secret/case.yaml:4" in result.out  # a reference to it
    assert f"token: {marker}  # cases/secret/case.yaml:9" in result.out  # and one to that


def test_config_json_shows_env_values_redacted(secret_project: Path, cli) -> None:
    result = cli(secret_project, "config", "--case", "secret", "--json")
    assert result.code == 0, result.err
    assert SECRET not in result.out + result.err
    data = json.loads(result.out)
    marker = "<redacted: env:DR_SAFETY_TOKEN>"
    assert data["config"]["vars"] == {"token": marker, "url": marker}
    assert data["config"]["pipeline"][0]["params"] == {"token": marker}
    assert data["origins"]["vars.token"] == "cases/secret/case.yaml:3"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            f"{RATE}=${{env:DR_SAFETY_TOKEN}}",
            "must be float, got str <redacted: env:DR_SAFETY_TOKEN>",
        ),
        (
            "pipeline.SignalAligner.plugin=${env:DR_SAFETY_TOKEN}",
            "unknown plugin <redacted: env:DR_SAFETY_TOKEN>",
        ),
        (
            "data_sources.events.format=${env:DR_SAFETY_TOKEN}",
            "unknown format <redacted: env:DR_SAFETY_TOKEN>",
        ),
        (
            "data_sources.events.read_only=${env:DR_SAFETY_TOKEN}",
            "(got <redacted: env:DR_SAFETY_TOKEN>)",
        ),
        (
            "data_sources.events.path=/elsewhere/${env:DR_SAFETY_TOKEN}.csv",
            "path '/elsewhere/<redacted: env:DR_SAFETY_TOKEN>.csv' resolves outside",
        ),
        ("+vars.x=${vars.y}-${env:DR_SAFETY_TOKEN}", "unknown reference '${vars.y}'"),
    ],
)
def test_errors_never_quote_an_env_value(
    project: Path, cli, monkeypatch: pytest.MonkeyPatch, setting: str, message: str
) -> None:
    monkeypatch.setenv("DR_SAFETY_TOKEN", SECRET)
    for args in (["validate", "--case", "demo"], ["--debug", "validate", "--case", "demo"]):
        result = cli(project, *args, "--set", setting)
        assert result.code == 2, result.err
        assert message in result.err
        assert SECRET not in result.err + result.out


def test_short_env_values_are_redacted_where_they_are_quoted(
    project: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DR_SAFETY_TOKEN", "ab")
    result = cli(project, "validate", "--case", "demo", "--set", f"{RATE}=${{env:DR_SAFETY_TOKEN}}")
    assert result.code == 2
    assert "'ab'" not in result.err
    assert "got str <redacted: env:DR_SAFETY_TOKEN>" in result.err


def test_env_values_tracks_paths_through_references() -> None:
    from datareplay.config.interpolation import interpolate

    env = EnvValues()
    data = interpolate(
        {"vars": {"a": "${env:T}", "b": "x-${vars.a}", "c": "plain", "d": {"e": "${vars.b}"}}},
        builtins={},
        where=lambda path: "f.yaml",
        environ={"T": "tok"},
        env=env,
    )
    assert data["vars"]["d"]["e"] == "x-tok"
    assert env.paths == {("vars", "a"): ("T",), ("vars", "b"): ("T",), ("vars", "d", "e"): ("T",)}
    assert env.values == {"T": "tok"}
    shown = env.redacted(data)
    assert shown["vars"]["c"] == "plain"
    assert str(shown["vars"]["d"]["e"]) == "<redacted: env:T>"
    assert env.redacted(data["vars"]["d"], ("vars", "d")) == {"e": Redacted(("T",))}


def test_secrets_redact_quoted_values_always_and_bare_text_from_four_characters() -> None:
    secrets = Secrets()
    secrets.add({"A": "xy", "B": "longer-secret", "C": ""})
    assert secrets.redact("got 'xy' and xy") == "got <redacted: env:A> and xy"
    assert secrets.redact("url=https://h/?t=longer-secret") == "url=https://h/?t=<redacted: env:B>"
    assert Secrets().redact("nothing known") == "nothing known"


def test_logging_filter_redacts_messages_arguments_and_tracebacks() -> None:
    secrets = Secrets()
    secrets.add({"T": SECRET})
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token %s", (SECRET,), None)
    try:
        raise ValueError(f"bad {SECRET}")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert RedactingFilter(secrets).filter(record)
    text = logging.Formatter().format(record)
    assert SECRET not in text
    assert text.count("<redacted: env:T>") == 2


# ---------------------------------------------------------------- sizes before reading


def test_sparse_two_gigabyte_case_is_refused_without_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = tmp_path / "case.yaml"
    with case.open("wb") as handle:
        handle.truncate(2 * 1024**3)
    read: list[int] = []
    real_read = os.read

    def counting_read(fd: int, n: int) -> bytes:
        data = real_read(fd, n)
        read.append(len(data))
        return data

    monkeypatch.setattr(os, "read", counting_read)
    with pytest.raises(ConfigError, match=r"file is 2,147,483,648 bytes; configuration files"):
        load_yaml(case, display="case.yaml")
    assert read == []


def test_a_file_read_is_capped_at_the_limit_plus_one_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that grows after it was measured is still read no further than the limit."""
    from datareplay.config import safe_yaml

    path = tmp_path / "growing.yaml"
    path.write_bytes(b"a: 1\n")
    real_fstat = os.fstat

    def small_fstat(fd: int) -> os.stat_result:
        result = real_fstat(fd)
        fields = list(result)
        fields[6] = 10  # st_size as it was when measured
        return os.stat_result(fields)

    path.write_bytes(b"#" * (MAX_BYTES + 4096))
    monkeypatch.setattr(safe_yaml.os, "fstat", small_fstat)
    read: list[int] = []
    real_read = os.read
    monkeypatch.setattr(safe_yaml.os, "read", lambda fd, n: read.append(n) or real_read(fd, n))
    with pytest.raises(ConfigError, match="file is more than 8,388,608 bytes"):
        load_yaml(path)
    assert sum(read) == MAX_BYTES + 1


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "folder"])
def test_params_file_that_is_not_a_regular_file_is_refused_at_once(
    project: Path, tmp_path: Path, kind: str
) -> None:
    if kind == "fifo":
        target = tmp_path / "params.yaml"
        os.mkfifo(target)
    elif kind == "folder":
        target = tmp_path / "params.yaml"
        target.mkdir()
    else:
        target = Path("/dev/zero")
    proc = subprocess.run(
        [sys.executable, "run.py", "config", "--case", "demo", "--params", str(target)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,  # a read that blocks or never ends fails here instead of hanging
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1
    assert "not a regular file" in proc.stderr or "is a directory" in proc.stderr


# ---------------------------------------------------------------- YAML values that cannot be


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a:\n  b: " + "1" * 5000 + "\n",
            r"^f\.yaml:2:6: a\.b: a number of 5,000 characters is too long",
        ),
        ("a: 0x" + "f" * 2000 + "\n", r"^f\.yaml:1:4: a: a number of 2,002 characters"),
        ("a: 1." + "5" * 1200 + "\n", r"^f\.yaml:1:4: a: a number of 1,202 characters"),
        ("a: x\x00y\n", r"^f\.yaml:1:5: control character U\+0000 is not allowed in YAML"),
        ("a: 1\nb: |\n  x\x07\n", r"^f\.yaml:3:4: control character U\+0007 is not allowed"),
        ("a: \ufffe\n", r"^f\.yaml:1:4: character U\+FFFE is not allowed in YAML"),
    ],
)
def test_values_yaml_cannot_hold_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_yaml(text.encode("utf-8"), source="f.yaml")
    assert "\n" not in str(info.value)


def test_long_but_reasonable_numbers_still_load() -> None:
    doc = parse_yaml(("a: " + "9" * 1000 + "\nb: 1:30\n").encode(), source="f.yaml")
    assert doc.data == {"a": int("9" * 1000), "b": "1:30"}  # YAML 1.2: no sexagesimal


def test_yaml_document_type_is_unchanged() -> None:
    assert isinstance(parse_yaml(b"a: 1\n", source="f"), YamlDocument)
