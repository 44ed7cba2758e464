"""The malformed-input battery: every bad input exits 2 with one line and changes nothing.

Each row puts one bad input into a fresh copy of the project (a case.yaml, global.yaml,
logging.yaml, template, --params file, plugin module or command line) and checks exit code
2, exactly one line on stderr without a traceback, and that ``cases/`` and all data are
byte-for-byte unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import tree_hash

GOOD_CASE = (Path(__file__).resolve().parent.parent / "templates" / "demo_case.yaml").read_text()


def case_with(old: str, new: str) -> str:
    assert old in GOOD_CASE, old
    return GOOD_CASE.replace(old, new, 1)


ALIAS_BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
)


@dataclass
class Bad:
    id: str
    message: str
    files: dict[str, str | bytes] = field(default_factory=dict)
    args: list[str] = field(default_factory=lambda: ["pipeline", "--case", "demo"])
    setup: Callable[[Path], None] | None = None  # for what a file's text cannot say


CASE = "cases/demo/case.yaml"
GLOBAL = "config/global.yaml"
LOGGING = "config/logging.yaml"
PARAMS = "params.yaml"
BROKEN_MODULE = "modules/broken_plugin.py"
WITH_PARAMS = ["pipeline", "--case", "demo", "--params", PARAMS]


def fifo_at(name: str) -> Callable[[Path], None]:
    def make(project: Path) -> None:
        path = project / name
        path.unlink(missing_ok=True)
        os.mkfifo(path)

    return make


def logging_with(handler: str, *, formatter: str = "{format: '%(message)s'}") -> str:
    """A logging.yaml whose handler ``h`` (and formatter ``f``) are the given YAML."""
    return (
        "version: 1\n"
        f"formatters:\n  f: {formatter}\n"
        f"handlers:\n  h: {handler}\n"
        "root:\n  level: INFO\n  handlers: [h]\n"
    )


BATTERY = [
    # -- case.yaml: syntax and document shape
    Bad("syntax", "cases/demo/case.yaml:3:2: YAML syntax error", {CASE: "a: [1,\n  2\nb: c\n"}),
    Bad("empty", "cases/demo/case.yaml: the file is empty", {CASE: ""}),
    Bad("list-document", "the top level must be a mapping of keys, got list", {CASE: "- a\n"}),
    Bad("scalar-document", "the top level must be a mapping of keys, got str", {CASE: "hello\n"}),
    Bad(
        "empty-pipeline",
        "the pipeline is empty",
        {
            CASE: case_with("pipeline:\n", "old:\n")
            .replace("old:\n", "pipeline: []\nold_steps:\n")
            .split("old_steps:")[0]
        },
    ),
    Bad("duplicate-key", "duplicate key 'data_sources'", {CASE: GOOD_CASE + "data_sources: {}\n"}),
    Bad(
        "tab-indent",
        "cases/demo/case.yaml:2: a tab character is used for indentation",
        {CASE: "pipeline:\n\t- plugin: X\n"},
    ),
    # -- case.yaml: types and keys
    Bad(
        "pipeline-not-list",
        "pipeline: Input should be a valid list",
        {CASE: "data_sources: {}\npipeline:\n  first: {plugin: InitialDataReader}\n"},
    ),
    Bad(
        "params-not-mapping",
        "params: Input should be a valid dictionary",
        {CASE: case_with("      wheel_radius_m: 0.31", "      - 0.31")},
    ),
    Bad(
        "read-only-not-bool",
        "read_only: Input should be a valid boolean",
        {CASE: case_with("read_only: true", "read_only: maybe")},
    ),
    Bad(
        "unknown-top-key",
        "unknown key 'pipline'; did you mean 'pipeline'?",
        {CASE: GOOD_CASE + "pipline: []\n"},
    ),
    Bad(
        "unknown-step-key",
        "unknown key 'pipeline[5].parms'; did you mean 'params'?",
        {
            CASE: case_with(
                "  - plugin: FeatureDeriver", "  - plugin: FeatureDeriver\n    parms: {}"
            )
        },
    ),
    Bad(
        "unknown-source-key",
        "unknown key 'data_sources.events.formt'; did you mean 'format'?",
        {CASE: case_with("  events:\n    format: csv", "  events:\n    formt: csv")},
    ),
    Bad(
        "unknown-format", "unknown format 'exel'", {CASE: case_with("format: csv", "format: exel")}
    ),
    # -- case.yaml: plugins and params
    Bad(
        "unknown-plugin",
        "unknown plugin 'EventDetektor'; did you mean 'EventDetector'?",
        {CASE: case_with("plugin: EventDetector", "plugin: EventDetektor")},
    ),
    Bad(
        "unknown-param",
        "unknown param 'rate_hzz' for plugin SignalAligner; did you mean 'rate_hz'?",
        {CASE: case_with("rate_hz: 20.0", "rate_hzz: 20.0")},
    ),
    Bad(
        "wrong-param-type",
        "param 'rate_hz' must be float, got str 'fast'",
        {CASE: case_with("rate_hz: 20.0", "rate_hz: fast")},
    ),
    Bad(
        "unknown-port",
        "plugin SignalCleaner has no input 'algned'; did you mean 'aligned'?",
        {
            CASE: case_with(
                "  - plugin: SignalCleaner",
                "  - plugin: SignalCleaner\n    inputs: {algned: aligned}",
            )
        },
    ),
    Bad(
        "undeclared-source",
        "output 'reprot' (mapped from output 'report') is not declared",
        {
            CASE: case_with(
                "  - plugin: ReportWriter",
                "  - plugin: ReportWriter\n    outputs: {report: reprot}",
            )
        },
    ),
    Bad(
        "duplicate-step",
        "step name 'FeatureDeriver' is used twice",
        {CASE: GOOD_CASE + "  - plugin: FeatureDeriver\n"},
    ),
    Bad(
        "two-writers",
        "data source 'report' is written by two steps",
        {CASE: GOOD_CASE + "  - plugin: ReportWriter\n    name: again\n"},
    ),
    Bad(
        "two-sources-one-file",
        "data sources 'events' (cases/demo/case.yaml:44) and 'events_copy' both resolve to "
        "the file cases/demo/data/events.csv",
        {
            CASE: case_with(
                "  report:\n",
                "  events_copy:\n    path: ./cases/demo/data/../data/events.csv\n  report:\n",
            )
        },
    ),
    Bad(
        "two-sources-one-raw-file",
        "data sources 'gps_raw' (cases/demo/case.yaml:18) and 'gps_copy' both resolve to "
        "the file data/raw/drive/gps.parquet",
        {
            CASE: case_with(
                "  report:\n", "  gps_copy: {path: data/raw/drive/gps.parquet}\n  report:\n"
            )
        },
        ["validate", "--case", "demo"],
    ),
    Bad(
        "writes-read-only",
        "writes data source 'wheel', which is read_only",
        {
            CASE: case_with(
                "  wheel:\n    format: feather",
                "  wheel:\n    read_only: true\n    format: feather",
            )
        },
    ),
    Bad(
        "cycle",
        "the pipeline has a cycle",
        {
            CASE: case_with(
                "  - plugin: SignalAligner", "  - plugin: SignalAligner\n    inputs: {gps: report}"
            )
        },
    ),
    Bad(
        "missing-input",
        "needs input 'gps_raw'",
        {CASE: case_with("path: data/raw/drive/gps.parquet", "path: data/elsewhere/gps.parquet")},
    ),
    Bad(
        "broken-module",
        "modules/broken_plugin.py failed to import: ModuleNotFoundError",
        {
            CASE: case_with("plugin: ReportWriter", "plugin: Broken"),
            BROKEN_MODULE: "import no_such_library_here\n",
        },
    ),
    # -- case.yaml: names and paths
    Bad(
        "path-traversal",
        "path '../../etc/passwd' resolves outside the project",
        {CASE: case_with("path: data/raw/drive/gps.parquet", "path: ../../etc/passwd")},
    ),
    Bad(
        "absolute-path",
        "path '/etc/passwd' resolves outside the project",
        {CASE: case_with("path: data/raw/drive/gps.parquet", "path: /etc/passwd")},
    ),
    Bad(
        "source-name-traversal",
        "invalid data source name '../x'",
        {CASE: case_with("  report:\n", "  ../x: {}\n  report:\n")},
    ),
    Bad(
        "step-name-slash",
        "invalid step name 'a/b'",
        {CASE: case_with("  - plugin: ReportWriter", "  - plugin: ReportWriter\n    name: a/b")},
    ),
    # -- case.yaml: code, bombs, size, encoding
    Bad(
        "python-object-tag",
        "tag '!!python/object/apply:os.system' is not allowed",
        {CASE: GOOD_CASE + "x: !!python/object/apply:os.system [touch /tmp/pwned]\n"},
    ),
    Bad(
        "python-name-tag",
        "tag '!!python/name:os.system' is not allowed",
        {CASE: GOOD_CASE + "x: !!python/name:os.system ''\n"},
    ),
    Bad(
        "unknown-tag",
        "tag '!include' is not allowed",
        {CASE: GOOD_CASE + "x: !include other.yaml\n"},
    ),
    Bad("alias-bomb", "after expanding aliases", {CASE: ALIAS_BOMB}),
    Bad(
        "oversized",
        "configuration files are limited to 8,388,608 bytes",
        {CASE: GOOD_CASE + "# " + "x" * (8 * 1024 * 1024) + "\n"},
    ),
    Bad(
        "latin-1",
        "not UTF-8 (invalid byte at offset",
        {CASE: "description: Stra\xdfe\n".encode("latin-1")},
    ),
    Bad(
        "huge-integer",
        "cases/demo/case.yaml:57:16: pipeline[1].params.rate_hz: a number of 5,000 characters "
        "is too long",
        {CASE: case_with("rate_hz: 20.0", "rate_hz: " + "7" * 5000)},
    ),
    Bad(
        "sexagesimal-bomb",  # YAML 1.2 reads it as text: a type error, shown shortened
        "(pipeline[1].params.rate_hz): param 'rate_hz' must be float, got str '1:0:0:0:",
        {CASE: case_with("rate_hz: 20.0", "rate_hz: 1" + ":0" * 100_000)},
    ),
    Bad(
        "int-too-large-for-float",
        "param 'rate_hz' must be float, got an int too large for a float (400 digits)",
        {CASE: case_with("rate_hz: 20.0", "rate_hz: " + "9" * 400)},
    ),
    Bad(
        "nul-byte",
        "cases/demo/case.yaml:6:17: control character U+0000 is not allowed in YAML",
        {CASE: case_with("description: Synthetic", "description: Syn\x00thetic")},
    ),
    Bad(
        "escape-character",
        "cases/demo/case.yaml:6:17: control character U+001B is not allowed in YAML",
        {CASE: case_with("description: Synthetic", "description: Syn\x1bthetic")},
    ),
    # -- global.yaml
    Bad("global-syntax", "config/global.yaml:2:1: YAML syntax error", {GLOBAL: "data: {a\n"}),
    Bad(
        "global-unknown-key",
        "config/global.yaml:1: unknown key 'dta'; did you mean 'data'?",
        {GLOBAL: "dta: {}\n"},
    ),
    Bad(
        "global-wrong-type",
        "data.allowed_roots: Input should be a valid list",
        {GLOBAL: "data:\n  allowed_roots: 5\n"},
    ),
    Bad(
        "global-bad-default-format",
        "unknown format 'xlsx'",
        {GLOBAL: "data:\n  default_format: xlsx\n"},
    ),
    Bad(
        "global-plugin-path-nul",
        "config/global.yaml:2: plugins.paths[0]: a path cannot contain a NUL byte",
        {GLOBAL: 'plugins:\n  paths: ["mod\\0ules"]\n'},
    ),
    Bad(
        "global-plugin-path-too-long",
        "plugins.paths[0]: a file or folder name of 300 bytes in the path is too long",
        {GLOBAL: f"plugins:\n  paths: [{'m' * 300}]\n"},
    ),
    Bad(
        "global-is-a-fifo",
        "config/global.yaml: cannot read: it is a named pipe",
        setup=fifo_at(GLOBAL),
    ),
    # -- logging.yaml: it can never run code or write outside the project
    Bad(
        "logging-factory",
        "config/logging.yaml:5: handlers.h.(): factories ('()') are not allowed",
        {LOGGING: logging_with("{'()': os.system, command: 'touch pwned'}")},
    ),
    Bad(
        "logging-formatter-factory",
        "config/logging.yaml:3: formatters.f.(): factories ('()') are not allowed",
        {LOGGING: logging_with("{class: logging.NullHandler}", formatter="{'()': os.getcwd}")},
    ),
    Bad(
        "logging-class",
        "config/logging.yaml:5: handlers.h.class: class 'subprocess.Popen' is not allowed",
        {LOGGING: logging_with("{class: subprocess.Popen, args: [touch, pwned]}")},
    ),
    Bad(
        "logging-ext",
        "handlers.h.stream: 'ext://os.system' is not allowed",
        {LOGGING: logging_with("{class: logging.StreamHandler, stream: 'ext://os.system'}")},
    ),
    Bad(
        "logging-cfg",
        "handlers.h.stream: 'cfg://' references are not allowed",
        {LOGGING: logging_with("{class: logging.StreamHandler, stream: 'cfg://formatters.f'}")},
    ),
    Bad(
        "logging-attributes",
        "handlers.h..: setting attributes ('.') is not allowed",
        {LOGGING: logging_with("{class: logging.NullHandler, '.': {emit: x}}")},
    ),
    Bad(
        "logging-file-outside",
        "handlers.h.filename: log file '../escaped.log' is outside the project",
        {LOGGING: logging_with("{class: logging.FileHandler, filename: ../escaped.log}")},
    ),
    Bad(
        "logging-unknown-key",
        "handlers.h.strem: unknown key in handlers.h; did you mean 'stream'?",
        {LOGGING: logging_with("{class: logging.StreamHandler, strem: 'ext://sys.stderr'}")},
    ),
    Bad("logging-syntax", "config/logging.yaml:2:1: YAML syntax error", {LOGGING: "version: [1\n"}),
    Bad(
        "logging-is-a-fifo",
        "config/logging.yaml: cannot read: it is a named pipe",
        setup=fifo_at(LOGGING),
    ),
    # -- --params files
    Bad(
        "params-dev-zero",
        "/dev/zero: cannot read: it is a character device, not a regular file",
        {},
        ["pipeline", "--case", "demo", "--params", "/dev/zero"],
    ),
    Bad(
        "params-fifo",
        "params.yaml: cannot read: it is a named pipe (FIFO), not a regular file",
        args=WITH_PARAMS,
        setup=fifo_at(PARAMS),
    ),
    Bad(
        "params-oversized",
        "params.yaml: file is 8,388,610 bytes; configuration files are limited to 8,388,608",
        {PARAMS: "#" + "x" * (8 * 1024 * 1024) + "\n"},
        WITH_PARAMS,
    ),
    Bad(
        "params-nul-byte",
        "params.yaml:1:15: control character U+0000 is not allowed in YAML",
        {PARAMS: "description: x\x00\n"},
        WITH_PARAMS,
    ),
    Bad("params-missing", "no-such.yaml: file not found", {}, [*WITH_PARAMS[:-1], "no-such.yaml"]),
    # -- templates
    Bad(
        "template-broken",
        "templates/bad_case.yaml:1: unknown key 'pipelin'",
        {"templates/bad_case.yaml": "pipelin: []\n"},
        ["pipeline", "--case", "fresh", "--template", "bad"],
    ),
    Bad(
        "template-unknown",
        "unknown template 'dem'",
        {},
        ["pipeline", "--case", "fresh", "--template", "dem"],
    ),
    Bad(
        "template-traversal",
        "invalid template name '../demo'",
        {},
        ["pipeline", "--case", "fresh", "--template", "../demo"],
    ),
    # -- command-line flags
    Bad("unknown-option", "No such option '--cas'", {}, ["pipeline", "--cas", "demo"]),
    Bad("missing-case", "Missing option '--case'", {}, ["pipeline"]),
    Bad("unknown-command", "No such command 'pipe'", {}, ["pipe", "--case", "demo"]),
    Bad("rows-not-int", "'many' is not a valid integer", {}, ["generate-data", "--rows", "many"]),
    Bad("rows-negative", "-5 is not in the range x>=100", {}, ["generate-data", "--rows", "-5"]),
    Bad(
        "set-not-utf8",
        "--set description: the value is not valid UTF-8 text",
        {},
        ["pipeline", "--case", "demo", "--set", "description=Stra\udcdfe"],
    ),
    Bad(
        "set-nul-in-path",
        "data_sources.events.path: a path cannot contain a NUL byte",
        {},
        ["pipeline", "--case", "demo", "--set", 'data_sources.events.path="ev\\0ents.csv"'],
    ),
    # -- names from the command line
    Bad("case-traversal", "invalid case name '../x'", {}, ["pipeline", "--case", "../x"]),
    Bad("case-absolute", "invalid case name '/abs'", {}, ["pipeline", "--case", "/abs"]),
    Bad("case-empty", "invalid case name ''", {}, ["pipeline", "--case", ""]),
    Bad("case-nul", "invalid case name 'a\\x00b'", {}, ["pipeline", "--case", "a\x00b"]),
    Bad("case-overlong", "invalid case name 'aaaa", {}, ["pipeline", "--case", "a" * 100]),
    Bad("case-lookalike", "invalid case name 'd\u0435mo'", {}, ["pipeline", "--case", "d\u0435mo"]),
    Bad(
        "case-unknown",
        "unknown case 'dem' (no cases/dem/case.yaml); did you mean 'demo'?",
        {},
        ["pipeline", "--case", "dem"],
    ),
    Bad(
        "plugin-traversal",
        "invalid case name '../../x'",
        {},
        ["plugin", "EventDetector", "--case", "../../x"],
    ),
    Bad(
        "plugin-unknown-step",
        "case 'demo' has no step or plugin 'Nope'",
        {},
        ["plugin", "Nope", "--case", "demo"],
    ),
]


def test_the_battery_is_large_enough() -> None:
    assert len(BATTERY) >= 80
    assert len({bad.id for bad in BATTERY}) == len(BATTERY)


@pytest.mark.parametrize("bad", BATTERY, ids=[bad.id for bad in BATTERY])
def test_bad_input_exits_2_with_one_line_and_changes_nothing(project: Path, cli, bad: Bad) -> None:
    for name, content in bad.files.items():
        path = project / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    if bad.setup is not None:
        bad.setup(project)
    before = tree_hash(project)
    outside = sorted(p.name for p in project.parent.iterdir())
    result = cli(project, *bad.args)
    assert result.code == 2, result.err
    assert result.err.count("\n") == 1, result.err
    assert result.err.startswith("error: ")
    assert bad.message in result.err
    assert "Traceback" not in result.err
    assert tree_hash(project) == before
    assert sorted(p.name for p in project.parent.iterdir()) == outside
