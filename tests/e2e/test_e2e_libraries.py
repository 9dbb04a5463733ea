"""Zero-code library tracing: what user code imports is traced, what it never imports is never loaded."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambda_tracer_local.daemon import subsegments
from lambda_tracer_local.runtime import LocalLambda

USES_LIBRARIES = """
import boto3
import requests

s3 = boto3.client("s3")  # at init, as most functions do

def handler(event, context):
    buckets = s3.list_buckets()["Buckets"]
    page = requests.get(event["url"] + "/page").json()
    return {"buckets": buckets, "page": page}
"""

IMPORTS_NOTHING = """
import sys

def handler(event, context):
    return sorted(m for m in ("botocore", "boto3", "requests", "httpx", "sqlite3", "aiohttp") if m in sys.modules)
"""


class _Stub(http.server.BaseHTTPRequestHandler):
    """S3 ListBuckets for botocore, JSON for requests."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.startswith("/page"):
            body, kind = b'{"ok": true}', "application/json"
        else:
            body, kind = b"<ListAllMyBucketsResult><Buckets></Buckets></ListAllMyBucketsResult>", "application/xml"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _run(tmp_path: Path, layer_dir: Path, source: str, event: Any, **env: str) -> Any:
    (tmp_path / "app.py").write_text(source)
    with LocalLambda(tmp_path, opt_dirs=[layer_dir], wrapper=True, env=env) as fn:
        invocation = fn.invoke(event)
        assert invocation.status == "response", fn.output[-3000:]
        return invocation


def test_boto3_and_requests_calls_are_children_of_the_handler(layer_dir: Path, tmp_path: Path, endpoint: str) -> None:
    call = _run(tmp_path, layer_dir, USES_LIBRARIES, {"url": endpoint}, AWS_ENDPOINT_URL=endpoint)
    assert call.payload == {"buckets": [], "page": {"ok": True}}
    docs = subsegments(call.documents)
    handler = next(d for d in docs if d["name"] == "## handler")
    s3 = [d for d in docs if d["name"] == "s3"]
    http_calls = [d for d in docs if d.get("namespace") == "remote" and d["http"]["request"]["url"].endswith("/page")]
    assert len(s3) == 1 and s3[0]["namespace"] == "aws" and s3[0]["aws"]["operation"] == "ListBuckets"
    assert len(http_calls) == 1
    assert s3[0]["parent_id"] == handler["id"] and http_calls[0]["parent_id"] == handler["id"]


def test_patch_modules_setting_limits_what_is_traced(layer_dir: Path, tmp_path: Path, endpoint: str) -> None:
    call = _run(
        tmp_path,
        layer_dir,
        USES_LIBRARIES,
        {"url": endpoint},
        AWS_ENDPOINT_URL=endpoint,
        LAMBDA_TRACER_PATCH_MODULES="requests",
    )
    names = [d["name"] for d in subsegments(call.documents)]
    assert "## handler" in names and "s3" not in names and "127.0.0.1" in names


def test_libraries_the_function_never_imports_are_never_loaded(layer_dir: Path, tmp_path: Path) -> None:
    call = _run(tmp_path, layer_dir, IMPORTS_NOTHING, {})
    assert call.payload == []
    assert [d["name"] for d in subsegments(call.documents)] == ["## handler"]


REPORTS_GC = """
import gc

def handler(event, context):
    return {"frozen": gc.get_freeze_count()}
"""


def test_init_objects_are_frozen_unless_opted_out(layer_dir: Path, tmp_path: Path) -> None:
    """Compared with the opt-out, not with zero: some Pythons (3.12+) start with a few objects frozen."""
    frozen = _run(tmp_path, layer_dir, REPORTS_GC, {}).payload["frozen"]
    opted_out = _run(tmp_path, layer_dir, REPORTS_GC, {}, LAMBDA_TRACER_GC_FREEZE="false").payload["frozen"]
    assert frozen > opted_out + 1000, (frozen, opted_out)
