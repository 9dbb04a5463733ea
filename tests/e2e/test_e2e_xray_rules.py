"""The e2e hook (conftest.py): every LocalLambda invocation is held against X-Ray's rules, so a function that
sends what X-Ray would reject fails the test that invoked it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambda_tracer_local.runtime import LocalLambda
from lambda_tracer_local.xray_rules import HEADER_LINE

from .support import write_function

SENDS = """
import os
import socket

def handler(event, context):
    host, port = os.environ["AWS_XRAY_DAEMON_ADDRESS"].rsplit(":", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(event["datagram"].encode(), (host, int(port)))
    return "sent"
"""
DOCUMENT = {
    "type": "subsegment",
    "id": "70de5b6f19ff9a0b",
    "name": "## handler",
    "start_time": 1_700_000_000.25,
    "end_time": 1_700_000_000.5,
    "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
    "parent_id": "53995c3f42cd8ad8",
}


def test_a_function_sending_what_x_ray_rejects_fails_the_invocation(tmp_path: Path) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": SENDS})
    with LocalLambda(fn_dir, "app.handler", wrapper=False) as fn:
        nan = HEADER_LINE.decode() + json.dumps({**DOCUMENT, "annotations": {"x": float("nan")}})
        with pytest.raises(AssertionError, match=r"D3 \[error\] datagrams\[0\]: not strict JSON"):
            fn.invoke({"datagram": nan})
        with pytest.raises(AssertionError, match=r"X7 \[error\] documents\[0\]: '## handler' sent without"):
            fn.invoke({"datagram": HEADER_LINE.decode() + json.dumps(DOCUMENT)}, trace_header=None)
        with pytest.raises(AssertionError, match=r"X1 \[error\] documents\[0\]: trace_id '1-5759e988-"):
            fn.invoke({"datagram": HEADER_LINE.decode() + json.dumps(DOCUMENT)})
