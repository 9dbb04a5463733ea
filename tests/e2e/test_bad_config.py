"""Garbage in every environment variable we read: one clear warning and the default, never a failed init."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_tracer_local.runtime import LocalLambda

from .support import names

APP = 'def handler(event, context):\n    return {"ok": event["n"]}\n'
HUGE = "x" * 100_000
NON_UTF8 = "caf\udce9"  # the byte 0xe9 alone: not UTF-8; subprocess passes it through as raw bytes

# (variable, value, whether a warning naming the variable is expected)
PARSED = [
    "POWERTOOLS_TRACE_DISABLED",
    "POWERTOOLS_TRACER_CAPTURE_RESPONSE",
    "POWERTOOLS_TRACER_CAPTURE_ERROR",
    "LAMBDA_TRACER_MAX_CAPTURE_BYTES",
    "LAMBDA_TRACER_GC_FREEZE",
]
CASES = [
    *[(name, value, value.strip() != "") for name in PARSED for value in ("", "  ", "maybe", HUGE, NON_UTF8)],
    ("LAMBDA_TRACER_MAX_CAPTURE_BYTES", "-1", True),
    ("LAMBDA_TRACER_MAX_CAPTURE_BYTES", "99999999999999999999", True),
    ("LAMBDA_TRACER_PATCH_MODULES", "%%%,!!", True),
    ("LAMBDA_TRACER_PATCH_MODULES", HUGE, True),
    ("LAMBDA_TRACER_PATCH_MODULES", NON_UTF8, True),
    ("LAMBDA_TRACER_REDACT_KEYS", HUGE, False),
    ("LAMBDA_TRACER_REDACT_KEYS", NON_UTF8, False),
    ("LAMBDA_TRACER_REDACT_KEYS", ",,,", False),
    ("POWERTOOLS_SERVICE_NAME", "", False),
    ("POWERTOOLS_SERVICE_NAME", NON_UTF8, False),
    ("POWERTOOLS_SERVICE_NAME", HUGE, False),
    ("AWS_LAMBDA_INITIALIZATION_TYPE", "$(reboot)", True),
    ("AWS_LAMBDA_INITIALIZATION_TYPE", NON_UTF8, True),
    ("LAMBDA_TRACER_OFF", "maybe", True),
    ("LAMBDA_TRACER_OFF", NON_UTF8, True),
    ("LAMBDA_TRACER_DURABLE", "maybe", True),
    ("LAMBDA_TRACER_DURABLE", NON_UTF8, True),
    ("LAMBDA_TRACER_DURABLE", HUGE, True),
    ("LAMBDA_TRACER_NEXT_WRAPPER", "/does/not/exist", True),
    ("LAMBDA_TRACER_NEXT_WRAPPER", NON_UTF8, True),
    ("AWS_XRAY_DAEMON_ADDRESS", "not an address", True),
    ("AWS_XRAY_DAEMON_ADDRESS", HUGE, True),
    ("AWS_XRAY_DAEMON_ADDRESS", NON_UTF8, True),
]


@pytest.mark.parametrize(("name", "value", "warns"), CASES, ids=[f"{n}={v[:12]!r}{len(v)}" for n, v, _ in CASES])
def test_garbage_value_never_fails_the_function(
    layer_dir: Path, tmp_path: Path, name: str, value: str, warns: bool
) -> None:
    (tmp_path / "app.py").write_text(APP)
    with LocalLambda(tmp_path, opt_dirs=[layer_dir], wrapper=True, env={name: value}) as fn:
        first, second = fn.invoke({"n": 1}), fn.invoke({"n": 2})
        output = fn.output
    assert (first.status, first.payload) == ("response", {"ok": 1}), output[-2000:]
    assert (second.status, second.payload) == ("response", {"ok": 2}), output[-2000:]
    mentions = [line for line in output.splitlines() if name in line and "lambda" in line.lower()]
    if warns:
        assert len(mentions) == 1, output[-3000:]
        assert len(mentions[0]) < 400  # a huge value is shortened in the message
    assert "x" * 30 not in output  # nor quoted anywhere else
    assert "Traceback" not in output
    if name == "POWERTOOLS_TRACE_DISABLED" and warns:
        assert "## handler" in names(first.documents)  # the default (enabled) was used
