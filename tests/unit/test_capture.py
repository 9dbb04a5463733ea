"""Response capture never consumes, never explodes, stays bounded, and redacts secrets."""

from __future__ import annotations

import datetime
import decimal
import io
import json
from typing import Any

import pytest

from lambda_env import invoke
from lambda_tracer import Tracer, capture, config, redaction
from lambda_tracer_local.daemon import by_name


def _captured(value: Any, expect: int = 1) -> tuple[Any, dict[str, Any]]:
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> Any:
        return value

    call = invoke(handler, expect=expect)
    assert call.error is None
    doc = by_name(call.documents, "## handler")
    return call.result, doc


def test_generator_response_is_described_not_consumed() -> None:
    gen = (n for n in range(3))
    result, doc = _captured(gen)
    assert result is gen
    assert list(result) == [0, 1, 2]
    assert doc["metadata"]["svc"]["handler response"] == "<generator>"


def test_file_like_and_iterator_responses_are_not_read() -> None:
    stream = io.BytesIO(b"payload")
    result, doc = _captured({"body": stream, "rows": iter([1, 2])})
    assert result["body"].read() == b"payload"
    assert list(result["rows"]) == [1, 2]
    assert doc["metadata"]["svc"]["handler response"] == {"body": "<_io.BytesIO>", "rows": "<list_iterator>"}


def test_botocore_streaming_body_is_not_read() -> None:
    from botocore.response import StreamingBody

    body = StreamingBody(io.BytesIO(b"report"), 6)
    result, doc = _captured({"Body": body})
    assert result["Body"].read() == b"report"
    assert doc["metadata"]["svc"]["handler response"] == {"Body": "<botocore.response.StreamingBody>"}


def test_awkward_values_become_json() -> None:
    class Point:
        def __init__(self) -> None:
            self.x = 1
            self._hidden = 2

    cyclic: dict[str, Any] = {"name": "loop"}
    cyclic["self"] = cyclic
    value = {
        "decimal": decimal.Decimal("1.50"),
        "when": datetime.datetime(2026, 1, 2, 3, 4, 5),
        "set": {3},
        "bytes": b"ab",
        "nan": float("nan"),
        "point": Point(),
        "cyclic": cyclic,
    }
    _, doc = _captured(value)
    assert doc["metadata"]["svc"]["handler response"] == {
        "decimal": "1.50",
        "when": "2026-01-02T03:04:05",
        "set": [3],
        "bytes": "<bytes: 2>",
        "nan": "nan",
        "point": {"x": 1},
        "cyclic": {"name": "loop", "self": "<cycle>"},
    }


def test_objects_whose_dunders_raise() -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("repr")

        def __str__(self) -> str:
            raise RuntimeError("str")

        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("getattr")

        def __iter__(self) -> Any:
            raise RuntimeError("iter")

    hostile = Hostile()
    result, doc = _captured({"h": hostile})
    assert result["h"] is hostile
    assert doc["metadata"]["svc"]["handler response"]["h"].startswith("<")


def test_huge_response_is_truncated_and_says_so() -> None:
    big = "x" * (10 * 1024 * 1024)
    result, doc = _captured(big)
    assert result is big
    captured = doc["metadata"]["svc"]["handler response"]
    assert captured["truncated"] is True
    assert captured["original_bytes_at_least"] > 10 * 1024 * 1024
    assert len(json.dumps(doc)) < 64 * 1024


def test_tangled_object_graphs_and_huge_numbers_stay_cheap_and_bounded() -> None:
    """A naive walk takes hours on an object pointing at itself twice per level (pytest-timeout would fail it)."""

    class Node:
        def __init__(self) -> None:
            self.left: object = self
            self.right: object = self
            self.big = 10**5000  # cannot even be printed with Python's default int limits

    _, doc = _captured({"node": Node(), "error": KeyError("y" * 100_000), "text": "z" * 100_000})
    captured = doc["metadata"]["svc"]["handler response"]
    assert captured["truncated"] is True and len(json.dumps(captured)) <= 16 * 1024
    assert "y" * (capture.MAX_MESSAGE_CHARS + 10) not in captured["preview"]  # messages are cut first


def test_max_capture_bytes_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.MAX_CAPTURE_BYTES, "1024")
    _, doc = _captured(["y" * 100] * 20)
    assert doc["metadata"]["svc"]["handler response"]["truncated"] is True


def test_whole_document_stays_under_one_datagram(daemon: Any) -> None:
    """Many medium metadata entries each under the cap still overflow 64 KB together: shrink, don't drop."""
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        for n in range(10):
            tracer.put_metadata(f"chunk{n}", "z" * 15_000)
        return "done"

    call = invoke(handler)
    doc = by_name(call.documents, "## handler")
    assert doc["metadata"]["lambda_tracer"]["truncated"] is True
    assert doc["annotations"]["ColdStart"] is True
    assert max(daemon.datagram_sizes) <= 65_507


def test_redaction_of_responses_errors_and_metadata() -> None:
    tracer = Tracer(service="svc")

    class LoginError(Exception):
        def __init__(self) -> None:
            super().__init__("bad login")
            self.password = "hunter2"

    @tracer.capture_method
    def login(event: dict[str, Any]) -> None:
        raise LoginError()

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        tracer.put_metadata("request", {"headers": {"Authorization": "Bearer abc", "Accept": "json"}})
        try:
            login(event)
        except LoginError:
            pass
        return {"user": "ann", "Password": "hunter2", "nested": [{"api_key": "k", "ok": 1}]}

    call = invoke(handler, expect=2)
    text = json.dumps(call.documents)
    assert "hunter2" not in text and "Bearer abc" not in text
    doc = by_name(call.documents, "## handler")
    assert doc["metadata"]["svc"]["handler response"] == {
        "user": "ann",
        "Password": "[REDACTED]",
        "nested": [{"api_key": "[REDACTED]", "ok": 1}],
    }
    assert doc["metadata"]["svc"]["request"] == {"headers": {"Authorization": "[REDACTED]", "Accept": "json"}}


def test_redaction_keys_are_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.REDACT_KEYS, "card_number, -token")
    policy = redaction.current()
    assert policy.verdict("cardNumber") == redaction.SECRET and policy.verdict("password") == redaction.SECRET
    assert policy.verdict("token") == redaction.PLAIN and policy.verdict("access_token") == redaction.PLAIN
    monkeypatch.setenv(config.REDACT_KEYS, "none")
    assert redaction.current().verdict("password") == redaction.PLAIN
    assert capture.to_metadata({"password": "p", "u": "http://a:b@h/"}, redaction.current(), 4096) == {
        "password": "p",
        "u": "http://a:b@h/",
    }


def test_error_metadata_has_type_and_message() -> None:
    info = capture.error_metadata(KeyError("missing"), redaction.Policy(), 4096)
    assert info == {"type": "KeyError", "message": "'missing'"}
    try:
        try:
            raise ValueError("inner")
        except ValueError as inner:
            raise RuntimeError("outer") from inner
    except RuntimeError as outer:
        chained = capture.error_metadata(outer, redaction.Policy(), 4096)
    assert chained["cause"] == {"type": "ValueError"}  # only the type: its message could quote the payload


def test_flat_values_are_still_redacted_and_bounded() -> None:
    """Small flat dicts take a shortcut; it must not skip redaction, the size cap or odd values."""
    keys = redaction.Policy()
    assert capture.to_metadata({"Password": "x", "a": 1}, keys, 4096) == {"Password": "[REDACTED]", "a": 1}
    assert capture.to_metadata({"a": float("inf"), "b": 2**60}, keys, 4096) == {"a": "inf", "b": str(2**60)}
    assert capture.to_metadata({"a": "y" * 5000}, keys, 1024)["truncated"] is True
    assert capture.to_metadata("z" * 5000, keys, 1024)["truncated"] is True
    flat = {"ok": 1, "name": "n", "none": None, "flag": True, "ratio": 0.5}
    assert capture.to_metadata(flat, keys, 4096) == flat
