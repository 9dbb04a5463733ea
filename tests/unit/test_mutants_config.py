"""config.py pinned exactly: every getter's parsing, the warning texts and the bounds of report_once.

Written against the mutants `make mutation` left alive: each test states one exact output.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from lambda_tracer import config


@pytest.fixture(autouse=True)
def _fresh_reports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(config, "_reported", set())
    monkeypatch.setattr(config, "suppressed", 0)
    yield


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "lambda_tracer" and r.levelno == logging.WARNING]


VAR = "LAMBDA_TRACER_TEST_MUTANTS_VAR"


# -- shown ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("x" * 24, repr("x" * 24)),
        ("x" * 25, "<25 characters>"),
        ("", "''"),
        ("a\nb", "<3 characters>"),
        ("é", "<1 characters>"),
        ("on", "'on'"),
    ],
)
def test_shown_quotes_short_printable_ascii_only(raw: str, expected: str) -> None:
    assert config.shown(raw) == expected


def test_shown_limit_argument() -> None:
    assert config.shown("abcd", 4) == "'abcd'"
    assert config.shown("abcde", 4) == "<5 characters>"


# -- warn_once / report_once ------------------------------------------------------------------------------------


def test_warn_once_message_and_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="lambda_tracer")
    config.warn_once("SOME_VAR", "bad", "the default")
    config.warn_once("SOME_VAR", "bad", "the default")
    assert _warnings(caplog) == ["lambda_tracer: ignoring SOME_VAR='bad' (not understood); using the default"]
    assert config._reported == {("SOME_VAR", "bad")}


def test_warn_once_keys_on_first_64_characters(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="lambda_tracer")
    config.warn_once("V", "a" * 64 + "X", "x")
    config.warn_once("V", "a" * 64 + "Y", "x")
    config.warn_once("V", "a" * 63 + "Z", "x")
    assert _warnings(caplog) == [
        "lambda_tracer: ignoring V=<65 characters> (not understood); using x",
        "lambda_tracer: ignoring V=<64 characters> (not understood); using x",
    ]
    assert config._reported == {("V", "a" * 64), ("V", "a" * 63 + "Z")}


def test_report_once_bounds_and_counts_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="lambda_tracer")
    for number in range(config.MAX_REPORTS):
        config.report_once(("k", str(number)), f"m{number}")
    assert len(_warnings(caplog)) == 50
    assert _warnings(caplog)[0] == "lambda_tracer: m0"
    assert _warnings(caplog)[-1] == "lambda_tracer: m49"
    assert config.suppressed == 0
    config.report_once(("k", "0"), "again")  # known: nothing, not even counted
    assert config.suppressed == 0
    caplog.clear()
    for number in range(50, 150):
        config.report_once(("k", str(number)), f"m{number}")
    assert config.suppressed == 100
    assert len(config._reported) == 50
    assert _warnings(caplog) == [
        "lambda_tracer: 1 warnings not logged (only 50 kinds are)",
        "lambda_tracer: 10 warnings not logged (only 50 kinds are)",
        "lambda_tracer: 100 warnings not logged (only 50 kinds are)",
    ]


def test_report_once_fifty_distinct_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="lambda_tracer")
    for number in range(49):
        config.report_once((str(number),), "x")
    config.report_once(("last",), "fiftieth")
    assert _warnings(caplog)[-1] == "lambda_tracer: fiftieth"
    assert config.suppressed == 0
    config.report_once(("over",), "51st")
    assert _warnings(caplog)[-1] == "lambda_tracer: 1 warnings not logged (only 50 kinds are)"
    assert config.suppressed == 1
    assert ("over",) not in config._reported


# -- error_place -----------------------------------------------------------------------------------------------


def test_error_place_names_type_file_and_line() -> None:
    try:
        raise KeyError("secret value")
    except KeyError as error:
        line = error.__traceback__.tb_lineno  # type: ignore[union-attr]
        assert config.error_place(error) == f"KeyError at test_mutants_config.py:{line}"


def _raise_inner() -> None:
    raise ValueError("x")


def test_error_place_uses_the_innermost_frame() -> None:
    try:
        _raise_inner()
    except ValueError as error:
        line = _raise_inner.__code__.co_firstlineno + 1
        assert config.error_place(error) == f"ValueError at test_mutants_config.py:{line}"


def test_error_place_without_traceback() -> None:
    assert config.error_place(OSError("never raised")) == "OSError"


# -- getters ---------------------------------------------------------------------------------------------------


def test_get_raw(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VAR, raising=False)
    assert config.get_raw(VAR) is None
    monkeypatch.setenv(VAR, " raw ")
    assert config.get_raw(VAR) == " raw "


@pytest.mark.parametrize("raw", ["1", "y", "yes", "t", "true", "on", " TRUE ", "On", "Y"])
def test_explicit_bool_true(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(VAR, raw)
    assert config.get_explicit_bool(VAR) is True
    assert config.get_bool(VAR, False) is True


@pytest.mark.parametrize("raw", ["0", "n", "no", "f", "false", "off", " FALSE ", "Off", "N"])
def test_explicit_bool_false(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(VAR, raw)
    assert config.get_explicit_bool(VAR) is False
    assert config.get_bool(VAR, True) is False


@pytest.mark.parametrize("raw", ["", "   ", "\t"])
def test_explicit_bool_blank_is_none_without_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, raw: str
) -> None:
    caplog.set_level(logging.WARNING, logger="lambda_tracer")
    monkeypatch.setenv(VAR, raw)
    assert config.get_explicit_bool(VAR) is None
    assert config.get_bool(VAR, True) is True
    assert config.get_bool(VAR, False) is False
    assert _warnings(caplog) == []


def test_explicit_bool_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VAR, raising=False)
    assert config.get_explicit_bool(VAR) is None
    assert config.get_explicit_bool(VAR, True) is None
    assert config.get_bool(VAR, True) is True
    assert config.get_bool(VAR, False) is False


def test_explicit_bool_garbage_warns_with_the_default(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lambda_tracer")
    monkeypatch.setenv(VAR, "maybe")
    assert config.get_explicit_bool(VAR) is None
    assert config.get_bool(VAR, True) is True
    monkeypatch.setenv(VAR, "perhaps")
    assert config.get_bool(VAR, False) is False
    assert _warnings(caplog) == [
        f"lambda_tracer: ignoring {VAR}='maybe' (not understood); using the default",
        f"lambda_tracer: ignoring {VAR}='perhaps' (not understood); using False",
    ]


def test_get_int_values(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="lambda_tracer")
    monkeypatch.delenv(VAR, raising=False)
    assert config.get_int(VAR, 7, 1, 10) == 7
    for raw, expected in [("", 7), ("  ", 7), (" 3 ", 3), ("1", 1), ("10", 10), ("-0", 1)]:
        monkeypatch.setenv(VAR, raw)
        assert config.get_int(VAR, 7, 1, 10) == expected, raw
    assert _warnings(caplog) == [
        f"lambda_tracer: ignoring {VAR}='-0' (not understood); using the nearest allowed value, 1 (allowed: 1 to 10)"
    ]


def test_get_int_garbage_and_clamping(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="lambda_tracer")
    monkeypatch.setenv(VAR, "12kb")
    assert config.get_int(VAR, 7, 1, 10) == 7
    monkeypatch.setenv(VAR, "11")
    assert config.get_int(VAR, 7, 1, 10) == 10
    monkeypatch.setenv(VAR, "0")
    assert config.get_int(VAR, 7, 1, 10) == 1
    assert _warnings(caplog) == [
        f"lambda_tracer: ignoring {VAR}='12kb' (not understood); using the default, 7",
        f"lambda_tracer: ignoring {VAR}='11' (not understood); using the nearest allowed value, 10 (allowed: 1 to 10)",
        f"lambda_tracer: ignoring {VAR}='0' (not understood); using the nearest allowed value, 1 (allowed: 1 to 10)",
    ]


def test_get_str(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VAR, raising=False)
    assert config.get_str(VAR) is None
    monkeypatch.setenv(VAR, "   ")
    assert config.get_str(VAR) is None
    monkeypatch.setenv(VAR, "")
    assert config.get_str(VAR) is None
    monkeypatch.setenv(VAR, "  svc name ")
    assert config.get_str(VAR) == "svc name"


def test_get_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VAR, raising=False)
    assert config.get_list(VAR) is None
    monkeypatch.setenv(VAR, "")
    assert config.get_list(VAR) == []
    monkeypatch.setenv(VAR, " , ,, ")
    assert config.get_list(VAR) == []
    monkeypatch.setenv(VAR, "a, b,,c  d\te")
    assert config.get_list(VAR) == ["a", "b", "c", "d", "e"]


def test_service_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.SERVICE_NAME, " orders ")
    assert config.service_from_env() == "orders"
    monkeypatch.delenv(config.SERVICE_NAME)
    assert config.service_from_env() is None


def test_auto_disabled_reason_each_branch(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (config.TRACE_DISABLED, config.SAM_LOCAL, config.CHALICE_LOCAL):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(config.TASK_ROOT, "/var/task")
    assert config.auto_disabled_reason() is None
    monkeypatch.setenv(config.TRACE_DISABLED, "false")
    assert config.auto_disabled_reason() is None
    monkeypatch.setenv(config.CHALICE_LOCAL, "1")
    assert config.auto_disabled_reason() == "running under Chalice local (AWS_CHALICE_CLI_MODE)"
    monkeypatch.setenv(config.SAM_LOCAL, "true")
    assert config.auto_disabled_reason() == "running under SAM local (AWS_SAM_LOCAL)"
    monkeypatch.setenv(config.TASK_ROOT, "")
    assert config.auto_disabled_reason() == "not running in Lambda (LAMBDA_TASK_ROOT is not set)"
    monkeypatch.delenv(config.TASK_ROOT)
    assert config.auto_disabled_reason() == "not running in Lambda (LAMBDA_TASK_ROOT is not set)"
    monkeypatch.setenv(config.TRACE_DISABLED, "true")
    assert config.auto_disabled_reason() == "POWERTOOLS_TRACE_DISABLED is true"


def test_auto_disabled_reason_garbage_trace_disabled_counts_as_false(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lambda_tracer")
    monkeypatch.setenv(config.TASK_ROOT, "/var/task")
    for name in (config.SAM_LOCAL, config.CHALICE_LOCAL):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(config.TRACE_DISABLED, "sometimes")
    assert config.auto_disabled_reason() is None
    assert _warnings(caplog) == [
        "lambda_tracer: ignoring POWERTOOLS_TRACE_DISABLED='sometimes' (not understood); using False"
    ]


@pytest.mark.parametrize(
    ("getter", "name"),
    [
        (config.capture_response_default, config.CAPTURE_RESPONSE),
        (config.capture_error_default, config.CAPTURE_ERROR),
    ],
)
def test_capture_defaults(monkeypatch: pytest.MonkeyPatch, getter: object, name: str) -> None:
    assert callable(getter)
    monkeypatch.delenv(name, raising=False)
    assert getter() is True
    monkeypatch.setenv(name, "nonsense")
    assert getter() is True
    monkeypatch.setenv(name, "false")
    assert getter() is False


def test_max_capture_bytes(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="lambda_tracer")
    monkeypatch.delenv(config.MAX_CAPTURE_BYTES, raising=False)
    assert config.max_capture_bytes() == 16384
    for raw, expected in [("256", 256), ("61440", 61440), ("255", 256), ("61441", 61440), ("1e3", 16384)]:
        monkeypatch.setenv(config.MAX_CAPTURE_BYTES, raw)
        assert config.max_capture_bytes() == expected, raw
    assert _warnings(caplog) == [
        "lambda_tracer: ignoring LAMBDA_TRACER_MAX_CAPTURE_BYTES='255' (not understood); "
        "using the nearest allowed value, 256 (allowed: 256 to 61440)",
        "lambda_tracer: ignoring LAMBDA_TRACER_MAX_CAPTURE_BYTES='61441' (not understood); "
        "using the nearest allowed value, 61440 (allowed: 256 to 61440)",
        "lambda_tracer: ignoring LAMBDA_TRACER_MAX_CAPTURE_BYTES='1e3' (not understood); using the default, 16384",
    ]
