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


# -- pickling ---------------------------------------------------------------------------------


def error_classes() -> list[type[DataReplayError]]:
    """Every DataReplayError subclass defined in datareplay.errors (and the base)."""
    import inspect

    import datareplay.errors as module

    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, DataReplayError) and cls.__module__ == module.__name__
    ]


def test_every_error_class_is_discovered() -> None:
    names = {cls.__name__ for cls in error_classes()}
    assert names >= {
        "DataReplayError",
        "UsageError",
        "ConfigError",
        "UnknownNameError",
        "UnsafeNameError",
        "PluginDefinitionError",
        "PipelineError",
        "MissingInputError",
        "CaseLockedError",
        "RunError",
        "StepFailed",
        "DataAccessError",
        "PersistenceError",
        "QualityError",
    }


def make_error(cls: type[DataReplayError]) -> DataReplayError:
    if cls is StepFailed:
        return StepFailed(
            step="detect",
            index=4,
            plugin="EventDetector",
            case="demo",
            run_id="20260101-000000-abcdef",
            reason="ValueError: sensor table is empty",
            error_type="ValueError",
            details="Traceback (most recent call last):\n  ...\nValueError: sensor table is empty\n",
        )
    error = cls(f"{cls.__name__}: something went wrong in 'demo'; fix it")
    error.source = "cases/demo/case.yaml"  # type: ignore[attr-defined]  # an attribute set later
    return error


@pytest.mark.parametrize("cls", error_classes(), ids=lambda cls: cls.__name__)
def test_every_error_survives_a_pickle_round_trip(cls: type[DataReplayError]) -> None:
    import pickle

    error = make_error(cls)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert str(copy) == str(error)
    assert copy.args == error.args
    assert copy.exit_code == error.exit_code
    assert vars(copy) == vars(error)
    assert vars(copy)  # every error made here carries attributes
    # and once more: a copy pickles like the original
    assert vars(pickle.loads(pickle.dumps(copy))) == vars(error)


def test_step_failed_round_trip_keeps_every_attribute() -> None:
    import pickle

    error = make_error(StepFailed)
    assert isinstance(error, StepFailed)
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, StepFailed)
    fields = ("step", "index", "plugin", "case", "run_id", "reason", "error_type", "details")
    assert [getattr(copy, f) for f in fields] == [getattr(error, f) for f in fields]
    assert str(copy) == (
        "step 5 'detect' (plugin EventDetector) of case 'demo' failed in run "
        "20260101-000000-abcdef: ValueError: sensor table is empty"
    )
    assert copy.exit_code is ExitCode.RUN_FAILED


def test_errors_cross_a_process_boundary_as_exceptions() -> None:
    import pickle

    try:
        raise make_error(PersistenceError)
    except PersistenceError as exc:
        copy = pickle.loads(pickle.dumps(exc))
    with pytest.raises(PersistenceError, match=r"^PersistenceError: something went wrong"):
        raise copy
