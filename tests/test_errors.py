"""Unit tests of datareplay.errors: exit codes, StepFailed, did_you_mean, describe_exception."""

from __future__ import annotations

import pytest

from datareplay.errors import (
    CaseLockedError,
    ConfigError,
    DataAccessError,
    DataReplayError,
    ExitCode,
    MissingInputError,
    PersistenceError,
    PipelineError,
    PluginDefinitionError,
    QualityError,
    RunError,
    StepFailed,
    UnknownNameError,
    UnsafeNameError,
    UsageError,
    describe_exception,
    did_you_mean,
)


def test_exit_code_values() -> None:
    assert ExitCode.OK == 0
    assert ExitCode.RUN_FAILED == 1
    assert ExitCode.USAGE_ERROR == 2
    assert ExitCode.INTERRUPTED == 130
    assert [int(c) for c in ExitCode] == [0, 1, 2, 130]


@pytest.mark.parametrize(
    "cls",
    [
        UsageError,
        ConfigError,
        UnknownNameError,
        UnsafeNameError,
        PluginDefinitionError,
        PipelineError,
        MissingInputError,
        CaseLockedError,
    ],
)
def test_usage_errors_exit_with_2(cls: type[DataReplayError]) -> None:
    assert issubclass(cls, UsageError)
    assert cls.exit_code is ExitCode.USAGE_ERROR
    assert cls("x").exit_code == 2


@pytest.mark.parametrize(
    "cls", [RunError, DataAccessError, PersistenceError, QualityError, DataReplayError]
)
def test_run_errors_exit_with_1(cls: type[DataReplayError]) -> None:
    assert issubclass(cls, DataReplayError)
    assert not issubclass(cls, UsageError)
    assert cls.exit_code is ExitCode.RUN_FAILED
    assert cls("x").exit_code == 1


def test_missing_input_is_a_pipeline_error() -> None:
    assert issubclass(MissingInputError, PipelineError)


def test_step_failed_exits_with_1_and_is_a_run_error() -> None:
    exc = StepFailed(step="s", index=0, plugin="s", case="c", run_id="r", reason="boom")
    assert isinstance(exc, RunError)
    assert exc.exit_code is ExitCode.RUN_FAILED


def test_step_failed_message_and_attributes() -> None:
    exc = StepFailed(
        step="detect", index=2, plugin="EventDetector", case="demo", run_id="rid", reason="bad"
    )
    assert str(exc) == (
        "step 3 'detect' (plugin EventDetector) of case 'demo' failed in run rid: bad"
    )
    assert (exc.step, exc.index, exc.plugin, exc.case, exc.run_id, exc.reason) == (
        "detect",
        2,
        "EventDetector",
        "demo",
        "rid",
        "bad",
    )


def test_step_failed_omits_plugin_when_it_is_the_step_name() -> None:
    exc = StepFailed(
        step="EventDetector",
        index=0,
        plugin="EventDetector",
        case="demo",
        run_id="rid",
        reason="bad",
    )
    assert str(exc) == "step 1 'EventDetector' of case 'demo' failed in run rid: bad"
    assert "(plugin" not in str(exc)


def test_step_failed_takes_keyword_arguments_only() -> None:
    with pytest.raises(TypeError):
        StepFailed("s", 0, "p", "c", "r", "why")  # type: ignore[misc]


def test_did_you_mean_close_match() -> None:
    assert did_you_mean("demp", ["demo", "other"]) == "; did you mean 'demo'?"


def test_did_you_mean_picks_the_closest() -> None:
    assert did_you_mean("signal_cleaner", ["signal_cleaned", "signal"]) == (
        "; did you mean 'signal_cleaned'?"
    )


def test_did_you_mean_no_candidates() -> None:
    assert did_you_mean("demo", []) == ""


def test_did_you_mean_nothing_close() -> None:
    assert did_you_mean("xyz", ["demo", "report"]) == ""


def test_did_you_mean_accepts_any_iterable() -> None:
    assert did_you_mean("report", (n for n in ["reports"])) == "; did you mean 'reports'?"
    assert did_you_mean("report", {"repor": 1}) == "; did you mean 'repor'?"


def test_describe_exception_with_message() -> None:
    assert describe_exception(ValueError("bad value")) == "ValueError: bad value"


def test_describe_exception_without_message() -> None:
    assert describe_exception(KeyboardInterrupt()) == "KeyboardInterrupt"
    assert describe_exception(RuntimeError("   ")) == "RuntimeError"


def test_describe_exception_keeps_only_the_first_line() -> None:
    exc = RuntimeError("first line\nsecond line\nthird")
    assert describe_exception(exc) == "RuntimeError: first line"


def test_describe_exception_strips_leading_blank_lines() -> None:
    assert describe_exception(OSError("\n  \nreal reason\nmore")) == "OSError: real reason"


def test_describe_exception_key_error_uses_repr_of_key() -> None:
    assert describe_exception(KeyError("col")) == "KeyError: 'col'"
