"""The OpenTelemetry API under our provider (lambda_tracer/otel.py), in process: spans nest both ways, the OTel
context and our span stack agree, attributes land where X-Ray reads them, redacted, and propagate.inject writes
our headers. Scenarios that need a fresh process (a user's own provider, what a cold start imports) run in one."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lambda_env import invoke
from lambda_tracer import Tracer
from lambda_tracer.instrumentation import propagation
from lambda_tracer_local.daemon import subsegments

ROOT = Path(__file__).resolve().parents[2]

# The bridge is installed by the first Tracer (its install registers the import hooks) once opentelemetry.trace is
# imported (either order).
_tracer = Tracer(service="svc")
from opentelemetry import context as otel_context  # noqa: E402
from opentelemetry import propagate, trace  # noqa: E402
from opentelemetry.trace import SpanKind, Status, StatusCode  # noqa: E402

from lambda_tracer import otel  # noqa: E402

pytestmark = pytest.mark.usefixtures("memory_sender")  # what was sent, read in memory (tests/memory_sender.py)

otel_tracer = trace.get_tracer("tests.otel")


def _by_name(call: Any) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in subsegments(call.documents)}


def _hex_ids(span: trace.Span) -> tuple[str, str]:
    span_context = span.get_span_context()
    return f"{span_context.trace_id:032x}", f"{span_context.span_id:016x}"


def test_spans_nest_both_ways_and_get_current_span_has_our_ids() -> None:
    seen: dict[str, Any] = {}

    @_tracer.capture_method
    def ours_inside() -> None:
        seen["inner"] = _hex_ids(trace.get_current_span())

    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> str:
        seen["handler"] = _hex_ids(trace.get_current_span())
        with otel_tracer.start_as_current_span("otel-outer") as outer:
            seen["outer"] = _hex_ids(outer)
            assert trace.get_current_span() is outer
            ours_inside()
            with otel_tracer.start_as_current_span("otel-inner"):
                pass
            assert trace.get_current_span() is outer
        seen["after"] = _hex_ids(trace.get_current_span())
        return "ok"

    call = invoke(handler, expect=4)
    assert call.result == "ok", call.error
    docs = _by_name(call)
    handler_doc, outer, inner = docs["## handler"], docs["otel-outer"], docs["otel-inner"]
    method = next(d for name, d in docs.items() if name.endswith("ours_inside"))
    assert outer["parent_id"] == handler_doc["id"]
    assert method["parent_id"] == outer["id"] and inner["parent_id"] == outer["id"]
    digits = call.trace_id.replace("-", "")[1:]
    assert seen["handler"] == (digits, handler_doc["id"]) == seen["after"]
    assert seen["outer"] == (digits, outer["id"])
    assert seen["inner"] == (digits, method["id"])
    assert outer["namespace"] == "local"


def test_start_span_is_not_current_and_use_span_makes_it_so() -> None:
    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> list[bool]:
        span = otel_tracer.start_span("detached")
        not_current = trace.get_current_span() is not span
        with trace.use_span(span, end_on_exit=True):
            current = trace.get_current_span() is span
            with otel_tracer.start_as_current_span("child"):
                pass
        return [not_current, current, span.is_recording()]

    call = invoke(handler, expect=3)
    assert call.result == [True, True, False]
    docs = _by_name(call)
    assert docs["child"]["parent_id"] == docs["detached"]["id"]
    assert docs["detached"]["parent_id"] == docs["## handler"]["id"]


def test_annotations_set_through_otel_on_the_handler_span_are_in_its_document() -> None:
    """The handler's own annotations are written once for all warm invocations; one added or written again
    through the OTel API is in the document too."""

    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        entry = trace.get_current_span().entry  # type: ignore[attr-defined]  (ours: the handler's XRaySpan)
        otel.record_attributes(
            entry, {"order_id": "o-1", "Service": "renamed", otel.ANNOTATIONS_KEY: ["order_id", "Service"]}
        )

    for _ in range(2):  # the first invocation and a warm one
        annotations = _by_name(invoke(handler, expect=1))["## handler"]["annotations"]
        assert annotations["order_id"] == "o-1" and annotations["Service"] == "renamed"


def test_attributes_events_status_and_exceptions_as_xray_records_them() -> None:
    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        with otel_tracer.start_as_current_span(
            "db call", kind=SpanKind.CLIENT, attributes={"db.system": "postgresql", "db.name": "orders"}
        ) as span:
            span.set_attribute("db.statement", "select * from t where password='hunter2'")
            span.set_attributes({"order_id": "o-1", "retries": 2, "tags": ("a", "b"), "password": "hunter2"})
            span.set_attribute(otel.ANNOTATIONS_KEY, ["order_id", "retries"])
            span.set_attribute("bad", {"not": "allowed"})  # type: ignore[arg-type]
            span.set_attribute("nested", [{"not": "allowed"}, ["either"]])  # type: ignore[list-item]
            span.set_attribute("with none", ["a", None])
            span.add_event("cache miss", {"key": "k1"})
            span.update_name("renamed")
        with otel_tracer.start_as_current_span("fails"):
            raise ValueError("login failed: password=hunter2")

    call = invoke(handler, expect=3)
    assert isinstance(call.error, ValueError)
    docs = _by_name(call)
    db = docs["renamed"]
    assert db["namespace"] == "remote"
    assert db["annotations"] == {"order_id": "o-1", "retries": 2}
    assert db["sql"]["database_type"] == "postgresql" and db["sql"]["url"] == "orders"
    assert "hunter2" not in json.dumps(db)
    metadata = db["metadata"]["default"]
    assert metadata["tags"] == ["a", "b"] and metadata["db.system"] == "postgresql"
    assert metadata["password"] != "hunter2"
    assert "bad" not in metadata and "nested" not in metadata  # not OTel attribute types: dropped
    assert metadata["with none"] == ["a", None]
    assert [event["name"] for event in metadata["events"]] == ["cache miss"]
    failed = docs["fails"]
    assert failed["fault"] is True and failed["cause"]["exceptions"][0]["type"] == "ValueError"
    assert "hunter2" not in json.dumps(failed)


#: Explicit start times (nanoseconds): a float (as time.time() * 1e9 gives one), kept; then values that cannot be a
#: span's start: seconds, before 2000, after the span began, a bool, NaN.
ODD_START_TIMES = [1.7e18, 1.5, 1_700_000_000, -5, 10**30, True, float("nan")]


@pytest.mark.parametrize("start_time", ODD_START_TIMES)
def test_an_explicit_start_time_is_kept_only_when_it_can_be_the_start(start_time: Any) -> None:
    """A start time the API was given is kept when it is a time between 2000 and the span's start (a float too);
    any other is not (the span starts when it was started): the document stays valid (start before end, epoch
    seconds) and the function is unaffected."""

    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> str:
        before = time.time()
        with otel_tracer.start_as_current_span("timed", start_time=start_time):
            pass
        return str(before)

    call = invoke(handler, expect=2)
    assert call.error is None
    timed = _by_name(call)["timed"]
    if isinstance(start_time, float) and start_time > 1e18:
        assert timed["start_time"] == pytest.approx(start_time / 1e9, abs=1e-5)
    else:
        assert float(call.result) - 0.001 <= timed["start_time"] <= timed["end_time"]


#: Event timestamps that are numbers but no time from 2000 on: inf, NaN, negative, seconds, a bool, beyond int64.
ODD_EVENT_TIMES = [float("inf"), float("nan"), -5, -1e30, 1.5, True, 1 << 64]


def test_an_event_with_a_timestamp_not_a_number_is_recorded_at_the_time_it_was_added() -> None:
    """``add_event`` with a timestamp that is not nanoseconds (a datetime, text) raised TypeError into the function
    on a span started through the API (OpenTelemetry's SDK takes it without raising): the event is recorded with the
    time it was added, as without a timestamp, on our spans seen through the API too. So is one that is a number but
    no time from 2000 on (``ODD_EVENT_TIMES``), which was recorded as given ("inf", "nan", 1970) and sent in otlp
    mode at time 0."""

    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> float:
        before = time.time()
        with otel_tracer.start_as_current_span("evented") as span:
            span.add_event("when", timestamp=datetime.datetime.now(tz=datetime.timezone.utc))  # type: ignore[arg-type]
            span.add_event("text", timestamp="soon")  # type: ignore[arg-type]
            for odd in ODD_EVENT_TIMES:  # numbers that cannot be an event's time
                span.add_event("odd", timestamp=odd)  # type: ignore[arg-type]
        trace.get_current_span().add_event("ours", timestamp="soon")  # type: ignore[arg-type]
        trace.get_current_span().add_event("ours inf", timestamp=float("inf"))  # type: ignore[arg-type]
        return before

    call = invoke(handler, expect=2)
    assert call.error is None
    docs = _by_name(call)
    for name, events in (
        ("evented", ["when", "text"] + ["odd"] * len(ODD_EVENT_TIMES)),
        ("## handler", ["ours", "ours inf"]),
    ):
        recorded = docs[name]["metadata"]["default"]["events"]
        assert [event["name"] for event in recorded] == events
        assert all(call.result <= event["timestamp"] <= docs[name]["end_time"] for event in recorded)


def test_span_names_given_through_the_api_are_masked() -> None:
    """A span named after a URL (``GET https://h/x?token=…``) is masked as the escape hatch's names are, before
    X-Ray's rejected characters are cut (``?`` gone, ``xtoken=`` would no longer read as a query)."""

    @_tracer.capture_method
    def ours() -> None:
        trace.get_current_span().update_name("GET https://h/ours?api_key=k-ours-77")

    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        with otel_tracer.start_as_current_span("GET https://ann:pw-started@h/x?token=t-started-77"):
            pass
        with otel_tracer.start_as_current_span("plain") as span:
            span.update_name("POST /login?password=pw-renamed-77")
        ours()

    call = invoke(handler, expect=4)
    names = sorted(doc["name"] for doc in subsegments(call.documents))
    assert names == [
        "## handler",
        "GET https://ann:[REDACTED]@h/xtoken=[REDACTED]",
        "GET https://h/oursapi_key=[REDACTED]",
        "POST /loginpassword=[REDACTED]",
    ]


def test_a_url_whose_password_holds_a_question_mark_is_masked_before_its_query_is_cut() -> None:
    """``url.full`` with credentials whose password holds ``?`` or ``#``: cut at it first, the ``@`` was gone and the
    user and the password's start were recorded (``https://app:pw-q`` of ``https://app:pw-q?77@h/x``)."""
    urls = ["https://app:pw-q?77@h/x?token=t-77", "mysql://app:pw-h#77@db/x", "https://h?to=ann@example.com"]

    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        for index, url in enumerate(urls):
            attributes = {"http.request.method": "GET", "url.full": url}
            with otel_tracer.start_as_current_span(f"call {index}", kind=SpanKind.CLIENT, attributes=attributes):
                pass

    call = invoke(handler, expect=4)
    recorded = [_by_name(call)[f"call {index}"]["http"]["request"]["url"] for index in range(3)]
    assert recorded == ["https://app:[REDACTED]@h/x", "mysql://app:[REDACTED]@db/x", "https://h"]


def test_a_urls_query_and_fragment_are_not_kept_beside_the_http_block() -> None:
    """``url.full`` on a CLIENT or SERVER span is the ``http`` block's URL, recorded without its query string and
    fragment (they hold tokens under any name: ``?t=`` of a magic link), and was also kept whole as ``default``
    metadata (and in ``otlp`` mode sent whole as the ``url.full`` attribute). Without a method it is only metadata."""
    url = "https://api.example.com/v1/login?t=magic-77&lang=en#state=st-77"

    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        for kind in (SpanKind.CLIENT, SpanKind.SERVER):
            for key in ("url.full", "http.url"):
                attributes = {"http.request.method": "GET", key: url, "order_id": "o-1"}
                with otel_tracer.start_as_current_span(f"{kind.name} {key}", kind=kind, attributes=attributes):
                    pass
        with otel_tracer.start_as_current_span("no method", kind=SpanKind.CLIENT, attributes={"url.full": "u"}):
            pass

    call = invoke(handler, expect=6)
    docs = _by_name(call)
    for kind in ("CLIENT", "SERVER"):
        for key in ("url.full", "http.url"):
            doc = docs[f"{kind} {key}"]
            assert doc["http"]["request"] == {"method": "GET", "url": "https://api.example.com/v1/login"}
            assert doc["metadata"]["default"] == {"http.request.method": "GET", "order_id": "o-1"}
    assert docs["no method"]["metadata"]["default"] == {"url.full": "u"}
    sent = json.dumps(call.documents)  # the values themselves: a trace id may hold "-77" (once in 256 runs)
    assert "magic-77" not in sent and "st-77" not in sent


def test_a_request_query_string_in_url_query_or_http_target_has_every_value_masked() -> None:
    """``url.query`` and ``http.target`` (the path and query OpenTelemetry's server instrumentations record: Flask,
    ASGI behind Mangum) follow the query-string rule, as ``rawQueryString`` does: every value masked, names kept, the
    path kept. Only secret-named parameters' values were (``?t=`` of a magic link was recorded)."""
    attributes = {
        "http.method": "GET",
        "http.target": "/v1/login?t=magic-77&lang=en",
        "url.path": "/v1/login",
        "url.query": "t=magic-77&lang=en&flag",
    }

    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        for kind in (SpanKind.SERVER, SpanKind.CLIENT, SpanKind.INTERNAL):
            with otel_tracer.start_as_current_span(f"{kind.name} request", kind=kind, attributes=attributes):
                pass
        with otel_tracer.start_as_current_span("set one by one") as span:
            span.set_attribute("http.target", "/x?code=c-77")
            span.set_attribute("url.query", "state=s-77")
            span.set_attribute("http.target", "/plain/path")

    call = invoke(handler, expect=5)
    docs = _by_name(call)
    for kind in ("SERVER", "CLIENT", "INTERNAL"):
        recorded = docs[f"{kind} request"]["metadata"]["default"]
        assert recorded["http.target"] == "/v1/login?t=[REDACTED]&lang=[REDACTED]"
        assert recorded["url.query"] == "t=[REDACTED]&lang=[REDACTED]&[REDACTED]"
        assert recorded["url.path"] == "/v1/login"
    assert docs["set one by one"]["metadata"]["default"] == {
        "http.target": "/plain/path",
        "url.query": "state=[REDACTED]",
    }
    sent = json.dumps(call.documents)  # the values themselves: a trace id may hold "-77" (once in 256 runs)
    assert not any(value in sent for value in ("magic-77", "=c-77", "s-77"))


def test_sql_statements_that_set_a_password_are_masked() -> None:
    """DDL takes no bind parameters: ``CREATE USER … PASSWORD 'x'`` holds the password as a literal, and a database
    instrumentation records the statement (``db.statement``, X-Ray's ``sanitized_query``)."""
    statements = [
        "CREATE ROLE app LOGIN PASSWORD 'pw-role-77' VALID UNTIL 'infinity'",
        "ALTER USER 'app'@'%' IDENTIFIED BY 'pw-mysql-77'",
        "ALTER USER app IDENTIFIED BY pw_oracle_77 ACCOUNT UNLOCK",
        "CREATE USER 'app'@'%' IDENTIFIED WITH caching_sha2_password BY 'pw-plugin-77'",  # MySQL 8's own form
        "ALTER USER app IDENTIFIED WITH 'mysql_native_password' BY 'pw-plugin-78' PASSWORD EXPIRE NEVER",
        "SET PASSWORD FOR 'app'@'%' = 'pw-set-77' REPLACE 'pw-old-77'",
        "PRAGMA key = \"x'pw-hex-77'\"",
        "SELECT AES_DECRYPT(body, 'pw-aes-77') FROM t",
    ]

    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        for index, statement in enumerate(statements):
            attributes = {"db.system": "postgresql", "db.statement": statement}
            with otel_tracer.start_as_current_span(f"db {index}", kind=SpanKind.CLIENT, attributes=attributes):
                pass

    call = invoke(handler, expect=len(statements) + 1)
    assert [_by_name(call)[f"db {index}"]["sql"]["sanitized_query"] for index in range(len(statements))] == [
        "CREATE ROLE app LOGIN PASSWORD '[REDACTED]' VALID UNTIL 'infinity'",
        "ALTER USER 'app'@'%' IDENTIFIED BY '[REDACTED]'",
        "ALTER USER app IDENTIFIED BY [REDACTED] ACCOUNT UNLOCK",
        "CREATE USER 'app'@'%' IDENTIFIED WITH caching_sha2_password BY '[REDACTED]'",
        "ALTER USER app IDENTIFIED WITH 'mysql_native_password' BY '[REDACTED]' PASSWORD EXPIRE NEVER",
        "SET PASSWORD FOR 'app'@'%' = '[REDACTED]' REPLACE '[REDACTED]'",
        'PRAGMA key = "[REDACTED]"',
        "SELECT AES_DECRYPT(body, '[REDACTED]') FROM t",
    ]
    sent = json.dumps(call.documents)
    assert "pw-" not in sent and "pw_oracle_77" not in sent


def test_the_parameters_a_failed_sqlalchemy_statement_quotes_are_not_recorded() -> None:
    """SQLAlchemy's errors quote the statement's bind values by position (``[parameters: ('ann', 'pw')]``): a
    password inserted into a column named ``password`` was recorded with the message, where no name says what it is
    (on the span that recorded the exception, as the handler's error, in either exporter). The caller's exception is
    left as it was. (requirements/dev.txt has SQLAlchemy; the other Pythons' and the mutation venvs,
    requirements/unit.txt, do not: skipped there.)"""
    sqlalchemy = pytest.importorskip("sqlalchemy")

    engine = sqlalchemy.create_engine("sqlite://")
    users = sqlalchemy.Table(
        "users",
        sqlalchemy.MetaData(),
        sqlalchemy.Column("email", sqlalchemy.Text, unique=True),
        sqlalchemy.Column("password", sqlalchemy.Text),
    )
    users.metadata.create_all(engine)

    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        for password in ("pw-sqla-76", "pw-sqla-77"):
            with otel_tracer.start_as_current_span("insert"), engine.begin() as connection:
                connection.execute(users.insert(), {"email": "ann@example.com", "password": password})

    call = invoke(handler, expect=3)
    assert isinstance(call.error, sqlalchemy.exc.IntegrityError) and "pw-sqla-77" in str(call.error)
    message = (
        "(sqlite3.IntegrityError) UNIQUE constraint failed: users.email\n"
        "[SQL: INSERT INTO users (email, password) VALUES (?, ?)]\n[parameters: [REDACTED]]\n"
        "(Background on this error at: https://sqlalche.me/e/20/gkpj)"
    )
    [failed] = [doc for doc in subsegments(call.documents) if doc["name"] == "insert" and "cause" in doc]
    assert failed["cause"]["exceptions"][0]["message"] == message
    assert _by_name(call)["## handler"]["metadata"]["svc"]["handler error"]["message"] == message
    assert "pw-sqla" not in json.dumps(call.documents)


def test_a_long_sql_statement_is_masked_before_it_is_cut() -> None:
    """``db.statement`` and ``db.name`` are cut to 2,048 characters: masked first, so that a secret across the cut is
    masked whole (cut first, ``https://ann:pw@h`` lost its ``@`` and ``AKIA…`` its last characters, and both were
    recorded as they were)."""
    pad = "x" * (2048 - len("INSERT INTO t VALUES ('', 'https://ann:pw-cut-77"))
    statement = f"INSERT INTO t VALUES ('{pad}', 'https://ann:pw-cut-77@h/x')"
    name = "d" * (2048 - 15) + " AKIAIOSFODNN7EXAMPLE"

    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        attributes = {"db.system": "postgresql", "db.statement": statement, "db.name": name}
        with otel_tracer.start_as_current_span("db long", kind=SpanKind.CLIENT, attributes=attributes):
            pass

    call = invoke(handler, expect=2)
    sql = _by_name(call)["db long"]["sql"]
    assert sql["sanitized_query"] == f"INSERT INTO t VALUES ('{pad}', 'https://ann:[REDACTED]"[:2048]
    assert sql["url"] == "d" * (2048 - 15) + " [REDACTED]"
    sent = json.dumps(call.documents)
    assert "pw-cut" not in sent and "AKIAIOSFODNN" not in sent


def test_attribute_keys_are_masked_as_put_metadata_keys_are() -> None:
    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        with otel_tracer.start_as_current_span("fetch") as span:
            span.set_attribute("https://ann:pw-key-77@h/x", 1)
            span.set_attribute("retries", 2)

    call = invoke(handler, expect=2)
    assert _by_name(call)["fetch"]["metadata"]["default"] == {"https://ann:[REDACTED]@h/x": "[REDACTED]", "retries": 2}
    assert "pw-key-77" not in json.dumps(call.documents)


def test_setting_attributes_on_our_own_span_through_the_api() -> None:
    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        span = trace.get_current_span()
        span.set_attribute("customer", "c-9")
        span.add_event("checkpoint")
        span.set_status(Status(StatusCode.ERROR))

    call = invoke(handler, expect=1)
    [doc] = subsegments(call.documents)
    assert doc["metadata"]["default"]["customer"] == "c-9"
    assert [event["name"] for event in doc["metadata"]["default"]["events"]] == ["checkpoint"]
    assert doc["fault"] is True


@pytest.mark.parametrize("list_first", [True, False])
@pytest.mark.parametrize("span_kind", ["handler", "method", "api"])
def test_a_key_listed_in_another_set_attribute_call_is_an_annotation(
    list_first: bool, span_kind: str, annotation_listed_in_another_call: Callable[..., Any]
) -> None:
    """``aws.xray.annotations`` and the key it lists set in two ``set_attribute`` calls, in either order: the key is
    an annotation, not metadata (docs/opentelemetry.md's table), on our own spans too (the handler's, shared between
    warm invocations, and a ``capture_method``'s). On ours each call was recorded alone, so the list, alone in its
    call, never made one; a key set before the list stayed metadata."""
    handler = annotation_listed_in_another_call(_tracer, otel_tracer, span_kind, list_first)
    for _ in range(2):  # the first invocation and a warm one (the handler's annotations are shared until written)
        call = invoke(handler, expect=1 if span_kind == "handler" else 2)
        docs = _by_name(call)
        [doc] = [d for name, d in docs.items() if (name == "## handler") == (span_kind == "handler")]
        assert doc["annotations"]["order_id"] == "o-1"
        assert doc["metadata"]["default"] == {"other": 2}
        assert "order_id" not in docs["## handler"]["annotations"] or span_kind == "handler"


def test_an_annotation_is_judged_by_its_key_as_given_not_as_x_ray_spells_it() -> None:
    """A key listed in ``aws.xray.annotations`` becomes ``[A-Za-z0-9_]``: every character of ``password`` in fullwidth
    letters (as a Japanese input method types it) or in mathematical bold is a ``_``, and the value, masked as
    metadata under the same key, was recorded as it was under ``________``. A number under a ``…tokens`` key is a
    count, kept as before."""
    keys = [
        "\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44",
        "\U0001d429\U0001d41a\U0001d42c\U0001d42c\U0001d430\U0001d428\U0001d42b\U0001d41d",
    ]

    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        trace.get_current_span().set_attributes({otel.ANNOTATIONS_KEY: keys[0], keys[0]: "pw-annotated-77"})
        with otel_tracer.start_as_current_span("api") as span:
            span.set_attributes({otel.ANNOTATIONS_KEY: [*keys, "max.tokens"], "max.tokens": 512})
            span.set_attributes({key: "pw-annotated-78" for key in keys})
        with otel_tracer.start_as_current_span("metadata") as span:
            span.set_attributes({key: "pw-metadata-77" for key in keys})

    call = invoke(handler, expect=3)
    docs = _by_name(call)
    assert docs["api"]["annotations"] == {"________": "[REDACTED]", "max_tokens": 512}
    assert docs["## handler"]["annotations"]["________"] == "[REDACTED]"
    assert set(docs["metadata"]["metadata"]["default"].values()) == {"[REDACTED]"}
    assert "pw-" not in json.dumps(call.documents)


@pytest.mark.parametrize("attribute_first", [True, False])
def test_an_attribute_named_events_gives_way_to_the_spans_events(attribute_first: bool) -> None:
    """``default.events`` is where a span's events go (docs/opentelemetry.md): an attribute of that name on a span
    with events gives way to them, in either order, and the events are never merged into its list."""

    def record(span: trace.Span) -> None:
        steps = [lambda: span.set_attribute("events", ["a", "b"]), lambda: span.add_event("step", {"n": 1})]
        for step in steps if attribute_first else steps[::-1]:
            step()

    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        record(trace.get_current_span())
        with otel_tracer.start_as_current_span("api") as span:
            record(span)

    docs = _by_name(invoke(handler, expect=2))
    for name in ("## handler", "api"):
        recorded = docs[name]["metadata"]["default"]["events"]
        assert [(event["name"], event["attributes"]) for event in recorded] == [("step", {"n": 1})], name


def test_no_spans_and_no_headers_without_a_sampled_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5f000000-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=0")
    with otel_tracer.start_as_current_span("unsampled") as span:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
    assert not span.is_recording() and carrier == {}


def test_spans_of_an_unsampled_invocation_carry_its_trace_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a sampled trace a span is non-recording and carries the invocation's context (its Root as trace id,
    not sampled), as the SDK's would under a not-sampled parent (docs/opentelemetry.md): its ids are what logs
    correlate on, and most invocations are not sampled. It carried the invalid context (trace id 0) instead."""
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5f000000-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=0")

    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> tuple[Any, dict[str, str]]:
        with otel_tracer.start_as_current_span("unsampled") as span:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            return span, carrier

    span, carrier = handler({}, None)
    span_context = span.get_span_context()
    assert not span.is_recording() and carrier == {}
    assert f"{span_context.trace_id:032x}" == "5f0000000123456789abcdef01234567"
    assert span_context.is_valid and not span_context.trace_flags.sampled


def test_inject_writes_our_headers_and_extract_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(propagation.PROPAGATORS_ENV, "xray,tracecontext")

    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> Any:
        with otel_tracer.start_as_current_span("call"):
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            return carrier

    call = invoke(handler, expect=2)
    span = _by_name(call)["call"]
    digits = call.trace_id.replace("-", "")[1:]
    assert call.result == {
        "X-Amzn-Trace-Id": f"Root={call.trace_id};Parent={span['id']};Sampled=1",
        "traceparent": f"00-{digits}-{span['id']}-01",
    }
    extracted = trace.get_current_span(propagate.extract({"X-Amzn-Trace-Id": call.result["X-Amzn-Trace-Id"]}))
    assert _hex_ids(extracted) == (digits, span["id"]) and extracted.get_span_context().is_remote
    monkeypatch.setenv(propagation.PROPAGATORS_ENV, "xray")
    call = invoke(handler, expect=2)
    assert list(call.result) == ["X-Amzn-Trace-Id"]


@pytest.mark.parametrize(
    "header",
    [
        "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=1",
        "Root=1-5f000000-0123456789abcdef01234567;Parent=0000000000000000;Sampled=1",
    ],
)
def test_extract_keeps_the_context_given_for_an_xray_header_with_zero_ids(header: str) -> None:
    """An ``X-Amzn-Trace-Id`` whose ids are all zeros names no span: ``extract`` leaves the context it was given, as
    for a header it cannot read (it put an invalid span over the context's own)."""
    given = trace.set_span_in_context(trace.NonRecordingSpan(trace.SpanContext(0x5F, 0x7, is_remote=True)))
    extracted = trace.get_current_span(propagate.extract({"X-Amzn-Trace-Id": header}, given))
    assert extracted.get_span_context().span_id == 0x7


def test_contexts_carried_to_a_thread_keep_the_parent() -> None:
    import threading

    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        with otel_tracer.start_as_current_span("outer"):
            carried = otel_context.get_current()

            def work() -> None:
                token = otel_context.attach(carried)
                try:
                    with otel_tracer.start_as_current_span("in thread"):
                        pass
                finally:
                    otel_context.detach(token)

            thread = threading.Thread(target=work)
            thread.start()
            thread.join()

    call = invoke(handler, expect=3)
    docs = _by_name(call)
    assert docs["in thread"]["parent_id"] == docs["outer"]["id"]


def _run(code: str, **env: str) -> Any:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "LAMBDA_TRACER", "_X_AMZN"))}
    base.update(LAMBDA_TASK_ROOT="/tmp", PYTHONPATH=os.pathsep.join(str(ROOT / d) for d in ("layer", "local", "tests")))
    base.update(env)
    done = subprocess.run([sys.executable, "-c", code], env=base, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


USERS_PROVIDER = """
import json
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lambda_env import invoke
from lambda_tracer import Tracer
from lambda_tracer_local.daemon import subsegments

tracer = Tracer(service="svc")
early = trace.get_tracer("early")  # before the provider is set: must follow it
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

@tracer.capture_lambda_handler
def handler(event, context):
    with early.start_as_current_span("theirs") as span:
        inner = trace.get_current_span() is span
    return inner

call = invoke(handler, expect=1)
[ours] = subsegments(call.documents)
[theirs] = exporter.get_finished_spans()
print(json.dumps({
    "kept": trace.get_tracer_provider() is provider, "inner": call.result, "ours": ours["name"],
    "their_parent": format(theirs.parent.span_id, "016x"), "our_id": ours["id"],
    "their_trace": format(theirs.context.trace_id, "032x"), "our_trace": call.trace_id.replace("-", "")[1:],
}))
"""


def test_a_provider_the_user_sets_is_kept_and_joins_our_trace() -> None:
    found = _run(USERS_PROVIDER)
    assert found["kept"] and found["inner"] and found["ours"] == "## handler"
    assert found["their_parent"] == found["our_id"] and found["their_trace"] == found["our_trace"]


USERS_EXPORTER = """
import json
from typing import ClassVar

from http_stub import QuietHandler, serving
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from lambda_env import invoke
from lambda_tracer import Tracer
from lambda_tracer_local.daemon import subsegments


class Collector(QuietHandler):
    seen: ClassVar[list[dict[str, str]]] = []

    def do_POST(self):
        type(self).seen.append({name.lower(): value for name, value in self.headers.items()})
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.reply(200, b"{}")


tracer = Tracer(service="svc")
with serving(Collector) as port:
    class Exporter(SpanExporter):  # an exporter over HTTP, as OTLP/HTTP's: its calls run under suppress_instrumentation
        def export(self, spans):
            import requests

            requests.post(f"http://127.0.0.1:{port}/v1/traces", data=b"spans")
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Exporter()))
    trace.set_tracer_provider(provider)
    theirs = trace.get_tracer("theirs")

    @tracer.capture_lambda_handler
    def handler(event, context):
        with theirs.start_as_current_span("theirs"):
            pass
        import requests

        requests.post(f"http://127.0.0.1:{port}/ours", data=b"x")

    call = invoke(handler, expect=2)
print(json.dumps({
    "ours": sorted(doc["name"] for doc in subsegments(call.documents)),
    "headers": [sorted({"x-amzn-trace-id", "traceparent"} & set(headers)) for headers in Collector.seen],
}))
"""


def test_a_users_exporter_calls_are_not_traced() -> None:
    """OpenTelemetry's SDK exports under ``suppress_instrumentation`` (its span processors attach a context saying
    so): its own calls are traced by no instrumentation. Ours traced them, so a user's exporter over HTTP made a
    subsegment of our trace for every export, carrying our trace header."""
    found = _run(USERS_EXPORTER)
    assert found == {"ours": ["## handler", "127.0.0.1"], "headers": [[], ["x-amzn-trace-id"]]}, found


PROPAGATORS = """
import json, os
from lambda_tracer import Tracer

if os.environ.get("USERS_FIRST"):
    from opentelemetry import propagate
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    mine = TraceContextTextMapPropagator()
    propagate.set_global_textmap(mine)
Tracer(service="svc")
from opentelemetry import propagate

print(json.dumps({"ours": type(propagate.get_global_textmap()).__qualname__}))
"""


@pytest.mark.parametrize(
    ("env", "ours"),
    [
        ({}, True),
        ({"OTEL_PROPAGATORS": "tracecontext"}, False),  # the user chose
        ({"USERS_FIRST": "1"}, False),  # set in code before we were installed: kept
    ],
)
def test_propagate_uses_ours_unless_the_user_chose(env: dict[str, str], ours: bool) -> None:
    found = _run(PROPAGATORS, **env)
    assert (found["ours"] == "_propagator.<locals>.Propagator") is ours, found


def test_concurrent_tasks_each_nest_under_their_own_span() -> None:
    import asyncio

    @_tracer.capture_method
    async def step(n: int) -> str:
        await asyncio.sleep(0)
        return _hex_ids(trace.get_current_span())[1]

    @otel_tracer.start_as_current_span("decorated")
    async def decorated() -> str:
        return _hex_ids(trace.get_current_span())[1]

    async def task(n: int) -> list[str]:
        with otel_tracer.start_as_current_span(f"task {n}") as span:
            await asyncio.sleep(0)
            return [_hex_ids(span)[1], await step(n)]

    @_tracer.capture_lambda_handler
    async def handler(event: Any, context: Any) -> Any:
        return [*(await asyncio.gather(task(1), task(2))), await decorated()]

    call = invoke(lambda event, context: asyncio.run(handler(event, context)), expect=6)
    assert call.error is None, call.error
    docs = _by_name(call)
    handler_id = docs["## handler"]["id"]
    step_parents = sorted(d["parent_id"] for d in subsegments(call.documents) if d["name"].endswith("step"))
    assert step_parents == sorted([docs["task 1"]["id"], docs["task 2"]["id"]])
    assert docs["task 1"]["parent_id"] == docs["task 2"]["parent_id"] == handler_id
    assert docs["decorated"]["parent_id"] == handler_id and call.result[2] == docs["decorated"]["id"]


def test_a_context_kept_from_an_earlier_invocation_stays_out_of_the_next_one() -> None:
    kept: dict[str, Any] = {}

    @_tracer.capture_lambda_handler
    def first(event: Any, context: Any) -> None:
        kept["span"] = otel_tracer.start_span("left open")  # never ended: a bug in user code
        kept["context"] = trace.set_span_in_context(kept["span"])

    @_tracer.capture_lambda_handler
    def second(event: Any, context: Any) -> None:
        token = otel_context.attach(kept["context"])
        try:
            with otel_tracer.start_as_current_span("next"):
                pass
        finally:
            otel_context.detach(token)

    invoke(first, expect=1)
    call = invoke(second, expect=2)
    docs = _by_name(call)
    assert docs["next"]["parent_id"] == docs["## second"]["id"]
    assert docs["next"]["trace_id"] == call.trace_id


@pytest.mark.parametrize(("record_exception", "set_status_on_exception"), [(True, False), (False, True), (True, True)])
def test_only_an_error_status_makes_a_fault_as_in_opentelemetry(
    record_exception: bool, set_status_on_exception: bool
) -> None:
    """``record_exception`` records the exception; the status says whether the span failed (OpenTelemetry's rule,
    and X-Ray's translator's: a fault is status ERROR). ``set_status_on_exception=False`` (an exception the caller
    expects) made the span a fault anyway, and so did a caught exception recorded on the handler's span: X-Ray
    showed a function that returned normally as a fault."""

    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> str:
        try:
            with otel_tracer.start_as_current_span(
                "lookup", record_exception=record_exception, set_status_on_exception=set_status_on_exception
            ):
                raise KeyError("missing")
        except KeyError as error:
            trace.get_current_span().record_exception(error)  # caught, recorded, and the function carries on
        return "ok"

    call = invoke(handler, expect=2)
    assert call.result == "ok"
    docs = _by_name(call)
    lookup, handler_doc = docs["lookup"], docs["## handler"]
    assert lookup.get("fault", False) is set_status_on_exception
    assert ("cause" in lookup) is record_exception
    assert handler_doc.get("fault", False) is False
    assert "cause" in handler_doc  # (the exception's id when the span inside recorded it first)


def test_at_most_128_attributes_on_our_own_spans_too() -> None:
    """docs/opentelemetry.md: at most 128 attributes per span. On a span of ours (the handler's, seen through
    ``trace.get_current_span()``) every new key was recorded, however many: a loop setting one per item grew the
    document without bound. The first 128 keys are kept, and set again they still change."""

    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        span = trace.get_current_span()
        for index in range(300):
            span.set_attribute(f"item {index}", index)
        span.set_attribute("item 0", "again")

    [doc] = subsegments(invoke(handler, expect=1).documents)
    recorded = doc["metadata"]["default"]
    assert recorded == {"item 0": "again", **{f"item {index}": index for index in range(1, 128)}}


def test_a_span_ended_inside_its_block_stays_the_current_span_until_the_block_exits() -> None:
    """The SDK's ``end()`` leaves the context alone: ``use_span`` detaches it when the ``with`` exits, so what is
    started after ``end()`` inside the block is still the ended span's child (opentelemetry-sdk, trace/__init__.py,
    ``Span.end``; opentelemetry-api's ``use_span``). Ours dropped it from our stack at ``end()``: spans started after
    it went under the handler, and ``get_current_span()`` named the handler while the block was still open."""
    seen: dict[str, Any] = {}

    @_tracer.capture_method
    def ours_after() -> None:
        pass

    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        with otel_tracer.start_as_current_span("ended early") as span:
            span.end()
            seen["current"], seen["recording"] = trace.get_current_span() is span, span.is_recording()
            with otel_tracer.start_as_current_span("after end"):
                pass
            ours_after()
        seen["after block"] = _hex_ids(trace.get_current_span())[1]

    call = invoke(handler, expect=4)
    assert call.error is None, call.error
    sent = subsegments(call.documents)
    assert len(sent) == 4 and len({d["id"] for d in sent}) == 4  # each span once
    docs = _by_name(call)
    ended, after, method = docs["ended early"], docs["after end"], next(d for d in sent if d["name"].endswith("after"))
    assert seen["current"] and not seen["recording"]
    assert after["parent_id"] == method["parent_id"] == ended["id"]
    assert ended["parent_id"] == docs["## handler"]["id"] == seen["after block"]
    assert ended["end_time"] <= after["start_time"]  # ended when end() was called, not when the block exited


def test_contexts_detached_out_of_order_leave_our_open_spans_on_the_stack() -> None:
    """A context detached before one attached after it (OpenTelemetry resets the context to what it was before
    that one, and logs nothing for it) took every span opened inside it off our stack, our own still-running
    ``capture_method`` too: what that method opened next went under the handler, not under it."""

    @_tracer.capture_method
    def inner() -> None:
        with otel_tracer.start_as_current_span("otel inside"):
            pass

    @_tracer.capture_method
    def step(first: object) -> None:
        second_span = otel_tracer.start_span("second")
        second = otel_context.attach(trace.set_span_in_context(second_span))
        otel_context.detach(first)  # out of order: the first, attached before this method started
        otel_context.detach(second)
        second_span.end()
        inner()

    @_tracer.capture_method
    def later() -> None:
        pass

    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        first_span = otel_tracer.start_span("first")
        step(otel_context.attach(trace.set_span_in_context(first_span)))
        first_span.end()
        later()
        with otel_tracer.start_as_current_span("otel later"):
            pass

    for _ in range(2):  # and the next invocation: its own spans under its own handler
        call = invoke(handler, expect=8)
        assert call.error is None, call.error
        sent = subsegments(call.documents)
        docs = {d["name"].rsplit(".", 1)[-1]: d for d in sent}
        assert len(sent) == len(docs) == 8
        handler_id, step_id = docs["## handler"]["id"], docs["step"]["id"]
        assert docs["first"]["parent_id"] == handler_id and docs["step"]["parent_id"] == docs["first"]["id"]
        assert docs["second"]["parent_id"] == docs["inner"]["parent_id"] == step_id
        assert docs["otel inside"]["parent_id"] == docs["inner"]["id"]
        assert docs["later"]["parent_id"] == docs["otel later"]["parent_id"] == handler_id


def test_attributes_and_events_not_given_as_mappings_never_reach_the_function() -> None:
    """``set_attributes`` and ``add_event``'s attributes given as something else than a mapping (None, pairs, text)
    raised AttributeError, TypeError or ValueError into the function on a span started through the API (and
    ``set_attributes`` on ours): without a provider these calls do nothing. They are reported and dropped; the rest of
    the span is recorded."""
    odd: list[Any] = [None, [("order_id", "o-1")], "abc", [1, 2]]

    def misuse(span: trace.Span) -> list[Any]:
        results = [span.set_attributes(value) for value in odd]
        results += [span.add_event("odd", attributes=value) for value in odd]
        span.set_attribute("kept", 1)
        return results

    @_tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> list[Any]:
        with otel_tracer.start_as_current_span("api") as span:
            results = misuse(span)
        return results + misuse(trace.get_current_span())

    call = invoke(handler, expect=2)
    assert call.error is None, call.error
    assert call.result == misuse(trace.NoOpTracer().start_span("untraced")) * 2
    docs = _by_name(call)
    assert docs["api"]["metadata"]["default"]["kept"] == docs["## handler"]["metadata"]["default"]["kept"] == 1
