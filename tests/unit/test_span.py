"""Tracing never changes the function's outcome: faults injected into every phase of the tracer.

For each phase we make the tracer's own code raise, then check the user's function ran exactly
once and its return value or exception reached the caller as it would have without tracing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

import lambda_env
from lambda_env import invoke
from lambda_tracer import Tracer, capture, capture_convert, coldstart, config
from lambda_tracer.backends import udp, xray

pytestmark = pytest.mark.usefixtures("memory_sender")  # what was sent, read in memory (tests/memory_sender.py)


class Boom(Exception):
    pass


#: One entry each time an injected fault is hit: a fault the tracer no longer reaches would prove nothing.
_hits: list[str] = []


def _raise(*args: Any, **kwargs: Any) -> Any:
    _hits.append("raise")
    raise RuntimeError("injected tracer fault")


class _BrokenSocket:
    def send(self, *args: Any) -> None:
        _hits.append("send")
        raise OSError(90, "Message too long")


def _broken_sender() -> udp.Sender:
    """The UDP sender, to the daemon stand-in, with a socket that refuses every datagram."""
    assert lambda_env.DAEMON is not None
    sender = udp.Sender(lambda_env.DAEMON.address)
    sender.socket = _BrokenSocket()  # type: ignore[assignment]
    return sender


# (description, object, attribute) of the tracer internals to break.
PHASES = [
    ("opening the subsegment", xray.BACKEND, "start_span"),
    ("reading the cold start", coldstart, "handler_annotations"),
    ("serializing the response", capture, "recorded_response"),
    ("serializing the error", capture_convert, "error_metadata"),
    ("recording the exception", xray.XRaySpan, "record_exception"),
    ("closing and emitting", xray.XRaySpan, "end"),
    ("sending the datagram", udp, "_sender"),  # a real UDP sender whose socket fails (_broken_sender)
]


def _handlers(tracer: Tracer, calls: list[str]) -> tuple[Callable[..., Any], Callable[..., Any]]:
    @tracer.capture_method
    def method(value: int) -> dict[str, int]:
        calls.append("method")
        return {"value": value}

    @tracer.capture_lambda_handler
    def ok(event: dict[str, Any], context: object) -> dict[str, int]:
        calls.append("ok")
        return method(event["n"])

    @tracer.capture_lambda_handler
    def failing(event: dict[str, Any], context: object) -> None:
        calls.append("failing")
        raise Boom("user error")

    return ok, failing


@pytest.mark.parametrize(("phase", "owner", "attribute"), PHASES, ids=[p[0] for p in PHASES])
def test_fault_in_tracer_phase_never_reaches_the_function(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, phase: str, owner: object, attribute: str
) -> None:
    tracer = Tracer(service="svc")
    calls: list[str] = []
    ok, failing = _handlers(tracer, calls)
    monkeypatch.setattr(owner, attribute, _raise if attribute != "_sender" else _broken_sender())
    _hits.clear()

    with caplog.at_level(logging.WARNING, logger="lambda_tracer"):
        success = invoke(ok, {"n": 3}, expect=0)
        failure = invoke(failing, expect=0)

    assert success.error is None and success.result == {"value": 3}
    assert isinstance(failure.error, Boom) and str(failure.error) == "user error"
    assert calls == ["ok", "method", "failing"]
    assert _hits, f"the fault injected while {phase} was never hit: the test proves nothing"
    # Nothing is left open for the next invocation.
    assert xray.BACKEND.current_span() is None


def test_failure_is_logged_once_per_phase(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    config._reported.clear()
    tracer = Tracer(service="svc")
    calls: list[str] = []
    ok, _ = _handlers(tracer, calls)
    monkeypatch.setattr(capture, "to_metadata", _raise)
    monkeypatch.setattr(capture, "recorded_response", _raise)  # what a response is recorded through
    with caplog.at_level(logging.WARNING, logger="lambda_tracer"):
        for n in range(3):
            invoke(ok, {"n": n}, expect=0)
    warnings = [r for r in caplog.records if "serializing the response" in r.getMessage()]
    assert len(warnings) == 1


def test_exception_is_same_object_with_traceback() -> None:
    tracer = Tracer(service="svc")
    error = Boom("x")

    def raising_frame() -> None:
        raise error

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> None:
        raising_frame()

    call = invoke(handler)
    assert call.error is error
    frames = []
    tb = error.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert frames[-1] == "raising_frame"


@pytest.mark.parametrize("exc_type", [SystemExit, KeyboardInterrupt])
def test_base_exceptions_propagate_and_close_the_subsegment(exc_type: type[BaseException]) -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> None:
        raise exc_type(3)

    call = invoke(handler)
    assert type(call.error) is exc_type
    [doc] = call.documents
    assert doc["fault"] is True
    assert xray.BACKEND.current_span() is None


def test_exception_whose_str_raises() -> None:
    class Nasty(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no str for you")

    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> None:
        raise Nasty()

    call = invoke(handler, expect=0)
    assert type(call.error) is Nasty


class _LazyUser:
    """A lazy proxy (as Django's ``SimpleLazyObject``): reading its ``__class__`` loads it, which fails here."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # type: ignore[override]
        raise RuntimeError("settings are not configured")


class RequestFailed(Exception):
    def __init__(self) -> None:
        super().__init__("request failed")
        self.status = 502
        self.user = _LazyUser()


def test_an_error_whose_attribute_cannot_be_looked_at_is_still_recorded_as_a_fault() -> None:
    """An attribute that raises when its type is read costs that attribute, not the record of the error: before, the
    whole record was lost and X-Ray showed the failed call as a success (no fault, no cause)."""
    tracer = Tracer(service="svc")
    error = RequestFailed()

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> None:
        raise error

    call = invoke(handler)
    assert call.error is error
    [doc] = call.documents
    assert doc["fault"] is True
    assert [entry["type"] for entry in doc["cause"]["exceptions"]] == ["RequestFailed"]
    assert doc["metadata"]["svc"]["handler error"] == {
        "type": "RequestFailed",
        "message": "request failed",
        "module": __name__,
        "attributes": {"status": 502},
    }


def test_put_annotation_outside_any_subsegment_and_bad_keys_never_raise(caplog: pytest.LogCaptureFixture) -> None:
    tracer = Tracer(service="svc")
    tracer.put_annotation("Outside", "x")  # no invocation at all
    tracer.put_metadata("outside", {"a": 1})

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        tracer.put_annotation("bad key!", "x")
        tracer.put_annotation("bad_value", {"not": "allowed"})  # type: ignore[arg-type]
        tracer.put_metadata("meta", object(), namespace="AWS.reserved")
        tracer.put_annotation("good", 1)
        return "ok"

    call = invoke(handler)
    assert call.result == "ok"
    [doc] = call.documents
    assert doc["annotations"]["good"] == 1
    assert "bad key!" not in doc["annotations"] and "bad_value" not in doc["annotations"]


def test_facade_segment_is_never_mutated_by_put_annotation_at_handler_level() -> None:
    """The reference raises FacadeSegmentMutationException when no subsegment is open in Lambda."""
    tracer = Tracer(service="svc")

    def undecorated(event: dict[str, Any], context: object) -> str:
        tracer.put_annotation("k", "v")
        tracer.put_metadata("k", "v")
        return "fine"

    assert invoke(undecorated, expect=0).result == "fine"


@pytest.mark.parametrize(
    "header", ["Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0", "garbage", ""]
)
def test_unsampled_or_malformed_trace_header(monkeypatch: pytest.MonkeyPatch, header: str) -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        tracer.put_annotation("k", "v")
        return "served"

    monkeypatch.setenv("_X_AMZN_TRACE_ID", header)
    assert handler({}, None) == "served"
    assert xray.BACKEND.current_span() is None


def test_unreachable_daemon_address(monkeypatch: pytest.MonkeyPatch) -> None:
    tracer = Tracer(service="svc")
    monkeypatch.setattr(udp, "_sender", udp.Sender("203.0.113.1:9"))  # TEST-NET-3: nothing listens there

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        return "x" * 100

    assert invoke(handler, expect=0).result == "x" * 100


@pytest.mark.parametrize("raw", [None, "", "4096", "100", "10000000", "junk", " 2048 "])
def test_the_capture_limit_is_the_settings(monkeypatch: pytest.MonkeyPatch, raw: str | None) -> None:
    from lambda_tracer import config, span

    if raw is None:
        monkeypatch.delenv(config.MAX_CAPTURE_BYTES, raising=False)
    else:
        monkeypatch.setenv(config.MAX_CAPTURE_BYTES, raw)
    assert span.capture_limit() == config.max_capture_bytes()


def test_a_handler_whose_response_cannot_be_recorded_returns_it_sends_its_span_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The sync handler's own closing (``GuardedSpan.finish``, not ``close``) keeps close's error boundary."""
    config._reported.clear()
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> dict[str, int]:
        return {"n": event["n"]}

    monkeypatch.setattr(capture, "recorded_response", _raise)
    with caplog.at_level(logging.WARNING, logger="lambda_tracer"):
        calls = [invoke(handler, {"n": n}) for n in range(3)]
    assert [call.result for call in calls] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert [[document["name"] for document in call.documents] for call in calls] == [["## handler"]] * 3
    assert not [call for call in calls if "metadata" in call.documents[0]]
    warnings = [r for r in caplog.records if "serializing the response" in r.getMessage()]
    assert len(warnings) == 1
