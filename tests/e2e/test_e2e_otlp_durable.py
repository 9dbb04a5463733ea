"""Durable functions with the ``otlp`` exporter: each invocation's operations are OTLP spans in its own trace,
under its handler span, with the same names, annotations and ``durable`` metadata as in ``xray`` mode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from .otlp_support import OTLP_ENV, attributes, spans_of, trace_bytes
from .support import write_function
from .test_e2e_durable import APP, DurableService, _runner_credentials, handler_doc, operation_docs

__all__ = ["_runner_credentials"]  # the durable tests' fixture (autouse), used here as it is


@pytest.fixture
def service(layer_dir: Path, tmp_path: Path) -> Iterator[DurableService]:
    with DurableService(write_function(tmp_path / "fn", {"app.py": APP}), layer_dir, env=dict(OTLP_ENV)) as durable:
        yield durable


def test_durable_operations_are_otlp_spans_of_their_invocation(service: DurableService) -> None:
    described, invocations = service.run({"order_id": "o-1"}, "order-o-1")
    assert described["Status"] == "SUCCEEDED", described
    assert [inv.status for inv in invocations] == ["response"] * 3, service.fn.output
    arn = described["DurableExecutionArn"]
    service.fn.daemon.sync()
    datagrams = service.fn.daemon.datagrams()

    first, second, _ = invocations
    # What the local daemon shows (decoded by our own decoder): the same tree as in xray mode.
    ops = operation_docs(first)
    assert sorted(ops) == ["Step fetch", "Wait cool-down"]
    assert ops["Step fetch"]["parent_id"] == handler_doc(first)["id"]
    assert handler_doc(first)["annotations"]["DurableExecution"] == arn
    assert ops["Step fetch"]["otlp"]["kind"] == "INTERNAL"

    # What was sent, decoded by opentelemetry-proto.
    for inv in invocations:
        spans = [span for _, _, span in spans_of(datagrams) if span.trace_id == trace_bytes(str(inv.trace_id))]
        [handler] = [span for span in spans if span.name == "## handler"]
        assert handler.kind == Span.SPAN_KIND_SERVER
        assert handler.parent_span_id == bytes.fromhex(str(inv.parent_id))
        found = attributes(handler)
        assert found["DurableExecution"] == arn and "DurableExecution" in found["aws.xray.annotations"]
        assert "invocation" in json.loads(found["aws.xray.metadata.durable"])
    spans = [span for _, _, span in spans_of(datagrams) if span.trace_id == trace_bytes(str(second.trace_id))]
    [reserve] = [span for span in spans if span.name == "Step reserve"]
    assert reserve.status.code == Status.STATUS_CODE_ERROR  # the first attempt failed, a retry was scheduled
    [event] = reserve.events
    assert attributes(event)["exception.type"] == "ConnectionError"
    operation = json.loads(attributes(reserve)["aws.xray.metadata.durable"])["operation"]
    assert (operation["attempt"], operation["outcome"]) == (1, "RETRY_SCHEDULED")
