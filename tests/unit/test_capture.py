"""Response capture never consumes, never explodes, stays bounded, and redacts secrets.

The second half pins exact outputs, one per rule and edge, written against the mutants `make mutation` left
alive.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import io
import json
import logging
import marshal
import random
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from paused import changed_at_call

from lambda_env import invoke
from lambda_tracer import Tracer, capture, capture_convert, capture_json, config, redaction
from lambda_tracer.backends import xray_documents
from lambda_tracer.redaction import REDACTED, Policy
from lambda_tracer_local.daemon import by_name
from memory_sender import MemorySender

pytestmark = pytest.mark.usefixtures("memory_sender")  # what was sent, read in memory (tests/memory_sender.py)


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
    assert "y" * (redaction.MAX_MESSAGE_CHARS + 10) not in captured["preview"]  # messages are cut first


def test_max_capture_bytes_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.MAX_CAPTURE_BYTES, "1024")
    _, doc = _captured(["y" * 100] * 20)
    assert doc["metadata"]["svc"]["handler response"]["truncated"] is True


def test_whole_document_stays_under_one_datagram(memory_sender: MemorySender) -> None:
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
    assert max(memory_sender.datagram_sizes) <= 65_507


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
    info = capture_convert.error_metadata(KeyError("missing"), redaction.Policy(), 4096)
    assert info == {"type": "KeyError", "message": "'missing'"}
    try:
        try:
            raise ValueError("inner")
        except ValueError as inner:
            raise RuntimeError("outer") from inner
    except RuntimeError as outer:
        chained = capture_convert.error_metadata(outer, redaction.Policy(), 4096)
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


# -- exact outputs, pinned against the mutants `make mutation` left alive ----------------------------------------

R = REDACTED


@pytest.fixture(autouse=True)
def _fresh_reports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(config, "_reported", set())
    monkeypatch.setattr(config, "suppressed", 0)
    yield


def meta(value: object, max_bytes: int = 16384, key: str | None = None, policy: Policy | None = None) -> Any:
    return capture.to_metadata(value, policy or Policy(), max_bytes, key)


def test_keys_decide_what_is_redacted() -> None:
    value = {
        "a": 1,
        "password": "x",
        "n": None,
        "flag": True,
        "max_tokens": 5,
        "Cookie": "s=1; Path=/",
        "rawQueryString": "a=1&b",
        "SecretString": '{"u":"x","p":[1,null,true]}',
        "token": 7,
        "secret": None,
        "api_key": False,
        "input_tokens": "12",
    }
    assert meta(value) == {
        "a": 1,
        "password": R,
        "n": None,
        "flag": True,
        "max_tokens": 5,
        "Cookie": f"s={R}; Path=/",
        "rawQueryString": f"a={R}&{R}",
        "SecretString": f'{{"u":"{R}","p":["{R}",null,true]}}',
        "token": R,
        "secret": None,
        "api_key": False,
        "input_tokens": R,
    }


def test_cookie_and_query_containers() -> None:
    assert meta({"cookies": ["a=1", "b=2"], "queryStringParameters": {"q": "x", "page": "2"}, "Cookie": 5}) == {
        "cookies": [f"a={R}", f"b={R}"],
        "queryStringParameters": {"q": R, "page": R},
        "Cookie": R,
    }


def test_secret_key_for_the_whole_value() -> None:
    assert meta("hunter2", key="password") == R
    assert meta({"a": 1}, key="password") == R
    assert meta('{"a": 1}', key="SecretString") == f'{{"a":"{R}"}}'
    assert meta(None, key="password") is None
    assert meta({"a": "b"}, key="response") == {"a": "b"}
    assert meta(5, key="max_tokens") == 5


def test_strings_cut_with_markers() -> None:
    assert meta("x" * 300, 256) == {"truncated": True, "original_bytes_at_least": 302, "preview": '"' + "x" * 60}
    assert meta({"k": "a" * 500}, 300) == {
        "truncated": True,
        "original_bytes_at_least": 505,
        "preview": '{"k":"' + "a" * 89,
    }
    assert meta("x" * 256, 256) == {
        "truncated": True,
        "original_bytes": 258,
        "preview": '"' + "x" * 60,
    }
    assert meta("x" * 254, 256) == "x" * 254


def test_finish_measures_only_when_needed() -> None:
    converter = capture_convert._Converter(Policy(), 1000)
    converter.size_bound = 10
    assert capture_convert._finish(converter, ["x" * 50], 10) == ["x" * 50]
    converter.size_bound = 11
    assert capture_convert._finish(converter, ["x" * 50], 10) == {
        "truncated": True,
        "original_bytes": 54,
        "preview": '["' + "x" * 50 + '"]',
    }
    converter.size_bound = 0
    converter.cut = True
    converter.original_chars = 99
    assert capture_convert._finish(converter, [1], 10) == {
        "truncated": True,
        "original_bytes_at_least": 99,
        "preview": "[1]",
    }


def test_item_caps() -> None:
    converter = capture_convert._Converter(Policy(), 10**9)
    items = converter.convert(list(range(1500)))
    assert len(items) == 1001 and items[999] == 999 and items[-1] == "... 500 more items" and converter.cut
    converter = capture_convert._Converter(Policy(), 10**9)
    mapping = converter.convert({str(n): n for n in range(1200)})
    assert len(mapping) == 1001 and mapping["999"] == 999 and mapping["..."] == "200 more items"
    converter = capture_convert._Converter(Policy(), 10**9)
    assert converter.convert(list(range(1000))) == list(range(1000))
    assert converter.cut is False
    Pair = collections.namedtuple("Pair", "a b")
    assert meta(Pair(1, 2)) == [1, 2]


def test_preview_of_a_list_past_the_item_cap() -> None:
    assert meta(list(range(1500)), 60000) == list(range(1500))  # fits, nothing to convert: recorded whole
    result = meta([*range(1500), object()], 60000)
    assert result["truncated"] is True
    assert result["original_bytes_at_least"] == 3912
    assert result["preview"].endswith('999,"... 501 more items"]')


def test_node_cap() -> None:
    converter = capture_convert._Converter(Policy(), 10**9)
    out = converter.convert([[0] * 100 for _ in range(200)])
    assert out == [[0] * 100] * 99 + [["... 100 more items"], "... 100 more items"]
    assert converter.nodes == 10_001
    assert converter.cut is True
    converter = capture_convert._Converter(Policy(), 10**9)
    out = converter.convert([[0] * 99 for _ in range(100)])
    assert out == [[0] * 99] * 100
    assert converter.nodes == 10_001
    assert converter.cut is False


def test_size_cap_stops_walking() -> None:
    converter = capture_convert._Converter(Policy(), 100)
    out = converter.convert(["abcdefghij"] * 50)
    assert out == ["abcdefghij"] * 3 + ["... 47 more items"]
    assert converter.cut is True


def test_depth_cap() -> None:
    deep: list[Any] = []
    current = deep
    for _ in range(40):
        inner: list[Any] = []
        current.append(inner)
        current = inner
    assert meta(deep) == deep  # plain JSON that fits is recorded as it is
    deep.append(b"")  # a value to convert: the walk stops at the depth cap
    assert json.dumps(meta(deep)) == "[" + "[" * 31 + '"<too deep>"' + "]" * 31 + ', "<bytes: 0>"]'
    deep_dict: dict[str, Any] = {"x": b""}
    node = deep_dict
    for _ in range(40):
        node["k"] = {}
        node = node["k"]
    out = meta(deep_dict)
    for _ in range(32):
        out = out["k"]
    assert out == "<too deep>"


def test_cycles() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    assert meta(loop) == [1, "<cycle>"]
    mapping: dict[str, Any] = {"a": 1}
    mapping["self"] = mapping
    assert meta(mapping) == {"a": 1, "self": "<cycle>"}
    shared = [1]
    assert meta([shared, shared]) == [[1], [1]]
    # Converted (a set is not JSON), not recorded as it is: the walk leaves a list it was in, and a list held
    # twice is recorded twice, not as a cycle the second time.
    assert meta([shared, shared, {2}]) == [[1], [1], [2]]
    assert meta({"a": shared, "b": (shared, shared), "c": {2}}) == {"a": [1], "b": [[1], [1]], "c": [2]}


def test_named_secrets() -> None:
    assert meta({"Name": "/prod/db/password/", "Value": "s"}) == {"Name": "/prod/db/password/", "Value": R}
    assert meta({"Type": "SecureString", "value": "s"}) == {"Type": "SecureString", "value": R}
    assert meta({"name": "HOST", "value": "h"}) == {"name": "HOST", "value": "h"}
    assert meta({"Key": "api_key", "ParameterValue": "v", "x": None}) == {
        "Key": "api_key",
        "ParameterValue": R,
        "x": None,
    }
    assert meta({"OptionName": "DB_PASSWORD", "Value": None}) == {"OptionName": "DB_PASSWORD", "Value": None}
    assert meta({"name": 5, "key": "token", "value": "v"}) == {"name": 5, "key": "token", "value": R}
    assert meta({"Name": "token", "Value": "v"}, policy=Policy(enabled=False)) == {"Name": "token", "Value": "v"}
    assert meta({"Value": "v"}) == {"Value": "v"}


def test_sequences_redact_after_a_secret_name() -> None:
    assert meta(["--password", "s", None, "--token", True]) == ["--password", R, None, "--token", True]
    assert meta(("api_key", "k")) == ["api_key", R]
    assert meta(["x", "api_key"]) == ["x", "api_key"]
    assert meta(["api_key", "k", "z"]) == ["api_key", "k", "z"]
    assert meta(["a", "--password=x", "y"]) == ["a", f"--password={R}", "y"]
    assert meta(["-", "x"]) == ["-", "x"]
    assert meta(["--" + "x" * 57 + "token", "v"]) == ["--" + "x" * 57 + "token", R]
    assert meta(["--" + "x" * 58 + "token", "v"]) == ["--" + "x" * 58 + "token", "v"]


def test_named_tuple_fields() -> None:
    Pair = collections.namedtuple("Pair", "user secret_key")
    assert meta(Pair("u", "k")) == ["u", R]


class Colour(enum.Enum):
    A = "password=x"


def test_scalars() -> None:
    value = [
        Colour.A,
        decimal.Decimal("1.5"),
        2**60,
        -(2**53),
        2**53,
        float("inf"),
        b"abc",
        datetime.date(2020, 1, 2),
        uuid.UUID(int=1),
        datetime.timedelta(seconds=3),
    ]
    assert meta(value) == [
        f"password={R}",
        "1.5",
        "1152921504606846976",
        -(2**53),
        2**53,
        "inf",
        "<bytes: 3>",
        "2020-01-02",
        "00000000-0000-0000-0000-000000000001",
        "0:00:03",
    ]


class _Plain:
    def __init__(self) -> None:
        self.token = "t"
        self._private = 1
        self.method = lambda: 1
        self.x = 2


def test_objects() -> None:
    assert meta(_Plain()) == {"token": R, "x": 2}
    assert meta(object()) == "<object>"
    assert meta(iter([])) == "<list_iterator>"
    assert capture_json.describe(Policy()) == "<lambda_tracer.redaction.Policy>"


def test_json_strings() -> None:
    assert meta('{"password":"x","a":1}') == f'{{"password":"{R}","a":1}}'
    assert meta('{"a": 1}') == '{"a": 1}'
    assert meta('{"a":"b"') == '{"a":"b"'
    assert meta('{"password": "x"') == '{"password": "[REDACTED]"'
    assert meta('"{\\"password\\":\\"x\\"}"') == f'"{{\\"password\\":\\"{R}\\"}}"'
    assert meta('"plain"') == '"plain"'
    assert meta(' ["--password", "x"]') == f'["--password","{R}"]'


def test_error_messages() -> None:
    error = subprocess.CalledProcessError(1, ["ls", "--password", "x"])
    assert redaction.exception_message(error, Policy()) == f"Command {R} returned non-zero exit status 1."
    assert redaction.exception_message(ValueError("m" * 1500), Policy()) == "m" * 1000
    # Masked, then cut: a secret across the cut is masked whole, and URL query values are all masked.
    straddling = "m" * 985 + " password=" + "s" * 40
    assert redaction.exception_message(ValueError(straddling), Policy()) == "m" * 985 + f" password={R}"[:15]
    assert redaction.exception_message(ValueError("GET https://h/p?q=1&key=2 failed"), Policy()) == (
        f"GET https://h/p?q={R}&key={R} failed"
    )
    assert redaction.command_hidden("TimeoutExpired", "Command 'x' timed out after 3 seconds") == (
        f"Command {R} timed out after 3 seconds"
    )
    assert redaction.command_hidden("ValueError", "Command 'x' returned 1") == "Command 'x' returned 1"
    assert redaction.command_hidden("CalledProcessError", "Command 'x' died with <Signals.SIGKILL: 9>.") == (
        f"Command {R} died with <Signals.SIGKILL: 9>."
    )
    assert (
        redaction.command_hidden("CalledProcessError", "Command 'a returned b' returned 2") == f"Command {R} returned 2"
    )
    assert redaction.command_hidden("CalledProcessError", "Other 'x' returned 1") == "Other 'x' returned 1"
    assert redaction.command_hidden("CalledProcessError", "Command 'x' failed") == "Command 'x' failed"
    # The header value an HTTP client refused, to its line's end; a type requests names kept; a header's name kept.
    hidden = redaction.header_value_hidden
    assert hidden("failed:\nInvalid header value b'k\\n'\r\nIllegal header value b'k'\nnext") == (
        f"failed:\nInvalid header value {R}\r\nIllegal header value {R}\nnext"
    )
    assert hidden("bad character(s) in header value: 'k\\n'") == f"bad character(s) in header value: {R}"
    assert hidden("Header part (1) from ('X-Key', 1) must be of type str or bytes, not <class 'int'>") == (
        f"Header part {R} must be of type str or bytes, not <class 'int'>"
    )
    assert hidden("Header part ('k must be of type x') from ('X-Key', 'k must be of type x')") == f"Header part {R}"
    assert hidden("Invalid header value b'k must be of type x'") == f"Invalid header value {R}"
    assert hidden("Cannot serialize non-str key 1234") == f"Cannot serialize non-str key {R}"
    assert hidden("Invalid header name b'X-Key\\n'") == "Invalid header name b'X-Key\\n'"
    assert hidden("Header part missing") == "Header part missing"
    assert hidden("invalid header value x") == "invalid header value x"
    error = ValueError("Invalid header value b'Bearer k'")
    assert redaction.exception_message(error, Policy()) == f"Invalid header value {R}"
    # SQLAlchemy's bind values of a failed statement, on a line of their own; what it says when it hid them, kept.
    failed = "(IntegrityError) x\n[SQL: INSERT INTO t (a, b) VALUES (?, ?)]\n[parameters: ('a', 'pw-1')]\n(Background)"
    assert redaction.parameters_hidden(failed) == failed.replace("('a', 'pw-1')", R)
    for kept in ("[SQL parameters hidden due to hide_parameters=True]", "see [parameters: x]", "plain"):
        assert redaction.parameters_hidden(kept) == kept
    # What PostgreSQL (psycopg2's and asyncpg's DETAIL) and MySQL quote of the row a statement failed on: every column
    # by position, masked whole; a key's values when one of its columns names a secret.
    rows = {
        "violates not-null constraint\nDETAIL:  Failing row contains (7, null, pw-row-1, 2024).\n": (
            f"violates not-null constraint\nDETAIL:  Failing row contains ({R}).\n"
        ),
        "DETAIL:  Key (token)=(tk-pg-1) already exists.": f"DETAIL:  Key (token)=({R}) already exists.",
        "Key (user_id, api_key)=(7, ak)b) is not present in table": (
            f"Key (user_id, api_key)=({R}) is not present in table"
        ),
        "Key (email)=(ann@example.com) already exists.": "Key (email)=(ann@example.com) already exists.",
        "(1062, \"Duplicate entry 'tk-my-1' for key 'sessions.token'\")": (
            f"(1062, \"Duplicate entry '{R}' for key 'sessions.token'\")"
        ),
        "Duplicate entry 'ann@example.com' for key 'users.email'": (
            "Duplicate entry 'ann@example.com' for key 'users.email'"
        ),
        "Key (token)=(tk-open": f"Key (token)=({R}",  # no end: to the line's end
        "Key (k, token)=(1, tk-x) conflicts with existing key (k, token)=(1, tk-y).": (
            f"Key (k, token)=({R}) conflicts with existing key (k, token)=({R})."
        ),
    }
    for message, recorded in rows.items():
        assert redaction.exception_message(ValueError(message), Policy()) == recorded
    cause = {"exceptions": [{"type": "IntegrityError", "message": failed}]}  # an SDK subsegment's cause
    xray_documents.mask_messages(cause, Policy())
    assert cause["exceptions"][0]["message"] == failed.replace("('a', 'pw-1')", R)

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError

    assert redaction.exception_message(Unprintable(), Policy()) == "<str() of the exception raised>"


class NotNullViolationError(Exception):
    """asyncpg's shape: the server's fields (``detail``: PostgreSQL's DETAIL) as attributes, not in the message."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.sqlstate, self.detail = "23502", detail


def test_the_row_a_database_error_holds_as_an_attribute_is_not_recorded() -> None:
    """asyncpg's errors keep the DETAIL that quotes the failed row as an attribute (``detail``), a short scalar
    recorded with the error metadata: its values were kept there while the same row quoted in a message was hidden."""
    rows = {
        "Failing row contains (7, null, pw-row-9, 2024).": f"Failing row contains ({R}).",
        "Key (token)=(tk-pg-9) already exists.": f"Key (token)=({R}) already exists.",
        "Key (email)=(ann@example.com) already exists.": "Key (email)=(ann@example.com) already exists.",
    }
    for detail, recorded in rows.items():
        error = NotNullViolationError('null value in column "email" violates not-null constraint', detail)
        attributes = capture_convert.error_metadata(error, Policy(), 16384)["attributes"]
        assert attributes == {"sqlstate": "23502", "detail": recorded}


class MyError(Exception):
    pass


def test_exception_info_and_error_metadata() -> None:
    try:
        try:
            raise KeyError("k")
        except KeyError as inner:
            raise ValueError("v password=1") from inner
    except ValueError as error:
        assert capture_convert.exception_info(error, Policy(enabled=False)) == {
            "type": "ValueError",
            "message": "v password=1",
            "cause": {"type": "KeyError"},
        }
        assert capture_convert.error_metadata(error, Policy(), 16384) == {
            "type": "ValueError",
            "message": f"v password={R}",
            "cause": {"type": "KeyError"},
        }
    try:
        try:
            raise KeyError("k")
        except KeyError:
            raise ValueError("v") from None
    except ValueError as error:
        assert capture_convert.exception_info(error, Policy()) == {"type": "ValueError", "message": "v"}
    try:
        try:
            raise KeyError("k")
        except KeyError:
            raise OSError("v")
    except OSError as error:
        expected = {"type": "OSError", "message": "v", "cause": {"type": "KeyError"}}
        assert capture_convert.exception_info(error, Policy()) == expected
    custom = MyError("m")
    custom.code = 5  # type: ignore[attr-defined]
    custom.body = "x"  # type: ignore[attr-defined]
    custom.reason = "r" * 201  # type: ignore[attr-defined]
    custom.short = "r" * 200  # type: ignore[attr-defined]
    custom._private = 1  # type: ignore[attr-defined]
    custom.Doc = "d"  # type: ignore[attr-defined]
    custom.ok = None  # type: ignore[attr-defined]
    custom.ratio = 0.5  # type: ignore[attr-defined]
    custom.password = "p"  # type: ignore[attr-defined]
    custom.items = [1]  # type: ignore[attr-defined]
    assert capture_convert.error_metadata(custom, Policy(), 16384) == {
        "type": "MyError",
        "message": "m",
        "module": __name__,
        "attributes": {"code": 5, "short": "r" * 200, "ok": None, "ratio": 0.5, "password": R},
    }
    assert capture_convert.error_metadata(MyError("m"), Policy(), 16384) == {
        "type": "MyError",
        "message": "m",
        "module": __name__,
    }
    assert capture.to_metadata(MyError("x"), Policy(), 16384) == {"type": "MyError", "message": "x", "module": __name__}


def test_error_metadata_is_bounded() -> None:
    big = capture_convert.error_metadata(ValueError("x" * 900), Policy(), 300)
    assert big["truncated"] is True
    assert big["preview"] == '{"type":"ValueError","message":"' + "x" * 59


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("k", True, True),
        ("password", False, False),
        ("password", "x", R),
        ("password", 5, R),
        ("max_tokens", 5, 5),
        ("max_tokens", 2.5, 2.5),
        ("max_tokens", "5", R),
        ("Cookie", "a", R),
        ("k", "password=1", f"password={R}"),
        ("k", 2**53, 2**53),
        ("k", -(2**53), -(2**53)),
        ("k", 2**53 + 1, str(2**53 + 1)),
        ("k", -(2**53) - 1, str(-(2**53) - 1)),
        ("k", 2**3299, str(2**3299)),
        ("k", 1.5, 1.5),
        ("a" * 500, 1, 1),
        ("A_9", "v", "v"),
    ],
)
def test_annotation_values(key: str, value: object, expected: object) -> None:
    assert capture.annotation_value(key, value, Policy()) == expected


def test_annotation_cut(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="lambda_tracer")
    assert capture.annotation_value("k", "x" * 1001, Policy()) == "x" * 1000
    assert capture.annotation_value("k", "x" * 1000, Policy()) == "x" * 1000
    assert [r.getMessage() for r in caplog.records] == [
        "lambda_tracer: annotation string values are cut to 1000 characters"
    ]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("k", 2**3300, "annotation 'k' dropped: out-of-range int values are not recorded (str, int, bool, float only)"),
        (
            "k",
            float("nan"),
            "annotation 'k' dropped: out-of-range float values are not recorded (str, int, bool, float only)",
        ),
        ("k", None, "annotation 'k' dropped: NoneType values are not recorded (str, int, bool, float only)"),
        ("k", [1], "annotation 'k' dropped: list values are not recorded (str, int, bool, float only)"),
        (  # a key the policy would mask is not quoted (valid as a key, dropped for its value)
            "AKIAIOSFODNN7EXAMPLE",
            [1],
            "annotation <20 characters> dropped: list values are not recorded (str, int, bool, float only)",
        ),
        ("bad key", 1, "annotation 'bad key' dropped (keys are 1 to 500 of [A-Za-z0-9_])"),
        (5, 1, "annotation of type int dropped (keys are 1 to 500 of [A-Za-z0-9_])"),
        ("a" * 501, 1, "annotation <501 characters> dropped (keys are 1 to 500 of [A-Za-z0-9_])"),
        ("", 1, "annotation '' dropped (keys are 1 to 500 of [A-Za-z0-9_])"),
        ("\u00e9", 1, "annotation <1 characters> dropped (keys are 1 to 500 of [A-Za-z0-9_])"),
    ],
)
def test_annotation_dropped(caplog: pytest.LogCaptureFixture, key: object, value: object, message: str) -> None:
    caplog.set_level(logging.WARNING, logger="lambda_tracer")
    assert capture.annotation_value(key, value, Policy()) is capture.DROPPED
    assert [r.getMessage() for r in caplog.records] == [f"lambda_tracer: {message}"]


def test_clean_name() -> None:
    assert capture.clean_name("a<locals>?;*()!$~^b") == "alocalsb"
    assert capture.clean_name("?") == "unnamed"
    assert capture.clean_name("x" * 300) == "x" * 250


def test_json_text_is_parsed_only_when_a_rule_could_apply() -> None:
    body = json.dumps({"a": [1, "x"], "when": "2024-01-01T00:00:00Z", "url": "https://h/p?page=2"})
    assert meta([body]) == [body]  # kept byte for byte, not parsed
    assert meta([json.dumps(["token", "x"])]) == [f'["token","{R}"]']
    assert meta([json.dumps(["token", "x", "y"])]) == ['["token", "x", "y"]']
    assert meta([json.dumps(["--token"])]) == ['["--token"]']


class _Reader:
    def read(self) -> bytes:
        return b""


class _AsyncIterator:
    def __anext__(self) -> None:
        return None


class _BadDict(dict):  # type: ignore[type-arg]
    def items(self) -> Any:
        raise RuntimeError("no")


class _Slots:
    __slots__ = ("a",)

    def __init__(self) -> None:
        self.a = 1


class _OnlyPrivate:
    def __init__(self) -> None:
        self._a = 1


class _Loop:
    def __init__(self) -> None:
        self.me = self


def test_what_is_not_looked_into() -> None:
    module = __name__
    assert meta([_Reader(), _AsyncIterator()]) == [f"<{module}._Reader>", f"<{module}._AsyncIterator>"]
    assert meta([_BadDict(a=1)]) == [f"<{module}._BadDict>"]
    assert meta([_Slots(), _OnlyPrivate(), int]) == [f"<{module}._Slots>", f"<{module}._OnlyPrivate>", "<type>"]
    assert meta(_Loop()) == {"me": "<cycle>"}
    credentials = type("Credentials", (), {"__module__": "botocore.credentials"})()
    async_credentials = type("Credentials", (), {"__module__": "aiobotocore.credentials"})()
    assert meta({"c": credentials, "d": [async_credentials]}) == {"c": R, "d": [R]}


def test_more_scalars_and_containers() -> None:
    class Number(enum.Enum):
        ONE = 1

    assert meta([Number.ONE, float("nan"), -(2**60), bytearray(b"ab"), memoryview(b"abc"), {3}, frozenset({4})]) == [
        1,
        "nan",
        "-1152921504606846976",
        "<bytes: 2>",
        "<bytes: 3>",
        [3],
        [4],
    ]
    assert meta({1: "a", "https://u:p@h": 1, "a=b": 2}) == {"1": "a", f"https://u:{R}@h": 1, "a=b": 2}
    assert meta({"password=x": 1}) == {f"password={R}": R}


def test_keys_cut_to_the_limit() -> None:
    out = meta({"k" * 300: 1}, 256)
    assert out == {"truncated": True, "original_bytes_at_least": 302, "preview": '{"' + "k" * 59}
    # A key with credentials in it is masked, then cut to the limit like any other, and so marked as cut.
    key = "https://u:p@h/" + "k" * 300
    converter = capture_convert._Converter(Policy(), 256)
    assert converter._key(key) == f"https://u:{R}@h/" + "k" * (256 - len(f"https://u:{R}@h/"))
    assert converter.cut is True
    out = meta({key: 1}, 256)
    assert out == {"truncated": True, "original_bytes_at_least": 316, "preview": f'{{"https://u:{R}@h/' + "k" * 36}


def test_disabled_policy_masks_nothing() -> None:
    off = Policy(enabled=False)
    assert meta(["password=x", {"password": "y"}], policy=off) == ["password=x", {"password": "y"}]
    assert meta(['{"password": "x"}'], policy=off) == ['{"password": "x"}']


def test_to_metadata_copies_small_dicts_only() -> None:
    value = {"a": 1}
    out = meta(value)
    assert out == {"a": 1} and out is not value
    text = "plain"
    assert meta(text) is text

    class Sub(dict):  # type: ignore[type-arg]
        pass

    assert meta(Sub(a=1)) == {"a": 1}
    assert type(meta(Sub(a=1))) is dict


def test_json_string_bounds() -> None:
    # Parsed whole up to the limit plus the margin; past it, masked as text and cut.
    fits = '{"password": "' + "x" * (1000 + capture.MASK_MARGIN - 16) + '"}'
    assert len(fits) == 1000 + capture.MASK_MARGIN
    assert meta([fits], 1000) == [f'{{"password":"{R}"}}']
    longer = '{"password": "' + "x" * (1000 + capture.MASK_MARGIN - 15) + '", "user": "bob"}'
    assert capture_convert._Converter(Policy(), 1000).convert([longer]) == [f'{{"password": "{R}"']
    broken = '{"password": "x", ' + '"a": 1, ' * 10
    assert meta([broken], 1000) == ['{"password": "[REDACTED]", ' + '"a": 1, ' * 10]  # masked as text
    assert meta(['"{\\"a\\": 1}"']) == ['"{\\"a\\": 1}"']
    assert meta(['["--password", "x", 1]']) == [f'["--password","{R}",1]']
    assert meta(['["a", "b"]']) == ['["a", "b"]']


def test_secrets_across_the_cut_are_masked() -> None:
    text = "x" * 90 + " password=" + "s" * 50
    assert meta([text], 100) == {
        "truncated": True,
        "original_bytes_at_least": 152,
        "preview": '["' + "x" * 59,
    }
    converter = capture_convert._Converter(Policy(), 100)
    assert converter.convert(text) == "x" * 90 + " password="
    converter = capture_convert._Converter(Policy(), 105)
    assert converter.convert(text) == "x" * 90 + " password=[REDA"


def test_under_keys_sizes() -> None:
    converter = capture_convert._Converter(Policy(), 1000)
    assert converter.convert({"password": {"a": 1}, "token": ["x"], "max_tokens": 1.5}) == {
        "password": R,
        "token": R,
        "max_tokens": 1.5,
    }
    converter = capture_convert._Converter(Policy(), 1000)
    assert converter.convert({"Cookie": 5, "rawQueryString": ["a=1"]}) == {"Cookie": R, "rawQueryString": [f"a={R}"]}


def test_scalar_attributes_edge_cases() -> None:
    error = MyError("m")
    attributes: dict[Any, Any] = vars(error)
    attributes[1] = 2  # a key that is not text
    error.Body = "x"  # type: ignore[attr-defined]
    error.flag = True  # type: ignore[attr-defined]
    error.__cause__ = error
    assert capture_convert.error_metadata(error, Policy(), 16384) == {
        "type": "MyError",
        "message": "m",
        "module": __name__,
        "attributes": {"flag": True},
    }


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("rawQueryString", 5, R),
        ("Cookie", 1.5, R),
        ("max_tokens", True, True),
        ("k", -1.5, -1.5),
        ("k", 0, 0),
    ],
)
def test_annotation_verdicts(key: str, value: object, expected: object) -> None:
    assert capture.annotation_value(key, value, Policy()) == expected


class _NextWithData:
    def __init__(self) -> None:
        self.data = 1

    def __next__(self) -> int:
        return 1


class _ReadWithData:
    def __init__(self) -> None:
        self.data = 1

    def read(self) -> bytes:
        return b""


class _AnextWithData:
    def __init__(self) -> None:
        self.data = 1

    def __anext__(self) -> None:
        return None


def test_stream_like_objects_with_attributes_are_only_described() -> None:
    module = __name__
    assert meta([_NextWithData(), _ReadWithData(), _AnextWithData()]) == [
        f"<{module}._NextWithData>",
        f"<{module}._ReadWithData>",
        f"<{module}._AnextWithData>",
    ]
    assert meta([_Plain()]) == [{"token": R, "x": 2}]


class _Recursing:
    @property  # type: ignore[misc]
    def __class__(self) -> type:
        raise RecursionError


def test_recursion_error_is_too_deep() -> None:
    assert meta(_Recursing()) == "<too deep>"


def _nested_list(levels: int, leaf: Any) -> Any:
    for _ in range(levels):
        leaf = [leaf]
    return leaf


def test_named_tuples_depth_cycles_and_extra_items() -> None:
    One = collections.namedtuple("One", "a")
    expected = json.loads("[" * 32 + '"<too deep>"' + "]" * 32)
    assert meta(One(_nested_list(40, 0))) == expected
    assert meta(One(_nested_list(30, 0))) == [_nested_list(30, 0)]
    cyclic = One([])
    cyclic.a.append(cyclic)
    assert meta(cyclic) == [["<cycle>"]]
    shared = One(1)
    assert meta([shared, shared, One(2)]) == [[1], [1], [2]]
    Secret = collections.namedtuple("Secret", "password")
    longer = tuple.__new__(Secret, ("s", "x", _nested_list(40, 0)))
    assert meta(longer) == [R, "x", expected[0]]
    assert meta(tuple.__new__(Secret, ("s", "x", _nested_list(30, 0)))) == [R, "x", _nested_list(30, 0)]


def test_shared_values_are_not_cycles() -> None:
    mapping = {"a": 1}
    thing = _Plain()
    assert meta([mapping, mapping]) == [{"a": 1}, {"a": 1}]
    assert meta([thing, thing, _Plain()]) == [{"token": R, "x": 2}] * 3


def _nested_dict(levels: int, leaf: Any) -> Any:
    for _ in range(levels):
        leaf = {"k": leaf}
    return leaf


def test_cookie_lists_at_the_depth_limit() -> None:
    assert meta(_nested_dict(30, {"cookies": ["a=1"]})) == _nested_dict(30, {"cookies": [f"a={R}"]})
    assert meta(_nested_dict(31, {"cookies": ["a=1"]})) == _nested_dict(31, {"cookies": "<too deep>"})


def test_annotation_reports_are_keyed_by_kind(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="lambda_tracer")
    policy = Policy()
    assert capture.annotation_value("k", "x" * 1000, policy) == "x" * 1000
    assert config._reported == set()
    assert capture.annotation_value("bad key", 1, policy) is capture.DROPPED
    assert capture.annotation_value("other key", 1, policy) is capture.DROPPED
    assert capture.annotation_value("k", "x" * 1001, policy) == "x" * 1000
    assert capture.annotation_value("k", None, policy) is capture.DROPPED
    assert capture.annotation_value("k", [1], policy) is capture.DROPPED
    assert config._reported == {
        ("annotation key", "'bad key'"),
        ("annotation key", "'other key'"),
        ("annotation cut",),
        ("annotation value", "NoneType"),
        ("annotation value", "list"),
    }
    assert len(caplog.records) == 5


class _Key(str):
    def __str__(self) -> str:
        return "changed"


def test_key_details() -> None:
    assert meta({_Key("a"): 1}) == {"a": 1}
    assert meta({"a": "x" * 10, "b": "y" * 300}, 256)["original_bytes_at_least"] == 320
    assert meta({"k" * 256: 1}, 256) == {"truncated": True, "original_bytes": 262, "preview": '{"' + "k" * 59}


def test_size_bound_formula() -> None:
    converter = capture_convert._Converter(Policy(), 1000)
    assert converter.size_bound == 0
    converter.convert({"ab": "cd", "password": "x", "n": 1})
    # dict 24, "ab" 6*2+2, "cd" 6*2+2, "password" 6*8+2, [REDACTED] 10+2, "n" 6+2, 1: 24
    assert converter.size_bound == 24 + 14 + 14 + 50 + 12 + 8 + 24


def test_mapping_cut_at_the_item_cap_is_marked() -> None:
    out = meta({**{str(n): 0 for n in range(1001)}, "x": b""}, 60000)
    assert out["truncated"] is True
    assert "original_bytes_at_least" in out


def test_json_text_edge_cases() -> None:
    assert meta(['"a:\\u0041"']) == ['"a:\\u0041"']
    assert meta(['{"a": "x:y"}']) == ['{"a": "x:y"}']
    deep = "[" * 40 + '"token"' + "]" * 40
    assert meta([deep]) == ["[" * 32 + '"<too deep>"' + "]" * 32]
    big = 2**60
    assert meta(["[" * 9 + str(big) + "]" * 9]) == ["[" * 9 + str(big) + "]" * 9]  # nothing to mask: kept
    secret_big = '{"token": 1, "a":' + '{"a":' * 8 + str(big) + "}" * 9
    assert meta([secret_big]) == ['{"token":"' + R + '","a":' + '{"a":' * 8 + f'"{big}"' + "}" * 9]
    off = Policy(enabled=False)
    many = json.dumps(["["] + [0] * 1000)
    assert meta([many], 10**6, policy=off) == [many]


def test_named_secret_uses_the_last_path_segment() -> None:
    assert meta({"Name": "/password/host", "Value": "v"}) == {"Name": "/password/host", "Value": "v"}
    assert meta({"Name": "/password/X", "Value": "v"}) == {"Name": "/password/X", "Value": "v"}
    assert meta({"Name": "/a/b/token//", "Value": "v"}) == {"Name": "/a/b/token//", "Value": R}


class _ListValue(enum.Enum):
    ITEMS = ("a", "b")


def test_enum_with_a_container_value_and_cut_cookie_headers() -> None:
    assert meta([_ListValue.ITEMS]) == [["a", "b"]]
    converter = capture_convert._Converter(Policy(), 40)
    # The header is cut to the limit before it is masked: the cut name has no "=" left and is masked whole.
    assert converter.convert({"Cookie": "a=1; " + "b" * 60 + "=1"}) == {"Cookie": f"a={R}; {R}"}


def _b64(raw: bytes | str) -> str:
    import base64

    return base64.b64encode(raw.encode() if isinstance(raw, str) else raw).decode()


_WINDOW_100 = (100 + capture.MASK_MARGIN) // 3 * 4  # base64 characters decoded for a limit of 100


@pytest.mark.parametrize(
    ("body", "limit", "recorded", "cut", "size_bound"),
    [
        (_b64("password=hunter2&x=1"), 16384, f"password={R}&x=1", False, 306),
        (_b64("plain"), 16384, "cGxhaW4=", False, 216),  # nothing secret: kept encoded, as sent
        ("!!", 16384, "!!", False, 180),
        (_b64(b"\xff"), 16384, "<base64 body of 4 characters, not text>", False, 206),
        (_b64('{"password": "p", "a": 1}'), 16384, f'{{"password":"{R}","a":1}}', False, 354),
        (_b64("x" * 5000), 100, _b64("x" * 5000)[:100], True, 768),
        # Past the decoded window: recorded masked, and marked as cut (the rest of the body is not in it).
        (_b64("password=" + "x" * 5000), 100, f"password={R}", True, 282),
        # A character split by the window's end is forgiven (up to 3 bytes of it), nothing else is.
        (_b64(b"a" * 4191 + "\U0001f600".encode() + b"a" * 10), 100, None, True, 768),
        (_b64(b"a" * 4190 + b"\xff" + b"a" * 10), 100, "<base64 body of 5604 characters, not text>", False, 206),
        (_b64(b"a" * 4193 + b"\xc3"), 100, "<base64 body of 5592 characters, not text>", False, 206),
        (_b64(b"a" * 4193 + "\u00e9".encode()), 100, None, True, 768),
        (_b64("x" * 4500 + "&password=abc"), 100, None, True, 768),  # the secret is past the decoded window
        # Far past the window: only the window is decoded (a whole number of base64 quads), not the body.
        (_b64("password=" + "x" * 9000), 100, f"password={R}", True, 282),
        (_b64("x" * 9000), 100, _b64("x" * 9000)[:100], True, 768),
    ],
)
def test_base64_bodies_exactly(body: str, limit: int, recorded: str | None, cut: bool, size_bound: int) -> None:
    converter = capture_convert._Converter(Policy(), limit)
    out = converter.convert({"isBase64Encoded": True, "body": body})
    assert out == {"isBase64Encoded": True, "body": body[:limit] if recorded is None else recorded}
    assert (converter.cut, converter.size_bound) == (cut, size_bound)
    assert len(_b64(b"a" * 4193 + b"\xc3")) == _WINDOW_100


def test_error_attributes_after_a_private_or_payload_one_are_kept() -> None:
    error = ValueError("boom")
    error._private = "x"  # type: ignore[attr-defined]
    error.doc = "the payload"  # type: ignore[attr-defined]
    error.code = 5  # type: ignore[attr-defined]
    error.reason = "short"  # type: ignore[attr-defined]
    assert capture_convert._scalar_attributes(error) == {"code": 5, "reason": "short"}


def test_cookie_and_query_values_cost_only_their_text() -> None:
    converter = capture_convert._Converter(Policy(), 1000)
    converter.scanned = converter.budget
    assert converter.convert({"Cookie": 5}) == {"Cookie": R}
    assert converter.cut is False  # a number holds no text to scan: the budget is not exceeded
    converter = capture_convert._Converter(Policy(), 1000)
    converter.scanned = converter.budget - 1000
    masked = converter.convert({"Cookie": ["a"] * 1001})
    # At most 1000 items are looked at and counted, so the budget holds for them: masked item by item (until
    # converting them spends the rest of the budget).
    assert masked == {"Cookie": [R, "... 999 more items"]}


def test_types_of_a_module_not_imported_are_none() -> None:
    assert capture_convert._loaded_types("lambda_tracer_no_such_module", ("X",)) == ()
    assert capture_convert._loaded_types("decimal", ("Decimal",)) == (decimal.Decimal,)


def test_a_cookie_past_the_budget_is_masked_whole_and_marked_cut() -> None:
    converter = capture_convert._Converter(Policy(), 1000)
    converter.scanned = converter.budget
    assert converter.convert({"Cookie": "a=b"}) == {"Cookie": R}
    assert converter.cut is True


def test_json_text_with_escapes_is_parsed_even_without_a_secret_word_in_sight() -> None:
    # "tok\ben" names a token only once the escape is decoded: no substring of the text gives it away.
    assert meta('{"tok\\ben": "s3cr3t", "a": 1}') == f'{{"tok\\ben":"{R}","a":1}}'


def test_json_held_in_a_json_string_is_redacted_structurally() -> None:
    inner = json.dumps({"SecretString": json.dumps({"a": 1}), "b": 2})
    assert meta(json.dumps(inner)) == json.dumps(
        json.dumps({"SecretString": json.dumps({"a": R}, separators=(",", ":")), "b": 2}, separators=(",", ":"))
    )


def test_json_after_64_characters_of_whitespace_is_text() -> None:
    text = " " * 64 + '{"password": "x",  "a": 1}'
    assert meta(text) == " " * 64 + f'{{"password": "{R}",  "a": 1}}'  # masked as text, its spacing kept
    assert meta(" " * 63 + '{"password": "x",  "a": 1}') == f'{{"password":"{R}","a":1}}'


@pytest.mark.parametrize(("over", "parsed"), [(0, True), (1, False)])
def test_json_is_parsed_only_within_the_scan_budget(over: int, parsed: bool) -> None:
    text = json.dumps({"a": 1, "password": "x"})
    converter = capture_convert._Converter(Policy(), 16384)
    converter.scanned = converter.budget - 2 * len(text) + over  # its window, then the parse, are counted
    expected = f'{{"a":1,"password":"{R}"}}' if parsed else f'{{"a": 1, "password": "{R}"}}'
    assert converter.convert(text) == expected


def test_a_new_value_has_its_whole_budget() -> None:
    """The budget counts from nothing: in a value's first text, JSON whose window and parse are exactly the budget
    is parsed (redacted inside, written compact), not masked as text."""
    converter = capture_convert._Converter(Policy(), 100)
    text = json.dumps({"password": "x", "a": "y" * (converter.budget // 2 - 26)})
    assert 2 * len(text) == converter.budget and len(text) <= 100 + capture.MASK_MARGIN
    assert converter.convert(text).startswith(f'{{"password":"{R}","a":"yyy')


def test_every_text_scanned_or_parsed_counts_against_the_budget() -> None:
    """The budget is spent text after text: a parse adds to what was scanned, and JSON that no rule needs is not
    parsed (nor counted as parsed), so the budget left decides whether the next text is parsed or masked as text."""
    text = '{"password": "x", "a": "' + "y" * 470 + '"}'
    parsed, as_text = f'{{"password":"{R}","a":"', f'{{"password": "{R}", "a"'
    converter = capture_convert._Converter(Policy(), 1000)
    converter.scanned = converter.budget - 3 * len(text)  # its window and its parse, then only a window
    assert [converter.convert(text)[:30], converter.convert(text)[:30]] == [parsed, as_text]
    plain = '{"a": "' + "y" * 490 + '"}'
    converter = capture_convert._Converter(Policy(), 1000)
    converter.scanned = converter.budget - len(plain) - 2 * len(text)
    assert [converter.convert(plain)[:10], converter.convert(text)[:30]] == ['{"a": "yyy', parsed]


def test_keys_masked_count_against_the_scan_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key that names a secret in its text is masked (a window of limit + 4,096 characters) and may come out short
    (``password: [REDACTED]``), so its size no longer bounds the work: what masking took out counts against the
    budget. 300 such keys of 20 KB in dicts that share them were masked 234 times in one value (4.6 million
    characters, 18 times the budget of 256 K, 2.3 s); now masking stops within one window past the budget."""
    policy = Policy()
    masked: list[int] = []
    mask_text = policy.mask_text
    monkeypatch.setattr(policy, "mask_text", lambda text, depth=0: masked.append(len(text)) or mask_text(text, depth))
    keys = [f"password: {'&lt;b&gt;' * 2500}{n}" for n in range(300)]
    value = [dict.fromkeys(keys) for _ in range(30)]
    recorded = capture.to_metadata(value, policy, 16384)
    assert recorded["truncated"] is True
    assert '"password: [REDACTED]":null' in recorded["preview"]
    window = 16384 + 1 + capture.MASK_MARGIN
    assert sum(masked) <= capture_convert._SCAN_FACTOR * 16384 + window


def test_the_gate_looks_at_a_whole_text_that_fits_its_window_and_at_the_cut_of_a_longer_one() -> None:
    # JSON that fits the window is parsed for a name anywhere in it, past the cut and past _GATE_REACH too.
    text = '{"a": "' + "x" * 2100 + '", "password": "p"}'
    assert capture_convert._Converter(Policy(), 1000).convert(text) == '{"a":"' + "x" * 994
    # Of a longer text, a secret before the cut is masked, however far before it.
    text = "x" * 1500 + " password=hunter2 " + "y" * 10_000
    expected = "x" * 1500 + f" password={R} " + "y" * 10_000
    assert capture_convert._Converter(Policy(), 2000).convert(text) == expected[:2000]


def test_a_value_recorded_as_it_is_is_a_copy() -> None:
    value = {"a": [1, {"b": "c"}]}
    recorded = capture.to_metadata(value, Policy(), 16384)
    assert recorded == value and recorded is not value and recorded["a"] is not value["a"]
    assert capture.to_metadata("plain", Policy(), 16384) == "plain"
    assert capture.to_metadata(value, Policy(), 16384, copy=False) is value


def test_response_metadata_gives_the_text_it_wrote_only_for_a_value_recorded_as_it_is_or_previewed() -> None:
    assert capture.response_metadata({"a": 1, "b": "x"}, Policy(), 16384) == ({"a": 1, "b": "x"}, '{"a":1,"b":"x"}')
    assert capture.response_metadata({"password": "x"}, Policy(), 16384) == ({"password": R}, None)
    assert capture.response_metadata(["\x7f"], Policy(), 16384) == (["\x7f"], None)  # DEL: the document escapes it
    assert capture.response_metadata(None, Policy(), 16384) == (None, "null")
    big = {"statusCode": 200, "body": json.dumps({"items": [{"id": 'a"1'}] * 3000})}  # cut: a preview
    data, text = capture.response_metadata(big, Policy(), 1000)
    assert data == capture.to_metadata(big, Policy(), 1000) and data["original_bytes_at_least"] == 48_031
    assert text == xray_documents.dumps(data) and text.startswith('{"truncated":true,"original_bytes_at_least":48031,')


Credentials = collections.namedtuple("Credentials", "user password")


def test_a_small_response_that_comes_back_is_recorded_from_what_was_written_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``recorded_response`` gives what ``response_metadata`` gives under the settings of the moment; a small dict
    recorded as it is before, under the same settings, is looked up by its marshal bytes instead of judged again."""
    monkeypatch.delenv("LAMBDA_TRACER_REDACT_KEYS", raising=False)
    monkeypatch.delenv("LAMBDA_TRACER_MAX_CAPTURE_BYTES", raising=False)
    monkeypatch.setattr(capture, "_known_responses", {})
    values: list[Any] = [
        {"ok": 1, "calls": None},
        {"ok": True, "calls": None},  # True is not 1: another entry
        {"ok": 1.0, "calls": None},
        {"ok": 1, "calls": [None, "a", (1, 2)]},
        {"password": "x"},  # converted: never looked up
        {"a": "\x7f"},  # as it is, without a text
        {"s": {1, 2}},  # marshal takes a set, the JSON encoder does not: converted
        {"b": bytearray(b"ok")},  # marshal writes a buffer as bytes: converted
        {"p": Credentials(user="u", password="p")},  # JSON takes a namedtuple (as a list), marshal does not: converted
        {"d": collections.OrderedDict(a=1)},  # a subclass: converted
        {"t": "x" * 1025},  # too long to be looked up
        ["not", "a", "dict"],
        "text",
        None,
    ]
    for _ in range(3):
        for value in values:
            assert capture.recorded_response(value) == capture.response_metadata(value, Policy(), 16384), value
    known = [(marshal.loads(packed), entry) for packed, entry in capture._known_responses.items()]
    assert known == [
        ({"ok": 1, "calls": None}, ((None, None), '{"ok":1,"calls":null}')),
        ({"ok": True, "calls": None}, ((None, None), '{"ok":true,"calls":null}')),
        ({"ok": 1.0, "calls": None}, ((None, None), '{"ok":1.0,"calls":null}')),
        ({"ok": 1, "calls": [None, "a", (1, 2)]}, ((None, None), '{"ok":1,"calls":[null,"a",[1,2]]}')),
        ({"a": "\x7f"}, ((None, None), None)),
    ]
    assert [type(value["ok"]) for value, _ in known[:3]] == [int, bool, float]
    judged = capture._judged
    monkeypatch.setattr(capture, "_judged", None)  # a value that came back is not judged again
    # The same object as recorded: marshal flags an object held by more than one reference, so an equal value with
    # another reference count (a bare temporary is held once on 3.14) packs to other bytes, and only misses.
    assert values[0] == {"ok": 1, "calls": None}
    assert capture.recorded_response(values[0]) == ({"ok": 1, "calls": None}, '{"ok":1,"calls":null}')
    monkeypatch.setattr(capture, "_judged", judged)
    # Another setting, another judgement: the entry is not used, and a later one under the first settings is.
    monkeypatch.setenv("LAMBDA_TRACER_REDACT_KEYS", "ok")
    assert capture.recorded_response({"ok": 1, "calls": None}) == ({"ok": R, "calls": None}, None)
    monkeypatch.setenv("LAMBDA_TRACER_REDACT_KEYS", "none")
    assert capture.recorded_response({"password": "x"}) == ({"password": "x"}, '{"password":"x"}')
    monkeypatch.delenv("LAMBDA_TRACER_REDACT_KEYS")
    assert capture.recorded_response({"password": "x"}) == ({"password": R}, None)
    monkeypatch.setenv("LAMBDA_TRACER_MAX_CAPTURE_BYTES", "256")
    long = {"text": "y" * 300}
    assert capture.recorded_response(long)[0]["truncated"] is True
    monkeypatch.delenv("LAMBDA_TRACER_MAX_CAPTURE_BYTES")
    assert capture.recorded_response(long) == (long, json.dumps(long, separators=(",", ":")))
    monkeypatch.setenv("LAMBDA_TRACER_MAX_CAPTURE_BYTES", "256")
    assert capture.recorded_response(long)[0]["truncated"] is True
    assert capture.recorded_response({"ok": 1, "calls": None}) == ({"ok": 1, "calls": None}, '{"ok":1,"calls":null}')


@pytest.mark.parametrize(
    ("limit_setting", "changed_to"),
    [
        (None, "none"),  # redaction turned off meanwhile
        # Set to the very text of the capture limit's variable: the setting judged under is compared with the
        # redaction setting read first, not with the other setting read.
        ("16384", "16384"),
    ],
)
def test_a_response_judged_under_a_setting_changed_meanwhile_is_not_looked_up_under_the_first(
    monkeypatch: pytest.MonkeyPatch, limit_setting: str | None, changed_to: str
) -> None:
    """Another thread may change LAMBDA_TRACER_REDACT_KEYS between the settings ``recorded_response`` reads and the
    policy it judges under: a value judged clean under the other policy is never looked up for the settings read
    first (redaction off then would have it recorded unmasked, every later time, under the setting that masks it)."""
    monkeypatch.setenv("LAMBDA_TRACER_REDACT_KEYS", "ssn")
    if limit_setting is None:
        monkeypatch.delenv("LAMBDA_TRACER_MAX_CAPTURE_BYTES", raising=False)
    else:
        monkeypatch.setenv("LAMBDA_TRACER_MAX_CAPTURE_BYTES", limit_setting)
    monkeypatch.setattr(capture, "_known_responses", {})
    value = {"ssn": "123-45-6789"}
    current = redaction.current

    def changed_meanwhile() -> Policy:
        monkeypatch.setenv("LAMBDA_TRACER_REDACT_KEYS", changed_to)  # what another thread set, right then
        return current()

    monkeypatch.setattr(redaction, "current", changed_meanwhile)
    assert capture.recorded_response(value) == (value, '{"ssn":"123-45-6789"}')  # judged with redaction off
    monkeypatch.setattr(redaction, "current", current)
    monkeypatch.setenv("LAMBDA_TRACER_REDACT_KEYS", "ssn")
    masked = capture.response_metadata(value, redaction.from_setting(["ssn"]), 16384)
    assert masked[0] == {"ssn": REDACTED}
    assert capture.recorded_response(value) == masked


def test_a_response_changed_by_another_thread_while_it_is_judged_is_not_looked_up_as_what_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A response another thread changes between ``marshal`` and the encoder: the text is the changed value's, and it
    is never kept for the bytes of the value as it was. Before, every later response equal to the value as it was
    (``{"status": "pending"}``) was recorded as the changed one's text (``{"status":"done"}``), for the sandbox's
    life."""
    monkeypatch.delenv("LAMBDA_TRACER_REDACT_KEYS", raising=False)
    monkeypatch.delenv("LAMBDA_TRACER_MAX_CAPTURE_BYTES", raising=False)
    monkeypatch.setattr(capture, "_known_responses", {})
    value = {"status": "pending"}
    recorded = changed_at_call(
        capture_json._within_json.__code__,
        lambda: value.update(status="done"),
        lambda: capture.recorded_response(value),
    )
    assert recorded == ({"status": "done"}, '{"status":"done"}')
    assert capture.recorded_response({"status": "pending"}) == ({"status": "pending"}, '{"status":"pending"}')


def test_a_value_under_a_plain_key_is_recorded_as_it_is() -> None:
    """A key that names nothing secret changes nothing: the value is recorded as it would be without one (an integer
    past 2**53 stays a number, as the converter would not keep it)."""
    value = {"n": 2**60, "a": [1, "b"]}
    assert meta(value, key="result") == meta(value) == value
    assert meta(2**60, key="result") == meta(2**60) == 2**60
    assert meta(2**60, key="password") == R


def test_cookie_values_masked_whole_count_as_what_they_write() -> None:
    """Values under cookie names that are not text are masked whole; 30 of them (741 bytes of JSON) fit 1,024 bytes
    and are recorded, none left out for the size of what they were."""
    value = {f"cookie_{n}": n for n in range(30)}
    expected = {key: R for key in value}
    assert len(json.dumps(expected, separators=(",", ":"))) == 741
    assert meta(value, 1024) == expected


class _Nested(int, enum.Enum):
    """An int Enum whose members' values are lists nested as deep as the member says."""

    def __new__(cls, levels: int) -> _Nested:
        member = int.__new__(cls, levels)
        member._value_ = _nested_list(levels, 0)
        return member

    DEEP = 40


def test_a_value_is_looked_at_as_deep_under_a_key_or_as_an_error_attribute() -> None:
    """An Enum member is recorded as its value, walked to the same depth wherever it is met: under a key that names
    a count (the member is an int) as under any other, and as an attribute of an error (where a dict holding it would
    have it)."""
    expected = json.loads("[" * 32 + '"<too deep>"' + "]" * 32)
    assert meta(_Nested.DEEP) == expected
    assert meta(_Nested.DEEP, key="total_tokens") == expected
    assert meta({"total_tokens": _Nested.DEEP, "n": _Nested.DEEP}) == {"total_tokens": expected[0], "n": expected[0]}
    error = ValueError("boom")
    error.level = _Nested.DEEP  # type: ignore[attr-defined]
    assert meta({"level": _Nested.DEEP}) == {"level": expected[0]}
    assert capture_convert.error_metadata(error, Policy(), 16384)["attributes"] == {"level": expected[0]}


def test_the_responses_looked_up_are_few_and_small(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAMBDA_TRACER_REDACT_KEYS", raising=False)
    monkeypatch.delenv("LAMBDA_TRACER_MAX_CAPTURE_BYTES", raising=False)
    monkeypatch.setattr(capture, "_known_responses", {})
    for n in range(capture._KNOWN_RESPONSES + 10):
        assert capture.recorded_response({"n": n}) == ({"n": n}, f'{{"n":{n}}}')
    big = {"k": ["v" * 100] * 20}  # each string short, the whole over the size looked up
    assert capture.recorded_response(big) == capture.response_metadata(big, Policy(), 16384)
    assert len(capture._known_responses) == capture._KNOWN_RESPONSES
    assert all(len(packed) <= capture._KNOWN_BYTES for packed in capture._known_responses)
    monkeypatch.setattr(capture, "_known_responses", {})
    capture.recorded_response({str(n): n for n in range(17)})  # more items than are looked up
    capture.recorded_response({"t": "x" * 1025})  # a text longer than is looked up (not even marshalled)
    capture.recorded_response({"t": "x" * 1015})  # its marshal bytes are 1,025
    assert capture._known_responses == {}
    capture.recorded_response({str(n): n for n in range(16)})
    capture.recorded_response({"t": "x" * 1014})  # 1,024 bytes
    assert len(capture._known_responses) == 2


def test_a_value_whose_json_is_exactly_the_limit_is_recorded_as_it_is() -> None:
    value = [2**60, "a"]
    size = len(json.dumps(value, separators=(",", ":")))
    value[1] = "a" * (100 - size + 1)
    assert len(json.dumps(value, separators=(",", ":"))) == 100
    assert capture.to_metadata(value, Policy(), 100) == value  # as it is: the big integer stays a number
    assert capture.to_metadata(value, Policy(), 99) != value


_AROUND_THE_CUT = [
    "AKIAABCDEFGHIJKLMNOP",
    "https://user:pw-" + "x" * 480 + "@host/",
    "//" + "u" * 500 + "@h",
    "password=hunter2 ",
    "Authorization: Bearer abcdefghijk ",
    "eyJhbGciOi.eyJzdWIiOi.c2ln ",
    "-----BEGIN PRIVATE KEY-----abc",
    "ghp_" + "a" * 36,
    "hooks.slack.com/services/" + "T" * 30,
    '"api_key": "k3y", ',
]


@pytest.mark.parametrize("seed", range(40))
def test_a_cut_text_is_masked_as_its_whole_window_would_be(seed: int) -> None:
    """Of a text longer than its window only the first ``limit`` characters are kept: the gate looks at them and
    ``_GATE_REACH`` past them, and what is kept is what masking the whole window and cutting it would keep."""
    rng = random.Random(seed)
    limit = rng.choice([200, 1000])
    text = list("ab cd-ef/gh" * 600)
    for _ in range(rng.randint(1, 3)):
        secret = rng.choice(_AROUND_THE_CUT)
        at = limit + rng.randint(-len(secret), capture_convert._GATE_REACH + 50)
        text[at : at + len(secret)] = secret
    joined = "".join(text)
    assert len(joined) > limit + capture.MASK_MARGIN
    expected = Policy().mask_text(joined[: limit + capture.MASK_MARGIN])[:limit]
    assert capture_convert._Converter(Policy(), limit)._text(joined) == expected


def test_a_secret_straddling_the_cut_is_masked_from_its_start() -> None:
    text = "x" * 97 + " AKIAABCDEFGHIJKLMNOP" + "y" * 10_000  # the token's prefix straddles the cut at 100
    assert capture_convert._Converter(Policy(), 100)._text(text) == "x" * 97 + " " + R[:2]
    text = "x" * 85 + " https://u:" + "p" * 500 + "@h" + "y" * 10_000  # the @ is 500 characters past the cut
    assert capture_convert._Converter(Policy(), 100)._text(text) == "x" * 85 + " https://u:" + R[:4]


def test_a_response_with_del_is_not_spliced() -> None:
    value = {"text": "del \x7f"}
    data, text = capture.response_metadata(value, Policy(), 16384)
    assert data is value and text is None  # the document writes \u007f where the capture's text has it raw
    assert capture.response_metadata({"text": "plain"}, Policy(), 16384)[1] == '{"text":"plain"}'
