"""End-to-end plugin discovery: folders at any depth, extra folders, installed packages.

Every test works on a throwaway copy of the demo project (the ``project`` fixture) and
runs the real command line, in-process (``cli``) or, where the Python path or the set of
imported modules matters, as a subprocess.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from importlib.metadata import Distribution
from pathlib import Path

import pandas as pd
import pytest

from conftest import DEMO_PLUGINS as DEMO_PLUGIN_MODULES
from conftest import CliResult

PLUGIN_PACKAGE_PREFIX = "datareplay_plugins"
DEMO_PLUGINS = sorted(DEMO_PLUGIN_MODULES)
NUMBERS = [1.0, 2.0, 3.5, -4.0]


# -- helpers ---------------------------------------------------------------------------


def scaler_plugin(name: str, *, header: str = "", scale: str = "x * self.factor") -> str:
    """Source of a module with one plugin ``name``: ``table`` -> ``scaled`` (x_scaled)."""
    return textwrap.dedent(
        f'''\
        """The {name} plugin (written by a test)."""

        from __future__ import annotations

        {header}
        from datareplay import BasePlugin, Param


        class {name}(BasePlugin):
            """Scale the `x` column of a table by `factor` ({name}).

            Writes the table with one more column, `x_scaled`.
            """

            inputs = {{"table": "A table with a numeric `x` column."}}
            outputs = {{"scaled": "The table plus `x_scaled`."}}

            factor = Param(2.0, "Factor applied to `x`.")

            def run(self, hub):
                table = hub["table"]
                x = table["x"]
                hub["scaled"] = table.assign(x_scaled={scale})
        '''
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_numbers_case(project: Path, case: str, steps: list[tuple[str, str, str]]) -> Path:
    """A case over data/raw/numbers.csv; each step is (plugin, input source, output source).

    Returns the case's data folder.
    """
    write(
        project / "data" / "raw" / "numbers.csv",
        "x\n" + "".join(f"{value}\n" for value in NUMBERS),
    )
    sources = ["  numbers:", "    path: data/raw/numbers.csv", "    read_only: true"]
    pipeline = []
    for plugin, source, target in steps:
        sources.append(f"  {target}: {{}}")
        pipeline += [
            f"  - plugin: {plugin}",
            f"    inputs: {{table: {source}}}",
            f"    outputs: {{scaled: {target}}}",
        ]
    text = "\n".join(
        [
            f"description: {case} over a small table",
            "data_sources:",
            *sources,
            "pipeline:",
            *pipeline,
        ]
    )
    write(project / "cases" / case / "case.yaml", text + "\n")
    return project / "cases" / case / "data"


def scaled(data: Path, name: str) -> list[float]:
    frame = pd.read_parquet(data / f"{name}.parquet")
    assert frame["x"].tolist() == NUMBERS
    return frame["x_scaled"].tolist()


def rows_by_name(out: str) -> dict[str, dict[str, object]]:
    return {row["name"]: row for row in json.loads(out)}


def table_line(out: str, name: str) -> str:
    """The line of the ``plugins`` table for plugin ``name``."""
    lines = [line for line in out.splitlines() if line.split(" ", 1)[0] == name]
    assert len(lines) == 1, out
    return lines[0]


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error: ")]


def run_cli(
    project: Path, *args: str, pythonpath: Path | None = None, timeout: float = 120
) -> CliResult:
    """``python -m datareplay --project PROJECT ARGS`` as a real process."""
    env = dict(os.environ)
    env.pop("DATAREPLAY_PROJECT", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(pythonpath), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
        )
    proc = subprocess.run(
        [sys.executable, "-m", "datareplay", "--project", str(project), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


# -- plugins from an installed distribution (entry points) -----------------------------

EXTRA_PYPROJECT = """\
[build-system]
{build_system}

[project]
name = "dr-extra-plugins"
version = "0.1.0"
description = "Data Replay plugins from an installed package (test fixture)."

[project.entry-points."datareplay.plugins"]
extra = "dr_extra_plugins.plugins"
half = "dr_extra_plugins.more:Halver"

[tool.setuptools]
packages = ["dr_extra_plugins"]
"""

SETUPTOOLS_BUILD = 'requires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"'

# Used only when this interpreter's setuptools cannot build wheels (setuptools < 70.1
# without the `wheel` package): a PEP 517 backend in the package itself, so pip still
# builds and installs a real wheel, with no build dependency to download.
TINY_BUILD = 'requires = []\nbuild-backend = "tiny_backend"\nbackend-path = ["."]'
TINY_BACKEND = '''\
"""A minimal PEP 517 backend: a pure-Python wheel of the package named in pyproject.toml."""

import base64
import hashlib
import pathlib
import tomllib
import zipfile


def _record(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    here = pathlib.Path(__file__).parent
    config = tomllib.loads((here / "pyproject.toml").read_text(encoding="utf-8"))
    project = config["project"]
    package = config["tool"]["setuptools"]["packages"][0]
    stem = f"{project['name'].replace('-', '_')}-{project['version']}"
    info = f"{stem}.dist-info"
    files = {
        str(p.relative_to(here)): p.read_bytes() for p in sorted((here / package).rglob("*.py"))
    }
    entry_points = "".join(
        f"[{group}]\\n" + "".join(f"{k} = {v}\\n" for k, v in eps.items())
        for group, eps in project["entry-points"].items()
    )
    files[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\\nName: {project['name']}\\nVersion: {project['version']}\\n"
    ).encode()
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\\nGenerator: tiny_backend\\nRoot-Is-Purelib: true\\n"
        b"Tag: py3-none-any\\n"
    )
    files[f"{info}/entry_points.txt"] = entry_points.encode()
    record = [_record(name, data) for name, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\\n".join(record) + "\\n").encode()
    filename = f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(pathlib.Path(wheel_directory) / filename, "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
    return filename
'''


def setuptools_builds_wheels() -> bool:
    """Whether setuptools can build a wheel here without installing anything."""
    spec = importlib.util.find_spec("setuptools")
    if spec is None or spec.origin is None:
        return False
    if (Path(spec.origin).parent / "command" / "bdist_wheel.py").is_file():
        return True  # setuptools >= 70.1 builds wheels itself
    return importlib.util.find_spec("wheel") is not None


@dataclass(frozen=True)
class ExtraSite:
    """A folder with dr-extra-plugins installed, and the label discovery gives it."""

    site: Path
    label: str  # "<distribution name> <version>" as importlib.metadata reports them


@pytest.fixture(scope="module")
def extra_site(tmp_path_factory: pytest.TempPathFactory) -> ExtraSite:
    """Build dr-extra-plugins and pip-install it into a folder (once per module)."""
    root = tmp_path_factory.mktemp("extra")
    package = root / "dr-extra-plugins"
    use_setuptools = setuptools_builds_wheels()
    build_system = SETUPTOOLS_BUILD if use_setuptools else TINY_BUILD
    write(package / "pyproject.toml", EXTRA_PYPROJECT.format(build_system=build_system))
    if not use_setuptools:
        write(package / "tiny_backend.py", TINY_BACKEND)
    write(package / "dr_extra_plugins" / "__init__.py", '"""Extra Data Replay plugins."""\n')
    write(package / "dr_extra_plugins" / "plugins.py", scaler_plugin("Doubler"))
    write(
        package / "dr_extra_plugins" / "more.py",
        scaler_plugin("Halver", scale="x * self.factor / 4"),
    )
    site = root / "site"
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-cache-dir",
            "--no-build-isolation",
            "--target",
            str(site),
            str(package),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    if proc.returncode != 0:
        backend = "setuptools" if use_setuptools else "an in-tree PEP 517 backend"
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        pytest.skip(
            f"cannot pip-install a throwaway plugin package here with --no-build-isolation "
            f"({backend}); tests do not install build tools: {tail}"
        )
    (info,) = site.glob("*.dist-info")
    dist = Distribution.at(info)
    return ExtraSite(site, f"{dist.name} {dist.version}")


def test_installed_package_label_names_distribution_and_version(extra_site: ExtraSite) -> None:
    name, version = extra_site.label.split(" ")
    assert name.replace("_", "-").lower() == "dr-extra-plugins"
    assert version == "0.1.0"


def test_plugins_lists_entry_point_plugins_with_their_distribution(
    project: Path, extra_site: ExtraSite
) -> None:
    result = run_cli(project, "plugins", pythonpath=extra_site.site)
    assert result.code == 0, result.err
    doubler = table_line(result.out, "Doubler")
    assert f"{extra_site.label}: dr_extra_plugins.plugins" in doubler
    assert " ok " in doubler and "Scale the `x` column of a table by `factor` (Doubler)." in doubler
    halver = table_line(result.out, "Halver")  # an entry point naming one class
    assert f"{extra_site.label}: dr_extra_plugins.more:Halver" in halver and " ok " in halver
    for name in DEMO_PLUGINS:
        assert "modules/" in table_line(result.out, name)

    as_json = run_cli(project, "plugins", "--json", pythonpath=extra_site.site)
    assert as_json.code == 0, as_json.err
    rows = rows_by_name(as_json.out)
    assert rows["Doubler"] == {
        "name": "Doubler",
        "source": extra_site.label,
        "origin": f"{extra_site.label}: dr_extra_plugins.plugins",
        "summary": "Scale the `x` column of a table by `factor` (Doubler).",
        "status": "ok",
        "error": None,
    }
    assert rows["Halver"]["status"] == "ok"
    assert all(rows[name]["status"] == "ok" for name in DEMO_PLUGINS)


def test_generate_docs_has_a_section_per_distribution(
    project: Path, extra_site: ExtraSite, tmp_path: Path
) -> None:
    output = tmp_path / "P.md"
    result = run_cli(project, "generate-docs", "--output", str(output), pythonpath=extra_site.site)
    assert result.code == 0, result.err
    assert re.search(r"^wrote \S+P\.md \(\d+ plugins\)$", result.out, re.M), result.out
    assert not (project / "PLUGINS.md").exists()
    text = output.read_text(encoding="utf-8")
    heading = f"## From {extra_site.label}\n"
    assert text.count(heading) == 1 and text.count("## From modules\n") == 1
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    assert "### Doubler\n" in section and "### Halver\n" in section
    assert f"Source: `{extra_site.label}: dr_extra_plugins.plugins`" in section
    assert "| `factor` | float | `2.0` | Factor applied to `x`. |" in section
    assert "### SignalAligner" not in section
    demo = text.split("## From modules\n", 1)[1].split("\n## ", 1)[0]
    assert all(f"### {name}\n" in demo for name in DEMO_PLUGINS)
    assert "| [Doubler](#doubler) |" in text


def test_pipeline_runs_plugins_from_an_installed_package(
    project: Path, extra_site: ExtraSite
) -> None:
    data = write_numbers_case(
        project, "extra", [("Doubler", "numbers", "doubled"), ("Halver", "doubled", "halved")]
    )
    result = run_cli(project, "pipeline", "--case", "extra", pythonpath=extra_site.site)
    assert result.code == 0, result.err
    assert scaled(data, "doubled") == [2 * x for x in NUMBERS]
    assert scaled(data, "halved") == [x / 2 for x in NUMBERS]

    described = run_cli(project, "describe", "Doubler", pythonpath=extra_site.site)
    assert described.code == 0, described.err
    assert described.out.startswith("## Doubler\n")
    assert f"Source: `{extra_site.label}: dr_extra_plugins.plugins`" in described.out


def test_without_the_package_on_the_path_its_plugins_are_unknown(project: Path) -> None:
    write_numbers_case(project, "extra", [("Doubler", "numbers", "doubled")])
    result = run_cli(project, "pipeline", "--case", "extra")
    assert result.code == 2
    assert "unknown plugin 'Doubler'" in result.err
    assert not (project / "cases" / "extra" / "data" / "doubled.parquet").exists()


# -- plugin folders ----------------------------------------------------------------------


def test_plugin_package_at_any_depth_with_relative_imports(project: Path, cli) -> None:
    vision = project / "modules" / "vision"
    write(vision / "__init__.py", '"""Vision plugins: a package with several modules."""\n')
    write(vision / "helpers.py", "def scale(values, factor):\n    return values * factor\n")
    write(
        vision / "detect.py",
        scaler_plugin("Detector", header="from .helpers import scale", scale="scale(x, 10.0)"),
    )
    # a sub-folder without __init__.py, two levels down, importing from its parent package
    write(
        vision / "filters" / "edge.py",
        scaler_plugin("EdgeFilter", header="from ..helpers import scale", scale="scale(x, -1.0)"),
    )
    # test files and private modules are not plugin modules and are never imported
    write(vision / "test_detect.py", 'raise RuntimeError("a test file was imported")\n')
    write(vision / "_private.py", 'raise RuntimeError("a private module was imported")\n')

    listed = cli(project, "plugins", "--json")
    assert listed.code == 0, listed.err
    rows = rows_by_name(listed.out)
    assert rows["Detector"]["origin"] == "modules/vision/detect.py"
    assert rows["EdgeFilter"]["origin"] == "modules/vision/filters/edge.py"
    # built-in plugins come from entry points; this folder offers exactly these, all usable
    from_folder = {name: row for name, row in rows.items() if row["source"] == "modules"}
    assert sorted(from_folder) == sorted([*DEMO_PLUGINS, "Detector", "EdgeFilter"])
    assert all(row["status"] == "ok" for row in from_folder.values()), listed.out

    data = write_numbers_case(
        project, "vision", [("Detector", "numbers", "detected"), ("EdgeFilter", "numbers", "edges")]
    )
    result = cli(project, "pipeline", "--case", "vision")
    assert result.code == 0, result.err
    assert scaled(data, "detected") == [10 * x for x in NUMBERS]
    assert scaled(data, "edges") == [-x for x in NUMBERS]


def test_extra_plugin_folder_outside_the_project(project: Path, tmp_path: Path, cli) -> None:
    shared = tmp_path / "shared_plugins"
    write(shared / "tripler.py", scaler_plugin("Tripler", scale="x * 3"))
    global_yaml = project / "config" / "global.yaml"
    text = global_yaml.read_text(encoding="utf-8")
    assert "paths: [modules]" in text
    global_yaml.write_text(
        text.replace("paths: [modules]", "paths: [modules, ../shared_plugins]"), encoding="utf-8"
    )

    listed = cli(project, "plugins", "--json")
    assert listed.code == 0, listed.err
    rows = rows_by_name(listed.out)
    assert rows["Tripler"]["status"] == "ok"
    assert rows["Tripler"]["origin"] == str((shared / "tripler.py").resolve())
    assert all(rows[name]["status"] == "ok" for name in DEMO_PLUGINS)

    data = write_numbers_case(project, "shared", [("Tripler", "numbers", "tripled")])
    result = cli(project, "pipeline", "--case", "shared")
    assert result.code == 0, result.err
    assert scaled(data, "tripled") == [3 * x for x in NUMBERS]


BROKEN_MODULE = '''\
"""A plugin module whose import fails: a library it needs is missing."""

raise ImportError("the frobnicator library is not installed")

from datareplay import BasePlugin  # noqa: E402


class Frobnicator(BasePlugin):
    """Never defined: the import above fails first."""
'''


def test_broken_module_is_listed_and_breaks_only_cases_that_use_it(
    project: Path, cli, tmp_path: Path
) -> None:
    write(project / "modules" / "frobnicator.py", BROKEN_MODULE)
    reason = "modules/frobnicator.py failed to import: ImportError: the frobnicator library is not installed"

    listed = cli(project, "plugins")
    assert listed.code == 0, listed.err
    line = table_line(listed.out, "modules/frobnicator.py")
    # the table keeps a broken plugin to one short line; the whole reason is in --json
    assert "  BROKEN  failed to import: ImportError: the" in line
    assert line.endswith("… (plugins --json)")
    shown = line.split("  BROKEN  ", 1)[1].strip()
    assert len(shown) <= 80  # as short as a summary: the table stays as wide as it was
    for name in DEMO_PLUGINS:
        assert " ok " in table_line(listed.out, name)

    as_json = cli(project, "plugins", "--json")
    assert as_json.code == 0, as_json.err
    rows = rows_by_name(as_json.out)
    assert rows["modules/frobnicator.py"]["status"] == "broken"
    assert rows["modules/frobnicator.py"]["error"] == reason
    assert all(rows[name]["status"] == "ok" for name in DEMO_PLUGINS)

    docs = cli(project, "generate-docs", "--output", str(tmp_path / "P.md"))
    assert docs.code == 0, docs.err
    assert f"warning: {reason}" in docs.err
    assert "## Broken plugins\n\n- `modules/frobnicator.py`: " in (tmp_path / "P.md").read_text()

    demo = cli(project, "pipeline", "--case", "demo")
    assert demo.code == 0, demo.err
    assert (project / "cases" / "demo" / "data" / "report.json").is_file()

    write_numbers_case(project, "frob", [("Frobnicator", "numbers", "frobbed")])
    failed = cli(project, "pipeline", "--case", "frob")
    assert failed.code == 2
    errors = error_lines(failed.err)
    assert len(errors) == 1, failed.err
    assert errors[0].endswith(
        "plugin 'Frobnicator' could not be imported: modules/frobnicator.py:3: "
        "ImportError: the frobnicator library is not installed"
    )


def test_duplicate_plugin_name_names_both_modules(project: Path, cli) -> None:
    write(project / "modules" / "twin_a.py", scaler_plugin("Twin"))
    write(project / "modules" / "more" / "twin_b.py", scaler_plugin("Twin", scale="x * 5"))

    write_numbers_case(project, "twins", [("Twin", "numbers", "twinned")])
    failed = cli(project, "pipeline", "--case", "twins")
    assert failed.code == 2
    errors = error_lines(failed.err)
    assert len(errors) == 1, failed.err
    assert "'Twin'" in errors[0] and "offered twice" in errors[0]
    assert "modules/twin_a.py" in errors[0] and "modules/more/twin_b.py" in errors[0]
    assert not (project / "cases" / "twins" / "data" / "twinned.parquet").exists()

    listed = cli(project, "plugins")
    assert listed.code == 0, listed.err
    line = table_line(listed.out, "Twin")
    assert "  BROKEN  " in line and "modules/twin_a.py" in line
    rows = rows_by_name(cli(project, "plugins", "--json").out)
    assert rows["Twin"]["status"] == "broken"
    assert "modules/twin_a.py" in rows["Twin"]["error"]
    assert "modules/more/twin_b.py" in rows["Twin"]["error"]

    described = cli(project, "describe", "Twin")
    assert described.code == 2
    assert "modules/twin_a.py" in described.err and "modules/more/twin_b.py" in described.err


# -- describe ----------------------------------------------------------------------------


def test_describe_prints_the_plugin_section(project: Path, cli) -> None:
    result = cli(project, "describe", "SignalAligner")
    assert result.code == 0, result.err
    out = result.out
    assert out.startswith("## SignalAligner\n\nResample wheel, IMU and GPS onto one uniform")
    assert "Source: `modules/signal_aligner.py`" in out
    inputs = out.split("**Inputs**", 1)[1].split("**Outputs**", 1)[0]
    assert "| name | description |" in inputs
    assert all(f"| `{port}` |" in inputs for port in ("wheel", "imu", "gps"))
    outputs = out.split("**Outputs**", 1)[1].split("**Params**", 1)[0]
    assert "| `aligned` |" in outputs
    params = out.split("**Params**", 1)[1]
    assert "| name | type | default | description |" in params
    assert "| `rate_hz` | float | `20.0` | Rate of the common time grid in Hz" in params
    assert "| `max_staleness_s` | float | `0.25` |" in params


def test_describe_unknown_plugin_exits_2_with_a_suggestion(project: Path, cli) -> None:
    close = cli(project, "describe", "SignalAlignr")
    assert close.code == 2 and close.out == ""
    assert error_lines(close.err) == [
        "error: unknown plugin 'SignalAlignr'; did you mean 'SignalAligner'?"
    ]
    far = cli(project, "describe", "Nope")
    assert far.code == 2 and far.out == ""
    (line,) = error_lines(far.err)
    assert "unknown plugin 'Nope'" in line
    assert all(name in line for name in DEMO_PLUGINS)


# -- what listing and --help import ------------------------------------------------------

LIGHT_MODULE = '''\
"""A plugin module that needs no data library."""

import pathlib

from datareplay import BasePlugin

pathlib.Path(__file__).with_name("IMPORTED").write_text("imported")


class Light(BasePlugin):
    """Write a constant."""

    outputs = {"out": "The number 1."}

    def run(self, hub):
        hub["out"] = 1
'''


@pytest.fixture
def light_project(project: Path) -> Path:
    """The demo project with modules/ holding one plugin module that imports no pandas."""
    shutil.rmtree(project / "modules")
    write(project / "modules" / "light.py", LIGHT_MODULE)
    return project


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("DATAREPLAY_PROJECT", None)
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_listing_plugins_imports_no_pandas_when_no_plugin_does(light_project: Path) -> None:
    code = (
        "import sys\n"
        "from datareplay.cli.main import main\n"
        "rc = main(['--project', sys.argv[1], 'plugins'])\n"
        "print('PANDAS', 'pandas' in sys.modules, rc)\n"
    )
    proc = run_python(code, str(light_project))
    assert proc.returncode == 0, proc.stderr
    assert "PANDAS False 0" in proc.stdout
    assert table_line(proc.stdout, "Light").split()[1:3] == ["modules/light.py", "ok"]
    assert (light_project / "modules" / "IMPORTED").is_file()  # the module was imported


def test_help_imports_no_plugin_module(light_project: Path) -> None:
    code = (
        "import sys\n"
        "from datareplay.cli.main import main\n"
        "for args in (['--help'], ['plugins', '--help'], ['describe', '--help']):\n"
        "    rc = main(['--project', sys.argv[1], *args])\n"
        "    print('RC', rc)\n"
        "print('PLUGINS', sorted(m for m in sys.modules if m.startswith('datareplay_plugins')))\n"
    )
    proc = run_python(code, str(light_project))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("RC 0") == 3
    assert "PLUGINS []" in proc.stdout
    assert not (light_project / "modules" / "IMPORTED").exists()


# -- generate-docs --check ---------------------------------------------------------------


def test_generate_docs_check_follows_plugin_docstrings(project: Path, cli) -> None:
    docs = project / "PLUGINS.md"
    assert cli(project, "generate-docs").code == 0
    assert cli(project, "generate-docs", "--check").code == 0

    module = project / "modules" / "report_writer.py"
    old = "Summarise the drive in one table of metrics with units."
    new = "Summarise the whole drive in one table of metrics, each with its unit."
    source = module.read_text(encoding="utf-8")
    assert source.count(old) == 1
    module.write_text(source.replace(old, new), encoding="utf-8")
    before = docs.read_bytes()

    stale = cli(project, "generate-docs", "--check")
    assert stale.code == 1
    assert "PLUGINS.md is stale" in stale.err
    assert docs.read_bytes() == before  # --check never writes

    assert cli(project, "generate-docs").code == 0
    text = docs.read_text(encoding="utf-8")
    assert new in text and old not in text
    fresh = cli(project, "generate-docs", "--check")
    assert fresh.code == 0, fresh.err
    assert "PLUGINS.md is up to date" in fresh.out
