"""The command line: ``datareplay ...`` and ``python run.py ...`` are the same program.

Only click and the standard library are imported at start-up; everything that touches
data (pandas, pyarrow, plugins) is imported inside the command that needs it, so
``--help`` and ``--version`` stay instant.

Every way a command can end is an exit code and, for an error, one line per problem on
stderr: a ``DataReplayError`` prints its message, Ctrl-C prints "interrupted" (exit 130,
also while an error is being reported), anything else "unexpected ..."; ``--debug`` adds
the traceback. Whatever is printed on stderr passes through the session's ``Secrets``, so
a value read from an environment variable never appears in it.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from datareplay import __version__
from datareplay.cli import interrupts
from datareplay.cli import records as _records
from datareplay.errors import DataReplayError, ExitCode
from datareplay.project.oserrors import os_error

if TYPE_CHECKING:
    from datareplay.config.secrets import Secrets
    from datareplay.session import CaseOptions, RunControl, Session

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _State:
    """Options of the group, and the session built from them on first use."""

    def __init__(self, project: str | None, debug: bool, prog: str, verbosity: int = 0) -> None:
        self.project_option = project
        self.debug = debug
        self.prog = prog
        self.verbosity = verbosity  # -1 --quiet, 0 normal, 1 --verbose
        self._session: Session | None = None

    def session(self) -> Session:
        if self._session is None:
            from datareplay.project.paths import default_project
            from datareplay.session import Session

            session = Session(default_project(self.project_option), command_hint=self.prog)
            session.config.configure_logging(debug=self.debug, verbosity=self.verbosity)
            self._session = session
            interrupts.checkpoint("session")
        return self._session

    def secrets(self) -> Secrets | None:
        """The environment values the command's configuration used (to keep them unshown)."""
        return self._session.config.secrets if self._session is not None else None

    @property
    def quiet(self) -> bool:
        return self.verbosity < 0

    def run_listeners(self, session: Session, *, single_step: bool = False) -> list[Any]:
        """The listeners a run on the command line gets: the end-of-run printer, and a
        live progress line when stderr is a terminal (not with --quiet)."""
        from datareplay.cli.progress import LiveProgress, wanted
        from datareplay.cli.render import EndOfRunPrinter

        printer = EndOfRunPrinter(
            self.echo,
            root=session.project.root,
            single_step=single_step,
            quiet=self.quiet,
            hint=self.prog,
        )
        if wanted(quiet=self.quiet):
            return [LiveProgress(), printer]
        return [printer]

    def echo(self, text: str) -> None:
        """Print ``text`` on stdout without any value read from the environment."""
        secrets = self.secrets()
        click.echo(secrets.redact(text) if secrets is not None else text)


pass_state = click.make_pass_decorator(_State)


def case_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--set, --params and --env, handed to the command as one ``options`` argument."""

    @functools.wraps(func)
    def command(
        *args: Any,
        env: str | None,
        params_files: tuple[Path, ...],
        overrides: tuple[str, ...],
        **kwargs: Any,
    ) -> Any:
        from datareplay.session import CaseOptions

        options = CaseOptions(env=env, params_files=params_files, overrides=overrides)
        return func(*args, options=options, **kwargs)

    decorated = click.option(
        "--env",
        metavar="NAME",
        envvar="DATAREPLAY_ENV",
        help="Environment layer config/env/NAME.yaml (also DATAREPLAY_ENV).",
    )(command)
    decorated = click.option(
        "--params",
        "params_files",
        multiple=True,
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="FILE",
        help="YAML file of overrides, over case.yaml (repeatable).",
    )(decorated)
    return click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help="Override one config value for this run, e.g. "
        "pipeline.EventDetector.params.hard_brake_mps2=3.5 (repeatable; +KEY adds a key).",
    )(decorated)


def run_control_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--force, --force-step, --no-cache, --from, --to, --only and --resume, handed to
    the command as one ``control`` argument (a ``RunControl``)."""

    @functools.wraps(func)
    def command(
        *args: Any,
        force: bool,
        force_steps: tuple[str, ...],
        no_cache: bool,
        from_step: str | None,
        to_step: str | None,
        only: tuple[str, ...],
        resume: bool,
        **kwargs: Any,
    ) -> Any:
        from datareplay.session import RunControl

        names = tuple(n.strip() for item in only for n in item.split(",") if n.strip())
        if only and not names:
            raise click.UsageError(
                "--only needs step names, e.g. --only EventDetector,ReportWriter"
            )
        control = RunControl(
            force=force,
            force_steps=force_steps,
            cache=not no_cache,
            from_step=from_step,
            to_step=to_step,
            only=names,
            resume=resume,
        )
        return func(*args, control=control, **kwargs)

    decorated: Callable[..., Any] = command
    for option in reversed(
        [
            click.option("--force", is_flag=True, help="Run every step, cached or not."),
            click.option(
                "--force-step",
                "force_steps",
                multiple=True,
                metavar="STEP",
                help="Run STEP and every step after it that depends on it (repeatable).",
            ),
            click.option(
                "--no-cache", is_flag=True, help="Neither look up nor reuse earlier runs."
            ),
            click.option("--from", "from_step", metavar="STEP", help="Start at STEP."),
            click.option("--to", "to_step", metavar="STEP", help="Stop after STEP."),
            click.option(
                "--only",
                multiple=True,
                metavar="STEP[,STEP]",
                help="Run only these steps (inputs from the latest recorded files).",
            ),
            click.option(
                "--resume",
                is_flag=True,
                help="Continue the latest failed or interrupted run from its failed step.",
            ),
        ]
    ):
        decorated = option(decorated)
    return decorated


def _global_option(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Store ``--project``/``--debug``/``--quiet``/``--verbose`` given after the command
    name in the group's state."""
    state = ctx.find_object(_State)
    if state is None or value is None or value is False:
        return
    if param.name == "project":
        state.project_option = value
    elif param.name == "quiet":
        state.verbosity = -1
    elif param.name == "verbose":
        state.verbosity = 1
    else:
        state.debug = True


_GLOBAL_OPTIONS = (
    (["--project"], False, "Project folder (as before the command name)."),
    (["--debug"], True, "Show tracebacks and debug logging."),
    (["--quiet", "-q"], True, "Print only warnings, errors and the closing line."),
    (["--verbose", "-v"], True, "Add debug log lines."),
)


class _Group(click.Group):
    """A group whose options ``--project`` and ``--debug`` also work after the command name.

    ``datareplay --project p pipeline --case c`` and ``datareplay pipeline --case c
    --project p`` mean the same; given in both places, the one after the command wins.
    """

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        cmd.params += [
            click.Option(
                names,
                metavar="DIR" if not flag else None,
                is_flag=flag,
                expose_value=False,
                callback=_global_option,
                help=text,
            )
            for names, flag, text in _GLOBAL_OPTIONS
        ]
        super().add_command(cmd, name)


@click.group(cls=_Group, context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="datareplay")
@click.option(
    "--project",
    metavar="DIR",
    envvar="DATAREPLAY_PROJECT",
    help="Project folder (default: found from the current folder upward).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@click.option(
    "--quiet", "-q", is_flag=True, help="Print only warnings, errors and the closing line."
)
@click.option("--verbose", "-v", is_flag=True, help="Add debug log lines.")
@click.pass_context
def cli(ctx: click.Context, project: str | None, debug: bool, quiet: bool, verbose: bool) -> None:
    """Data Replay: rerun recorded data through processing plugins, traceably.

    \b
    Examples:
      python run.py pipeline --case demo
      python run.py pipeline --case my_case --template demo
      python run.py plugin SignalAligner --case demo
    """
    verbosity = -1 if quiet else 1 if verbose else 0
    ctx.obj = _State(project, debug, ctx.find_root().info_name or "datareplay", verbosity)


@cli.command()
@click.option(
    "--case", "case", required=True, metavar="CASE", help="Case to run (cases/<CASE>/case.yaml)."
)
@click.option("--template", metavar="T", help="Create the case from templates/<T>_case.yaml first.")
@click.option("--wait", is_flag=True, help="Wait for another run of the case instead of failing.")
@run_control_options
@case_options
@pass_state
def pipeline(
    state: _State,
    case: str,
    template: str | None,
    wait: bool,
    control: RunControl,
    options: CaseOptions,
) -> None:
    """Run the pipeline of a case; steps whose code, params and inputs are unchanged
    since an earlier run are restored, not run (see --force, --no-cache)."""
    session = state.session()
    if template is not None:
        created = session.create_case(case, template, options)
        where = session.project.relative(session.project.case_dir(case))
        if created:
            click.echo(f"created case '{case}' in {where}/ from template '{template}'", err=True)
    session.run_pipeline(
        case, options, wait=wait, listeners=state.run_listeners(session), control=control
    )


@cli.command()
@click.option("--case", "case", required=True, metavar="CASE", help="Case to explain.")
@run_control_options
@case_options
@pass_state
def explain(state: _State, case: str, control: RunControl, options: CaseOptions) -> None:
    """Say, without running anything, which steps a pipeline run would run and why."""
    from datareplay.cli.render import table

    rows = [("#", "step", "decision", "why")]
    for position, (name, decision, why) in enumerate(
        state.session().explain(case, options, control), start=1
    ):
        rows.append((str(position), name, decision, why))
    click.echo(table(rows))


@cli.command()
@click.argument("name")
@click.option(
    "--case", "case", required=True, metavar="CASE", help="Case whose pipeline holds the plugin."
)
@click.option("--wait", is_flag=True, help="Wait for another run of the case instead of failing.")
@case_options
@pass_state
def plugin(state: _State, name: str, case: str, wait: bool, options: CaseOptions) -> None:
    """Run one plugin (step) of a case alone, from persisted inputs."""
    session = state.session()
    listeners = state.run_listeners(session, single_step=True)
    session.run_plugin(case, name, options, wait=wait, listeners=listeners)


@cli.command("config")
@click.option(
    "--case", "case", required=True, metavar="CASE", help="Case whose merged config to show."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {config, origins}.")
@case_options
@pass_state
def config_command(state: _State, case: str, as_json: bool, options: CaseOptions) -> None:
    """Print the merged config of a case with the origin of every value.

    Values that came from environment variables are shown as ``<redacted: env:NAME>``.
    """
    import json

    from datareplay.config.merged import leaf_paths, render_yaml
    from datareplay.config.safe_yaml import format_path

    session = state.session()
    config = session.config.load_case(
        case, env=options.env, params_files=options.params_files, overrides=options.overrides
    )
    data = config.settings.model_dump(mode="json")
    for key in ("vars", "data_sources", "pipeline"):  # as written, without schema defaults
        data[key] = config.merged.data.get(key, data[key])
    data = config.merged.shown(data)
    if as_json:
        origins = {format_path(path): config.merged.origin(path) for path, _ in leaf_paths(data)}
        document = {"config": _finite(data), "origins": origins}
        click.echo(json.dumps(document, indent=2, default=str, allow_nan=False))
        return
    click.echo(f"# merged config of case '{case}' from: {', '.join(config.files)}")
    click.echo(render_yaml(data, config.merged.origin), nl=False)


def _finite(value: Any) -> Any:
    """``value`` with infinities and NaN as their YAML spelling (JSON has no such numbers)."""
    import math

    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ".inf" if value > 0 else "-.inf"
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


@cli.command()
@click.option("--case", "case", required=True, metavar="CASE", help="Case to check.")
@case_options
@pass_state
def validate(state: _State, case: str, options: CaseOptions) -> None:
    """Check config, plugins, params, data flow and raw inputs without running anything."""
    session = state.session()
    opened = session.validate(case, options)
    click.echo(
        f"case '{case}' is valid: {len(opened.plan.steps)} steps, "
        f"{len(opened.hub.sources)} data sources, raw inputs present"
    )


@cli.command("generate-data")
@click.option(
    "--rows",
    type=click.IntRange(min=100),
    default=100_000,
    show_default=True,
    help="Rows of the main recording (wheel speed, 100 Hz).",
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=42, show_default=True, help="Random seed."
)
@click.option("--faults", is_flag=True, help="Also write the recording with injected faults.")
@click.option("--wait", is_flag=True, help="Wait for runs reading the raw data instead of failing.")
@pass_state
def generate_data(state: _State, rows: int, seed: int, faults: bool, wait: bool) -> None:
    """Clean and regenerate the demo raw data (deterministic for a seed)."""
    from datareplay.cli.render import human_size

    session = state.session()
    paths = session.generate_data(rows=rows, seed=seed, faults=faults, wait=wait)
    for path in paths:
        size = path.stat().st_size
        click.echo(f"wrote {session.project.relative(path)} ({human_size(size)})")


@cli.command("generate-docs")
@click.option("--check", is_flag=True, help="Exit 1 if PLUGINS.md is not up to date.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write here instead of PLUGINS.md at the project root.",
)
@pass_state
def generate_docs(state: _State, check: bool, output: Path | None) -> None:
    """Write PLUGINS.md from the plugins' docstrings and declarations."""
    from datareplay.plugins.docs import render

    session = state.session()
    registry = session.registry()
    text = render(registry.infos())
    target = output or session.project.root / "PLUGINS.md"
    for info in registry.infos():
        if not info.ok:
            click.echo(f"warning: {info.error}", err=True)
    if check:
        current = target.read_text(encoding="utf-8") if target.is_file() else ""
        if current != text:
            click.echo(
                f"{session.project.relative(target)} is stale; run '{state.prog} generate-docs'",
                err=True,
            )
            raise SystemExit(ExitCode.RUN_FAILED)
        click.echo(f"{session.project.relative(target)} is up to date")
        return
    from datareplay.data.atomic import atomic_write_bytes

    atomic_write_bytes(target, text.encode("utf-8"))
    click.echo(f"wrote {session.project.relative(target)} ({len(registry.names())} plugins)")


@cli.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init_command(directory: Path) -> None:
    """Create a new project in DIRECTORY that runs straight away."""
    import shlex

    from datareplay.project.scaffold import init_project

    written = init_project(directory)
    click.echo(f"created a Data Replay project in {directory} ({len(written)} files); try:")
    click.echo(f"  cd {shlex.quote(str(directory))} && datareplay pipeline --case example")


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for tools.")
@pass_state
def plugins_command(state: _State, as_json: bool) -> None:
    """List every plugin: name, where it comes from, summary and status."""
    import json

    from datareplay.cli.render import table as render_table

    infos = state.session().registry().infos()
    rows = [
        {
            "name": info.name,
            "source": info.source,
            "origin": info.origin,
            "summary": info.plugin.summary() if info.plugin is not None else "",
            "status": "ok" if info.ok else "broken",
            "error": info.error,
            "short_error": info.short_error,
        }
        for info in infos
    ]
    if as_json:
        for row in rows:
            del row["short_error"]  # the full reason is in "error"
        click.echo(json.dumps(rows, indent=2))
        return
    table = [("plugin", "source", "status", "summary, or why it is broken")]
    for row in rows:
        ok = row["status"] == "ok"
        # a broken plugin's reason is as short as a summary: the whole text is in --json
        text = str(row["summary"]) if ok else str(row["short_error"])
        table.append(
            (
                str(row["name"]),
                str(row["origin"]),
                "ok" if ok else "BROKEN",
                text,
            )
        )
    click.echo(render_table(table))


@cli.command()
@click.argument("name")
@pass_state
def describe(state: _State, name: str) -> None:
    """Show the full documentation of one plugin (as in PLUGINS.md)."""
    from datareplay.plugins.docs import plugin_section

    registry = state.session().registry()
    plugin = registry.get(name)
    origin = next(i.origin for i in registry.infos() if i.name == name)
    click.echo(plugin_section(plugin, origin).rstrip())


_records.register(cli, pass_state)


def main(argv: list[str] | None = None, *, prog_name: str | None = None) -> int:
    """Run the command line; return the exit code instead of exiting.

    While it runs, Ctrl-C raises KeyboardInterrupt (a run stops cleanly) and is reported
    as one line with exit code 130; the previous SIGINT handler is restored on return.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    holder: list[click.Context] = []
    with interrupts.raising():
        try:
            interrupts.checkpoint("main")
            return _run(args, prog_name or "datareplay", holder)
        except KeyboardInterrupt:
            interrupts.ignore()  # a second Ctrl-C must not turn the line into a traceback
            _error(interrupts.MESSAGE)
            return ExitCode.INTERRUPTED


def _run(args: list[str], prog_name: str, holder: list[click.Context]) -> int:
    """Run one command; every exception becomes its exit code and one line per problem."""
    debug = "--debug" in args

    def report(message: str) -> None:
        _error(message, _secrets(holder))

    def traceback_if_debug(extra: str = "") -> None:
        if debug:
            import traceback

            secrets = _secrets(holder)
            text = traceback.format_exc() + extra
            click.echo((secrets.redact(text) if secrets else text).rstrip(), err=True)

    try:
        ctx = cli.make_context(prog_name, list(args))
        holder.append(ctx)
        with ctx:
            cli.invoke(ctx)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # no command given: show the help
            click.echo(exc.format_message())
            return ExitCode.OK
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see '{exc.ctx.command_path} --help')"
        report(exc.format_message().replace("\n", " ") + hint)
        return ExitCode.USAGE_ERROR
    except click.Abort:
        raise KeyboardInterrupt from None
    except DataReplayError as exc:
        details = getattr(exc, "details", "")
        remote = details if details and exc.__cause__ is None else ""  # raised in a worker
        traceback_if_debug(remote)
        report(_shortened(exc))
        return exc.exit_code
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else ExitCode.RUN_FAILED
    except BrokenPipeError:  # the reader of stdout went away (`... | head`): say nothing
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # nothing more can reach that pipe
        os.close(devnull)
        return ExitCode.RUN_FAILED
    except OSError as exc:  # a file operation outside the engine's own error handling
        traceback_if_debug()
        error = os_error(exc, _file_operation(exc))
        report(str(error))
        return error.exit_code
    except Exception as exc:
        traceback_if_debug()
        message = str(exc).replace("\n", " ")
        report(f"unexpected {type(exc).__name__}: {message} (rerun with --debug for the traceback)")
        return ExitCode.RUN_FAILED
    return ExitCode.OK


def _shortened(exc: DataReplayError) -> str:
    """The error as the command line prints it: a step stopped by failed checks names
    them (each is listed in full, once, by the run's summary on stdout)."""
    from datareplay.errors import StepFailed

    if not isinstance(exc, StepFailed) or exc.error_type != "QualityError":
        return str(exc)
    names = [line.split(" FAILED")[0] for line in exc.reason.splitlines() if " FAILED" in line]
    if not names:
        return str(exc)
    head = str(exc)[: len(str(exc)) - len(exc.reason)]
    what = "check" if len(names) == 1 else "checks"
    return f"{head}{len(names)} {what} of severity error failed ({'; '.join(names)})"


def _file_operation(exc: OSError) -> str:
    """``could not access PATH``: the file an OSError names, relative if below here."""
    import os

    if not exc.filename:
        return "a file operation failed"
    name = os.fsdecode(exc.filename)
    relative = os.path.relpath(name)
    return f"could not access {name if relative.startswith('..') else relative}"


def _secrets(holder: list[click.Context]) -> Secrets | None:
    state = holder[0].obj if holder else None
    return state.secrets() if isinstance(state, _State) else None


def _error(message: str, secrets: Secrets | None = None) -> None:
    """Print each line of ``message`` as one ``error:`` line on stderr, secrets redacted."""
    if secrets:
        message = secrets.redact(message)
    for line in message.splitlines() or [""]:
        click.echo(f"error: {line}", err=True)


def run(argv: list[str] | None = None) -> None:
    """Console-script entry point of earlier installs; see ``datareplay.__main__.run``."""
    from datareplay.__main__ import run as program

    program(argv)
