"""Nothing from the event, the response or the environment is written to the function's logs by the tracer."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_tracer_local.runtime import LocalLambda

from .support import names

SECRET = "s3cr3t-do-not-log"

QUIET_APP = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("failing without printing")
    return {"echo": event}
"""

# The tracer's own serialization breaks with a message that quotes the value: the warning must not repeat it.
BROKEN_CAPTURE = (
    """
try:
    import lambda_tracer.capture as _capture

    def _leaky(value, *args):
        raise TypeError(f"cannot serialize {value!r}")

    _capture.to_metadata = _leaky
    _capture.response_metadata = _leaky
    _capture.recorded_response = _leaky  # what a handler's response is recorded through
except ImportError:
    pass
"""
    + QUIET_APP
)


@pytest.mark.parametrize("source", [QUIET_APP, BROKEN_CAPTURE], ids=["normal", "tracer failing on the value"])
def test_tracer_logs_no_event_response_or_environment(source: str, layer_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(source)
    env = {"MY_API_TOKEN": SECRET, "POWERTOOLS_SERVICE_NAME": "sec"}
    with LocalLambda(tmp_path, opt_dirs=[layer_dir], wrapper=True, env=env) as fn:
        ok = fn.invoke({"password": SECRET, "note": SECRET})
        failed = fn.invoke({"fail": True, "token": SECRET})
        output = fn.output
    assert ok.status == "response" and failed.status == "error"
    # Traced (the tracer was there to log what it should not): quiet because careful, not because absent.
    assert names(ok.documents) == names(failed.documents) == ["## handler"]
    assert SECRET not in output, output[-2000:]
    if source is BROKEN_CAPTURE:
        assert "tracing failed while serializing the response" in output  # the failure is still reported
