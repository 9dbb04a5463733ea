"""The ``otlp`` exporter end to end: the built layer, the real runtime client, each datagram decoded with
opentelemetry-proto and checked field by field."""

from __future__ import annotations

import json
from pathlib import Path

from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from lambda_tracer_local.runtime import ACCOUNT_ID, LocalLambda

from .otlp_support import OTLP_ENV, attributes, by_name, invoke, spans_of, trace_bytes
from .support import write_function

SERVICE = "payment"
ZERO_CODE = """
def handler(event, context):
    if "fail" in event:
        raise ValueError(f"boom {event['fail']}")
    return {"ok": event["n"], "request_id": context.aws_request_id}
"""
IN_CODE = """
from lambda_tracer import Tracer

tracer = Tracer()

@tracer.capture_method
def work(n):
    tracer.put_annotation("Customer", "c-42")
    tracer.put_metadata("order", {"n": n, "items": [1, 2.5, None, True]})
    return n * 2

@tracer.capture_lambda_handler
def handler(event, context):
    return {"doubled": work(event["n"])}
"""


def test_zero_code_handler_span_is_one_server_span_joined_to_lambdas_segment(layer_dir: Path, tmp_path: Path) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": ZERO_CODE})
    env = {**OTLP_ENV, "POWERTOOLS_SERVICE_NAME": SERVICE}
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir], env=env, function_name="orders") as fn:
        first, first_datagrams = invoke(fn, {"n": 1})
        second, second_datagrams = invoke(fn, {"n": 2})

    for inv, datagrams, cold in ((first, first_datagrams, True), (second, second_datagrams, False)):
        assert inv.status == "response", inv.output
        assert inv.payload == {"ok": inv.payload["ok"], "request_id": inv.request_id}
        assert len(datagrams) == 1  # one invocation, one datagram
        spans = spans_of(datagrams)
        assert [marker for marker, _, _ in spans] == ["T1S"]
        _, request, span = spans[0]
        resource = attributes(request.resource_spans[0].resource)
        assert resource["service.name"] == SERVICE
        assert resource["cloud.provider"] == "aws"
        assert resource["cloud.platform"] == "aws_lambda"
        assert resource["cloud.region"] == "us-east-1"
        assert resource["faas.name"] == "orders"
        assert resource["faas.version"] == "$LATEST"
        assert resource["faas.max_memory"] == 128 * 1024 * 1024
        assert resource["aws.log.group.names"] == ["/aws/lambda/orders"]
        assert resource["telemetry.sdk.name"] == "lambda-tracer"
        scope = request.resource_spans[0].scope_spans[0].scope
        assert scope.name == "lambda_tracer" and scope.version

        assert span.name == "## handler"
        assert span.kind == Span.SPAN_KIND_SERVER
        assert span.trace_id == trace_bytes(str(inv.trace_id))
        assert span.parent_span_id == bytes.fromhex(str(inv.parent_id))
        assert len(span.span_id) == 8 and any(span.span_id)
        assert span.flags & 0x1 == 1  # sampled
        assert span.flags & 0x300 == 0x300  # the parent (Lambda's segment) is remote
        assert 0 < span.start_time_unix_nano <= span.end_time_unix_nano
        assert span.status.code == Status.STATUS_CODE_UNSET
        assert list(span.events) == []
        arn = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:orders"
        found = attributes(span)
        assert found == {
            "ColdStart": cold,
            "Service": SERVICE,
            "InitType": "on-demand",
            "aws.xray.annotations": ["ColdStart", "Service", "InitType"],
            "faas.coldstart": cold,
            "faas.trigger": "other",  # a plain JSON event
            "faas.invocation_id": inv.request_id,
            "cloud.resource_id": arn,
            "aws.lambda.invoked_arn": arn,
            "cloud.account.id": ACCOUNT_ID,
            f"aws.xray.metadata.{SERVICE}": json.dumps({"handler response": inv.payload}, separators=(",", ":")),
        }
    assert first_datagrams[0] != second_datagrams[0]


def test_an_exception_is_status_error_and_an_exception_event(layer_dir: Path, tmp_path: Path) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": ZERO_CODE})
    env = {**OTLP_ENV, "POWERTOOLS_SERVICE_NAME": SERVICE}
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir], env=env) as fn:
        inv, datagrams = invoke(fn, {"fail": "x1"})
    with LocalLambda(fn_dir, "app.handler", wrapper=False) as bare_fn:
        bare = bare_fn.invoke({"fail": "x1"})

    assert (inv.status, inv.error_type, inv.error_message) == (bare.status, bare.error_type, bare.error_message)
    span = by_name(spans_of(datagrams), "## handler")
    assert span.status.code == Status.STATUS_CODE_ERROR
    assert span.status.message == "ValueError: boom x1"
    [event] = span.events
    assert event.name == "exception"
    assert event.time_unix_nano == span.end_time_unix_nano
    detail = attributes(event)
    assert detail["exception.type"] == "ValueError"
    assert detail["exception.message"] == "boom x1"
    stack = detail["exception.stacktrace"]
    assert stack.startswith("Traceback (most recent call last):\n") and stack.endswith("\nValueError: boom x1")
    assert 'File "app.py", line 3, in handler' in stack
    found = attributes(span)
    assert found["error.type"] == "ValueError"
    assert json.loads(found[f"aws.xray.metadata.{SERVICE}"])["handler error"]["type"] == "ValueError"


def test_in_code_spans_nest_and_carry_annotations_and_metadata(layer_dir: Path, tmp_path: Path) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": IN_CODE})
    env = {**OTLP_ENV, "POWERTOOLS_SERVICE_NAME": SERVICE}
    with LocalLambda(fn_dir, "app.handler", env=env, opt_dirs=[layer_dir], wrapper=False) as fn:
        inv, datagrams = invoke(fn, {"n": 21})

    assert inv.payload == {"doubled": 42}
    assert len(datagrams) == 1  # the handler's and the method's spans, together
    spans = spans_of(datagrams)
    handler = by_name(spans, "## handler")
    work = by_name(spans, "## app.work")
    assert work.parent_span_id == handler.span_id
    assert work.trace_id == handler.trace_id == trace_bytes(str(inv.trace_id))
    assert work.kind == Span.SPAN_KIND_INTERNAL
    assert work.flags == 0x101  # sampled; the parent is ours, not remote
    assert handler.start_time_unix_nano <= work.start_time_unix_nano <= work.end_time_unix_nano
    assert work.end_time_unix_nano <= handler.end_time_unix_nano
    found = attributes(work)
    assert found["Customer"] == "c-42"
    assert found["aws.xray.annotations"] == ["Customer"]
    assert json.loads(found[f"aws.xray.metadata.{SERVICE}"]) == {
        "order": {"n": 21, "items": [1, 2.5, None, True]},
        "app.work response": 42,
    }


TRIGGERS = [
    (
        {"resource": "/orders/{id}", "path": "/orders/42", "httpMethod": "GET", "requestContext": {"stage": "prod"}},
        {"faas.trigger": "http", "http.request.method": "GET", "http.route": "/orders/{id}"},
    ),
    (
        {"version": "2.0", "routeKey": "POST /pay", "rawPath": "/pay", "requestContext": {"http": {"method": "POST"}}},
        {"faas.trigger": "http", "http.request.method": "POST", "http.route": "/pay"},
    ),
    ({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]}, {"faas.trigger": "pubsub"}),
    ({"Records": [{"EventSource": "aws:sns", "Sns": {}}]}, {"faas.trigger": "pubsub"}),
    ({"Records": [{"eventSource": "aws:s3", "s3": {}}]}, {"faas.trigger": "datasource"}),
    ({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}, {"faas.trigger": "timer"}),
    ({"source": "my.app", "detail-type": "OrderPlaced", "detail": {}}, {"faas.trigger": "pubsub"}),
    ([1, 2, 3], {"faas.trigger": "other"}),
]


def test_the_handler_span_says_what_triggered_it(layer_dir: Path, tmp_path: Path) -> None:
    """``faas.trigger`` from the event the runtime decoded (and, for HTTP, the method and the route template,
    never the path), the same in the handler span of a warm invocation as of a cold one and of a failed one."""
    source = (
        "def handler(event, context):\n"
        "    if isinstance(event, dict) and event.get('fail'):\n"
        "        raise ValueError\n"
    )
    fn_dir = write_function(tmp_path / "fn", {"app.py": source})
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir], env=OTLP_ENV) as fn:
        failing = ({"fail": 1, "Records": [{"eventSource": "aws:sqs"}]}, {"faas.trigger": "pubsub"})
        for event, expected in [*TRIGGERS, failing]:
            inv, datagrams = invoke(fn, event)
            found = attributes(by_name(spans_of(datagrams), "## handler"))
            assert {key: found.get(key) for key in expected} == expected, (event, found)
            assert "url.path" not in found  # a path may hold ids and tokens: the route template only
            assert (inv.status == "error") == ("fail" in str(event))
