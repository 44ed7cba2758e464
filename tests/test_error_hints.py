"""Errors that lead to the fix: each message a user meets, from what they typed.

Every test runs the real command line (in-process, ``cli``) on a throwaway copy of the
demo project (``project``) with a plugin or a case written for the test, and checks the
exact text: a plugin's exception names its file and line, an import failure leads with
its cause, the relative-import and returned-value hints, empty outputs are warned about,
defaults outside their choices and every port problem are reported by ``validate``, YAML
mistakes are explained, ``--wait`` says whom it waits for, and a broken plugin's reason
has a short form for the ``plugins`` table.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
import threading
import time
from pathlib import Path

import pytest

NUMBERS = [1.0, 2.0, 4.0]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def plugin_module(path: Path, body: str) -> Path:
    """Write a plugin module: ``PLUGIN_HEAD``, then ``body`` (dedented)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(PLUGIN_HEAD + textwrap.dedent(body), encoding="utf-8")
    return path


def line_of(path: Path, text: str) -> int:
    """The 1-based number of the first line of ``path`` that contains ``text``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error: ")]


def numbers_case(project: Path, case: str, plugin: str, *, output: str = "{}") -> Path:
    """A one-step case: ``plugin`` reads data/raw/numbers.csv as ``table``, writes ``result``."""
    write(project / "data" / "raw" / "numbers.csv", "x\n" + "".join(f"{n}\n" for n in NUMBERS))
    return write(
        project / "cases" / case / "case.yaml",
        f"""\
        description: {case} over a small table
        data_sources:
          numbers:
            path: data/raw/numbers.csv
            read_only: true
          result: {output}
        pipeline:
          - plugin: {plugin}
            inputs: {{table: numbers}}
            outputs: {{result: result}}
        """,
    )


PLUGIN_HEAD = '''\
"""A plugin written by a test."""

from datareplay import BasePlugin, Param

'''


# -- 1. a plugin's exception names the plugin's file and line ------------------------------


def test_an_exception_in_a_plugin_names_the_last_line_of_plugin_code(project: Path, cli) -> None:
    module = plugin_module(
        project / "modules" / "ratio.py",
        '''
        def checked(value):
            if value > 3:
                raise ValueError(f"bad ratio {float('inf')}")
            return value


        class Ratio(BasePlugin):
            """Divide x by itself, refusing large values."""

            inputs = {"table": "Numbers."}
            outputs = {"result": "Ratios."}

            def run(self, hub):
                table = hub["table"]
                hub["result"] = table.assign(r=table["x"].map(lambda v: checked(v)))
        ''',
    )
    numbers_case(project, "ratio", "Ratio")

    result = cli(project, "pipeline", "--case", "ratio")

    assert result.code == 1
    line = line_of(module, "raise ValueError")
    # the last frame in the plugin's own code (checked), not pandas' map nor the engine
    [error] = errors(result.err)
    assert re.fullmatch(
        r"error: step 1 'Ratio' of case 'ratio' failed in run \S+: ValueError: bad ratio inf "
        rf"\(modules/ratio\.py:{line} in checked; --debug shows the traceback\)",
        error,
    ), error


# -- 2. a module that fails to import: the cause first -------------------------------------


def test_a_case_naming_a_plugin_whose_module_fails_to_import_gets_the_cause(
    project: Path, cli
) -> None:
    module = plugin_module(
        project / "modules" / "scaler.py",
        '''
        import no_such_library_here


        class Scaler(BasePlugin):
            """Scale x."""

            outputs = {"result": "Scaled."}

            def run(self, hub):
                pass
        ''',
    )
    case = numbers_case(project, "scale", "Scaler")

    result = cli(project, "validate", "--case", "scale")

    assert result.code == 2
    line = line_of(module, "import no_such_library_here")
    where = f"cases/scale/case.yaml:{line_of(case, 'plugin: Scaler')} (pipeline[0])"
    assert errors(result.err) == [
        f"error: {where}: plugin 'Scaler' could not be imported: modules/scaler.py:{line}: "
        "ModuleNotFoundError: No module named 'no_such_library_here'"
    ]


# -- 3. from helpers import f: plugin folders are packages ---------------------------------


def test_a_top_level_import_of_a_sibling_module_says_to_import_it_relatively(
    project: Path, cli
) -> None:
    write(project / "modules" / "helpers.py", "def double(x):\n    return 2 * x\n")
    module = plugin_module(
        project / "modules" / "doubler.py",
        '''
        from helpers import double


        class Doubler(BasePlugin):
            """Double x."""

            outputs = {"result": "Doubled."}

            def run(self, hub):
                pass
        ''',
    )
    numbers_case(project, "double", "Doubler")

    result = cli(project, "pipeline", "--case", "double")

    assert result.code == 2
    line = line_of(module, "from helpers import double")
    [error] = errors(result.err)
    assert error.endswith(
        f": plugin 'Doubler' could not be imported: modules/doubler.py:{line}: "
        "ModuleNotFoundError: No module named 'helpers'; write 'from .helpers import double' "
        "(plugin folders are packages)"
    ), error
    listed = {row["name"]: row for row in json.loads(cli(project, "plugins", "--json").out)}
    assert listed["modules/doubler.py"]["error"] == (
        "modules/doubler.py failed to import: ModuleNotFoundError: No module named 'helpers'; "
        "write 'from .helpers import double' (plugin folders are packages)"
    )


# -- 4. run returned its result instead of writing it --------------------------------------


def test_a_run_that_returns_its_frame_is_told_to_assign_it(project: Path, cli) -> None:
    plugin_module(
        project / "modules" / "returner.py",
        '''
        class Returner(BasePlugin):
            """Return the table instead of writing it."""

            inputs = {"table": "Numbers."}
            outputs = {"result": "Never written."}

            def run(self, hub):
                return hub["table"]
        ''',
    )
    numbers_case(project, "returns", "Returner")

    result = cli(project, "pipeline", "--case", "returns")

    assert result.code == 1
    [error] = errors(result.err)
    assert error.endswith(
        ": it did not write its declared output 'result'; run returned a DataFrame — "
        "assign it instead: hub['result'] = ..."
    ), error


# -- 5. an empty output is written, and warned about ----------------------------------------


def test_an_empty_output_is_a_warning_not_a_failure(project: Path, cli) -> None:
    plugin_module(
        project / "modules" / "emptier.py",
        '''
        import numpy as np
        import pandas as pd


        class Emptier(BasePlugin):
            """Write nothing at all."""

            inputs = {"table": "Numbers."}
            outputs = {"result": "An empty frame."}

            def run(self, hub):
                hub["table"]
                hub["result"] = pd.DataFrame()


        class EmptyArray(BasePlugin):
            """Write an empty array."""

            inputs = {"table": "Numbers."}
            outputs = {"result": "An empty array."}

            def run(self, hub):
                hub["result"] = np.empty(0)
        ''',
    )
    numbers_case(project, "empty", "Emptier")
    numbers_case(project, "empty_array", "EmptyArray", output="{format: npy}")

    frame = cli(project, "pipeline", "--case", "empty")
    array = cli(project, "pipeline", "--case", "empty_array")

    assert frame.code == 0, frame.err
    assert (
        "step 'Emptier' wrote an empty DataFrame (0 rows, 0 columns) to data source 'result'; "
        "check that run computed what it should"
    ) in frame.err
    assert array.code == 0, array.err
    assert (
        "step 'EmptyArray' wrote an empty array (shape (0,)) to data source 'result'; "
        "check that run computed what it should"
    ) in array.err
    assert (project / "cases" / "empty" / "data" / "result.parquet").is_file()


# -- 6. validate: a default outside its choices; every port problem at once -----------------


def test_a_param_default_outside_its_choices_breaks_the_plugin(project: Path, cli) -> None:
    plugin_module(
        project / "modules" / "moder.py",
        '''
        class Moder(BasePlugin):
            """Pick a mode."""

            inputs = {"table": "Numbers."}
            outputs = {"result": "The table."}

            mode = Param("fast", "How to go.", choices=("slow", "exact"))

            def run(self, hub):
                hub["result"] = hub["table"]
        ''',
    )
    case = numbers_case(project, "modes", "Moder")

    result = cli(project, "validate", "--case", "modes")

    assert result.code == 2
    where = f"cases/modes/case.yaml:{line_of(case, 'plugin: Moder')} (pipeline[0])"
    assert errors(result.err) == [
        f"error: {where}: plugin 'Moder' is broken: modules/moder.py: plugin Moder: param "
        "'mode' has default 'fast', which is not one of its choices ('slow', 'exact'); make "
        "the default one of the choices or add it to them"
    ]
    listed = {row["name"]: row for row in json.loads(cli(project, "plugins", "--json").out)}
    assert listed["Moder"]["status"] == "broken"


def test_validate_reports_every_port_and_source_problem_at_once(project: Path, cli) -> None:
    case_yaml = project / "cases" / "demo" / "case.yaml"
    text = case_yaml.read_text(encoding="utf-8")
    text = text.replace(
        "  - plugin: SignalAligner\n",
        "  - plugin: SignalAligner\n    inputs: {whel: wheel, gps: gpx}\n",
    ).replace(
        "  - plugin: EventDetector\n", "  - plugin: EventDetector\n    outputs: {event: events}\n"
    )
    case_yaml.write_text(text, encoding="utf-8")
    aligned = f"cases/demo/case.yaml:{line_of(case_yaml, 'plugin: SignalAligner')} (pipeline[1])"
    detected = f"cases/demo/case.yaml:{line_of(case_yaml, 'plugin: EventDetector')} (pipeline[6])"

    result = cli(project, "validate", "--case", "demo")

    assert result.code == 2
    assert errors(result.err) == [
        f"error: {aligned}: plugin SignalAligner has no input 'whel'; did you mean 'wheel'? "
        "(its inputs: wheel, imu, gps)",
        f"error: {aligned}: SignalAligner input 'gpx' (mapped from input 'gps') is not "
        "declared under data_sources; did you mean 'gps'?; declare it or map the input to an "
        "existing source",
        f"error: {detected}: plugin EventDetector has no output 'event'; did you mean "
        "'events'? (its outputs: events)",
    ]


# -- 7. YAML mistakes, explained -------------------------------------------------------------


def test_a_tab_used_for_indentation_is_named_with_its_line(project: Path, cli) -> None:
    write(
        project / "cases" / "tabs" / "case.yaml",
        "description: tabs\ndata_sources:\n  numbers: {}\npipeline:\n\t- plugin: Scaler\n",
    )

    result = cli(project, "validate", "--case", "tabs")

    assert result.code == 2
    assert errors(result.err) == [
        "error: cases/tabs/case.yaml:5: a tab character is used for indentation; YAML indents "
        "with spaces only (replace the tab with spaces); line 5 reads '\\t- plugin: Scaler'"
    ]


def test_yaml_syntax_errors_name_the_likely_mistake_and_show_the_line(project: Path, cli) -> None:
    case = project / "cases" / "typo" / "case.yaml"
    write(case, "description: Note: the typo\ndata_sources: {}\n")
    colon = cli(project, "validate", "--case", "typo")
    write(
        case,
        "description: x\ndata_sources:\n  numbers:\n    path:data/raw/x.csv\n    read_only: true\n",
    )
    space = cli(project, "validate", "--case", "typo")
    write(case, "description: x\ndata_sources:\n  numbers: {}\n aligned: {}\n")
    indent = cli(project, "validate", "--case", "typo")

    assert colon.code == space.code == indent.code == 2
    assert errors(colon.err) == [
        "error: cases/typo/case.yaml:1:18: YAML syntax error: an unquoted ': ' inside a value; "
        'put the value in quotes (description: "Note: the typo"), or start a nested mapping '
        "on a new line (YAML: mapping values are not allowed in this context); line 1 reads "
        "'description: Note: the typo'"
    ]
    assert errors(space.err) == [
        "error: cases/typo/case.yaml:5:14: YAML syntax error: line 4 has no space after ':' "
        "('path:data/raw/x.csv'), so it is read as text that runs on into this line; write a "
        "space after the ':' (YAML: mapping values are not allowed in this context); line 5 "
        "reads '    read_only: true'"
    ]
    assert errors(indent.err) == [
        "error: cases/typo/case.yaml:4:2: YAML syntax error: bad indentation: line 4 does not "
        "line up with the keys of the mapping that starts on line 1 (indent the keys of one "
        "mapping by the same number of spaces; a '- ' item belongs under its key, indented) "
        "(YAML: did not find expected key); line 4 reads ' aligned: {}'"
    ]


# -- 8. --wait says whom it waits for --------------------------------------------------------


def test_wait_says_which_run_it_waits_for(project: Path, cli) -> None:
    from datareplay.project.locking import CaseLock

    plugin_module(
        project / "modules" / "copier.py",
        '''
        class Copier(BasePlugin):
            """Copy the table."""

            inputs = {"table": "Numbers."}
            outputs = {"result": "The table."}

            def run(self, hub):
                hub["result"] = hub["table"]
        ''',
    )
    numbers_case(project, "queued", "Copier")
    holder = CaseLock(project / "cases" / "queued", case="queued", root=project)
    holder.acquire()
    since = (project / "cases" / "queued" / ".lock").read_text().splitlines()[1]
    releaser = threading.Timer(1.0, holder.release)
    releaser.start()
    try:
        started = time.monotonic()
        result = cli(project, "pipeline", "--case", "queued", "--wait")
    finally:
        releaser.join()
        holder.release()

    assert result.code == 0, result.err
    assert time.monotonic() - started >= 0.9  # it did wait for the holder
    expected = f"waiting for case 'queued' (PID {os.getpid()}, since {since}) ..."
    assert result.err.count(expected) == 1, result.err


# -- 9. a broken plugin in one short line; the whole reason elsewhere ------------------------


def test_a_broken_plugins_reason_is_short_for_the_table_and_whole_elsewhere(
    project: Path, cli
) -> None:
    from datareplay.plugins.registry import SHORT_ERROR_CHARS, PluginRegistry

    write(
        project / "modules" / "frob.py",
        '"""Needs a library."""\n\nraise ImportError("the frobnicator library is not '
        'installed on this machine; pip install frobnicator first")\n',
    )
    full = (
        "modules/frob.py failed to import: ImportError: the frobnicator library is not "
        "installed on this machine; pip install frobnicator first"
    )

    listed = {row["name"]: row for row in json.loads(cli(project, "plugins", "--json").out)}
    described = cli(project, "describe", "modules/frob.py")

    assert listed["modules/frob.py"]["error"] == full
    assert described.code == 2
    assert errors(described.err) == [f"error: {full}"]
    registry = PluginRegistry([project / "modules"], project_root=project, entry_points=())
    [info] = [info for info in registry.infos() if not info.ok]
    assert info.short_error == (
        "failed to import: ImportError: the frobnicator library is… (plugins --json)"
    )
    assert len(info.short_error.split("…")[0]) <= SHORT_ERROR_CHARS


@pytest.mark.parametrize(
    ("text", "written", "fix"),
    [
        ("pipeline:\n  - plugin:Raiser\n", "plugin:Raiser", "plugin: Raiser"),
        (
            "pipeline:\n  - plugin: SignalAligner\n    params:\n      rate_hz:20\n",
            "rate_hz:20",
            "rate_hz: 20",
        ),
    ],
)
def test_a_missing_space_after_a_colon_is_named(
    project: Path, cli, text: str, written: str, fix: str
) -> None:
    folder = project / "cases" / "nospace"
    folder.mkdir()
    (folder / "case.yaml").write_text("data_sources:\n  x: {format: memory}\n" + text)
    result = cli(project, "validate", "--case", "nospace")
    assert result.code == 2
    (line,) = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert line.startswith("error: cases/nospace/case.yaml:")
    assert line.endswith(
        f"YAML reads '{written}' as one text because there is no space after ':': write '{fix}'"
    )
