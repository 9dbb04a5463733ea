"""Configuration: env vars of the reference, auto-disable, precedence, shared config, garbage values.

The second half pins exact outputs, one per rule and edge, written against the mutants `make mutation` left
alive.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import timeit
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_env import invoke
from lambda_tracer import Tracer, config

pytestmark = pytest.mark.usefixtures("memory_sender")  # what was sent, read in memory (tests/memory_sender.py)

LAYER = str(Path(__file__).resolve().parents[2] / "layer")


def _run(code: str, **env: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter (it prints one JSON line) with a clean tracer environment."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("POWERTOOLS_", "LAMBDA_", "_X_AMZN", "AWS_SAM", "AWS_CHALICE"))
    }
    clean.update(env, PYTHONPATH=LAYER)
    out = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


IMPORT_PROBE = """
import json, sys
from lambda_tracer import Tracer
tracer = Tracer()
@tracer.capture_method
def f(x): return x
@tracer.capture_lambda_handler
def h(e, c): return f(e)
result = h(5, None)
print(json.dumps({"disabled": tracer.disabled, "result": result,
                  "sdk": any(m.startswith("aws_xray_sdk") for m in sys.modules),
                  "botocore": "botocore" in sys.modules, "wrapt": "wrapt" in sys.modules}))
"""


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"LAMBDA_TASK_ROOT": "/tmp", "POWERTOOLS_TRACE_DISABLED": "true"},
        {"LAMBDA_TASK_ROOT": "/tmp", "AWS_SAM_LOCAL": "true"},
        {"LAMBDA_TASK_ROOT": "/tmp", "AWS_CHALICE_CLI_MODE": "true"},
        # POWERTOOLS_TRACE_DISABLED=false (a common template line) says "not disabled", as in the reference: it never
        # turns tracing on where it is off by itself (the README: off outside Lambda, SAM local and Chalice local)
        {"POWERTOOLS_TRACE_DISABLED": "false"},
        {"LAMBDA_TASK_ROOT": "/tmp", "AWS_SAM_LOCAL": "true", "POWERTOOLS_TRACE_DISABLED": "false"},
        {"LAMBDA_TASK_ROOT": "/tmp", "AWS_CHALICE_CLI_MODE": "true", "POWERTOOLS_TRACE_DISABLED": "0"},
    ],
    ids=["outside-lambda", "env-disabled", "sam-local", "chalice-local", "false-outside", "false-sam", "false-chalice"],
)
def test_disabled_imports_no_sdk_and_still_runs(env: dict[str, str]) -> None:
    probe = _run(IMPORT_PROBE, **env)
    assert probe == {"disabled": True, "result": 5, "sdk": False, "botocore": False, "wrapt": False}


def test_enabled_in_lambda_imports_sdk_but_not_botocore() -> None:
    probe = _run(IMPORT_PROBE, LAMBDA_TASK_ROOT="/tmp", AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:9")
    assert probe["disabled"] is False and probe["result"] == 5
    assert probe["sdk"] is False and probe["botocore"] is False and probe["wrapt"] is False  # no SDK until needed


def test_disabled_decorated_call_costs_about_a_plain_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reported, not asserted against a threshold (machines are noisy): see `make bench` for the numbers."""
    tracer = Tracer(disabled=True)

    def plain(x: int) -> int:
        return x

    traced = tracer.capture_method(plain)
    assert traced(1) == 1 and traced.__wrapped__ is plain  # type: ignore[attr-defined]
    plain_s = min(timeit.repeat(lambda: plain(1), number=20_000, repeat=3))
    traced_s = min(timeit.repeat(lambda: traced(1), number=20_000, repeat=3))
    print(f"disabled overhead per call: {(traced_s - plain_s) / 20_000 * 1e6:.3f} us")


def test_service_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    first = Tracer(service="explicit")
    assert first.service == "explicit"
    assert Tracer().service == "explicit"  # reused from the earlier instance
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "from-env")
    assert Tracer().service == "from-env"  # env beats an earlier instance
    assert Tracer(service="again").service == "again"  # explicit beats env


def test_disabled_is_not_sticky(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Tracer(disabled=True).disabled is True
    assert Tracer(disabled=False).disabled is False  # the reference keeps True forever
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    assert Tracer().disabled is False


def test_instances_share_configuration() -> None:
    a = Tracer(service="shared", auto_patch=False)
    b = Tracer()
    assert (a.service, a.disabled, a.auto_patch) == (b.service, b.disabled, b.auto_patch)


@pytest.mark.parametrize("name", [config.TRACE_DISABLED, config.CAPTURE_RESPONSE, config.CAPTURE_ERROR])
@pytest.mark.parametrize("garbage", ["maybe", "  ", "1" * 10_000, "trüe", "\x01"])
def test_garbage_boolean_env_gives_warning_and_default(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, name: str, garbage: str
) -> None:
    config._reported.clear()
    monkeypatch.setenv(name, garbage)
    with caplog.at_level(logging.WARNING, logger="lambda_tracer"):
        tracer = Tracer(service="svc")

        @tracer.capture_lambda_handler
        def handler(event: dict[str, object], context: object) -> str:
            return "ok"

        call = invoke(handler)
    assert call.result == "ok"
    assert tracer.disabled is False
    assert len(call.documents) == 1  # defaults: enabled in Lambda, capture on
    # Blank is unset (the default, silently); anything else is a mistake worth one warning.
    assert sum(name in r.getMessage() for r in caplog.records) == (1 if garbage.strip() else 0)


@pytest.mark.parametrize("garbage", ["lots", "-5", "99999999999", ""])
def test_garbage_capture_size_gives_default_or_clamp(monkeypatch: pytest.MonkeyPatch, garbage: str) -> None:
    monkeypatch.setenv(config.MAX_CAPTURE_BYTES, garbage)
    assert config.LIMIT_MAX_CAPTURE_BYTES >= config.max_capture_bytes() >= 256


def test_non_utf8_env_value_is_tolerated() -> None:
    probe = _run(
        "import json, os\nos.environb[b'POWERTOOLS_SERVICE_NAME'] = b'caf\\xe9'\n"
        "from lambda_tracer import Tracer\nprint(json.dumps({'service': Tracer().service}))",
        LAMBDA_TASK_ROOT="/tmp",
    )
    assert isinstance(probe["service"], str)


def test_zero_code_tracer_follows_settings_given_later_in_code() -> None:
    """The redirect's Tracer exists before the user's module runs; what that module sets must still apply."""
    zero_code = Tracer()  # as lambda_tracer.handler creates it, from the environment only
    handler = zero_code.capture_lambda_handler(lambda event, context: "ok")
    Tracer(service="payment")  # the user's module, imported afterwards
    doc = invoke(handler).documents[0]
    assert doc["annotations"]["Service"] == "payment"
    assert "payment" in doc["metadata"]
    Tracer(disabled=True)
    assert invoke(handler, expect=0).documents == []


def test_disabled_provider_records_nothing_and_imports_no_sdk() -> None:
    code = """
import asyncio, json, sys
from lambda_tracer import Tracer
provider = Tracer(disabled=True).provider
with provider.in_subsegment("## manual") as subsegment:
    subsegment.put_annotation("k", "v")
async def main():
    async with provider.in_subsegment_async("## a") as subsegment:
        subsegment.put_metadata("k", 1)
asyncio.run(main())
print(json.dumps({"sdk": any(m.startswith("aws_xray_sdk") for m in sys.modules),
                  "current": type(provider.current_subsegment()).__name__}))
"""
    assert _run(code, LAMBDA_TASK_ROOT="/tmp", POWERTOOLS_TRACE_DISABLED="true") == {
        "sdk": False,
        "current": "NoOpSubsegment",
    }


def test_disabled_provider_hands_out_entities_that_accept_what_the_references_do() -> None:
    """While disabled, the reference's ``xray_recorder`` hands out dummy entities: the usual
    ``tracer.provider.current_subsegment().put_annotation(...)`` runs in unit tests with tracing off. Ours gave None,
    and that line raised AttributeError in the user's code."""
    provider = Tracer(disabled=True).provider
    for entity in (
        provider.current_subsegment(),
        provider.begin_subsegment("## manual"),
        provider.current_segment(),
        provider.begin_segment("segment"),
        provider.get_trace_entity(),
    ):
        assert entity is not None
        entity.put_annotation("key", "value")
        entity.put_metadata("key", {"a": 1}, "namespace")
        entity.add_exception(ValueError("x"), [])
        assert entity.sampled is False
    provider.end_subsegment()
    provider.end_segment()
    assert provider.is_sampled() is False


def test_only_handler_decorators_count_as_already_traced() -> None:
    from aws_lambda_powertools import Tracer as PowertoolsTracer
    from aws_xray_sdk import global_sdk_config

    from lambda_tracer.tracer import is_traced

    try:
        ours, theirs = Tracer(service="svc"), PowertoolsTracer(service="svc", disabled=True)
    finally:
        global_sdk_config.set_sdk_enabled(True)  # a disabled Powertools Tracer turns the whole SDK off

    def handler(event: object, context: object) -> None:
        return None

    assert is_traced(ours.capture_lambda_handler(handler))
    assert is_traced(theirs.capture_lambda_handler(handler))
    assert not is_traced(ours.capture_method(handler))
    assert not is_traced(theirs.capture_method(handler))
    assert not is_traced(handler)


@pytest.mark.parametrize("key", ["Order\n", "bad key", ""])
def test_invalid_annotation_keys_and_non_finite_values_are_dropped(key: str) -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: object, context: object) -> None:
        tracer.put_annotation(key, "v")
        tracer.put_annotation("nan", float("nan"))
        tracer.put_annotation("ok", 1.5)

    [doc] = invoke(handler).documents
    assert doc["annotations"] == {"ColdStart": True, "Service": "svc", "InitType": "on-demand", "ok": 1.5}


def test_empty_service_means_not_given() -> None:
    assert Tracer(service="").service == os.environ["AWS_LAMBDA_FUNCTION_NAME"]


# -- exact outputs, pinned against the mutants `make mutation` left alive ----------------------------------------


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
        assert config.error_place(error) == f"KeyError at test_config.py:{line}"


def _raise_inner() -> None:
    raise ValueError("x")


def test_error_place_uses_the_innermost_frame() -> None:
    try:
        _raise_inner()
    except ValueError as error:
        line = _raise_inner.__code__.co_firstlineno + 1
        assert config.error_place(error) == f"ValueError at test_config.py:{line}"


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
