"""``lambda-tracer-local`` with the ``otlp`` exporter: the tree, ``--json`` and ``--html`` show OTLP spans as they
show segments, decoded by the local daemon's own decoder (never opentelemetry-proto: local/ takes no dependency)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lambda_tracer_local import cli, otlp

from .support import write_function

APP = """
from lambda_tracer import Tracer

tracer = Tracer(service="shop")

@tracer.capture_method
def total(items):
    tracer.put_annotation("Items", len(items))
    return sum(items)

@tracer.capture_lambda_handler
def handler(event, context):
    if not event.get("items"):
        raise ValueError("no items")
    return {"total": total(event["items"])}
"""


def test_the_cli_shows_otlp_spans_in_the_tree_the_json_and_the_html(
    layer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": APP})
    out_json, out_html = tmp_path / "out.json", tmp_path / "out.html"
    code = cli.main(
        [
            str(fn_dir),
            "--in-code",
            "--exporter",
            "otlp",
            "--layer",
            str(layer_zip),
            "--event",
            '{"items": [1, 2]}',
            "--event",
            "{}",
            "--json",
            str(out_json),
            "--html",
            str(out_html),
            "--quiet",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 1, printed  # the second event makes the function fail, as a failed invocation exits 1
    assert re.search(r"## handler  [\d.]+ ms  otlp:SERVER\n", printed)
    assert re.search(r"## app\.total  [\d.]+ ms  otlp:INTERNAL\n", printed)
    assert re.search(r"## handler  [\d.]+ ms  otlp:SERVER  FAULT\n", printed)
    assert "annotations  Items=2" in printed and "cause        ValueError: no items" in printed
    assert "faas.coldstart=true" in printed and "faas.invocation_id=" in printed

    records = json.loads(out_json.read_text())["invocations"]
    first, second = records
    handler = next(doc for doc in first["documents"] if doc["name"] == "## handler")
    assert handler["otlp"]["kind"] == "SERVER" and handler["otlp"]["sampled"] is True
    assert handler["annotations"]["ColdStart"] is True
    assert handler["metadata"]["shop"]["handler response"] == {"total": 3}
    assert handler["otlp"]["attributes"]["faas.invocation_id"] == first["request_id"]
    failed = next(doc for doc in second["documents"] if doc["name"] == "## handler")
    assert failed["fault"] is True and failed["cause"]["exceptions"][0]["type"] == "ValueError"
    assert failed["otlp"]["status"] == {"code": "ERROR", "message": "ValueError: no items"}
    assert [event["name"] for event in failed["otlp"]["events"]] == ["exception"]

    page = out_html.read_text()
    assert '\\"kind\\"' not in page  # the data travels as JSON, not as escaped text
    data = json.loads(page.split('<script type="application/json" id="trace-data">', 1)[1].split("</script>", 1)[0])
    kinds = [span["kind"] for invocation in data["invocations"] for span in invocation["spans"]]
    assert sorted(kinds) == ["INTERNAL", "SERVER", "SERVER"]


def test_the_local_decoder_refuses_what_is_not_an_otlp_datagram() -> None:
    header = otlp.HEADER
    with pytest.raises(otlp.DecodeError):
        otlp.decode_datagram(header + b"T1S" + b"not base64!")
    with pytest.raises(otlp.DecodeError):
        otlp.decode_datagram(header + b"T1S" + b"CgA=" + b"\x00")
    with pytest.raises(otlp.DecodeError):
        otlp.decode_request(b"\x0a\x05\x01")  # a length beyond the end
    assert not otlp.is_otlp(header + b'{"name": "x"}')
    assert otlp.decode_datagram(header + b"T1U")[0] is False  # an empty request, unsampled
