"""Configuration: env vars of the reference, auto-disable, precedence, shared config, garbage values."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import timeit
from pathlib import Path

import pytest

from lambda_env import invoke
from lambda_tracer import Tracer, config

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
    ],
    ids=["outside-lambda", "env-disabled", "sam-local", "chalice-local"],
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
@pytest.mark.parametrize("garbage", ["maybe", "  ", "1" * 10_000, "trüe", "\x00"])
def test_garbage_boolean_env_gives_warning_and_default(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, name: str, garbage: str
) -> None:
    config._reported.clear()
    try:
        monkeypatch.setenv(name, garbage)
    except ValueError:
        pytest.skip("the OS does not allow this value")
    with caplog.at_level(logging.WARNING, logger="lambda_tracer"):
        tracer = Tracer(service="svc")

        @tracer.capture_lambda_handler
        def handler(event: dict[str, object], context: object) -> str:
            return "ok"

        call = invoke(handler)
    assert call.result == "ok"
    assert tracer.disabled is False
    assert len(call.documents) == 1  # defaults: enabled in Lambda, capture on
    if garbage.strip():
        assert sum(name in r.getMessage() for r in caplog.records) == 1


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


def test_one_invocation_does_not_import_the_sdk_until_the_escape_hatch_is_used() -> None:
    """Our backend needs nothing of the SDK; ``tracer.provider`` is the SDK's recorder, recording into our trace."""
    code = """
import json, os, sys
os.environ["_X_AMZN_TRACE_ID"] = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
from lambda_tracer import Tracer
tracer = Tracer(service="svc")
handler = tracer.capture_lambda_handler(lambda event, context: 1)
handler({}, None)
before = "aws_xray_sdk" in sys.modules or "wrapt" in sys.modules
recorder = tracer.provider
from aws_xray_sdk.core import xray_recorder
print(json.dumps({"before": before, "after": "aws_xray_sdk.core.recorder" in sys.modules,
                  "same": recorder is xray_recorder,
                  "context": type(xray_recorder.context).__name__}))
"""
    probe = _run(code, LAMBDA_TASK_ROOT="/tmp", AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:9")
    assert probe == {"before": False, "after": True, "same": True, "context": "BridgeContext"}


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
                  "current": provider.current_subsegment()}))
"""
    assert _run(code, LAMBDA_TASK_ROOT="/tmp", POWERTOOLS_TRACE_DISABLED="true") == {"sdk": False, "current": None}


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
