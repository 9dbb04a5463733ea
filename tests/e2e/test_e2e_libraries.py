"""Zero-code library tracing: what user code imports is traced, what it never imports is never loaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from http_stub import QuietHandler, serving

from lambda_tracer_local.daemon import subsegments
from lambda_tracer_local.runtime import LocalLambda

from .support import without_init

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


class _Stub(QuietHandler):
    """S3 ListBuckets for botocore, JSON for the HTTP clients; the X-Amzn-Trace-Id of each request kept by path."""

    trace_headers: ClassVar[dict[str, str | None]] = {}

    def do_GET(self) -> None:
        type(self).trace_headers[self.path] = self.headers.get("X-Amzn-Trace-Id")
        if self.path.startswith("/page"):
            body, kind = b'{"ok": true}', "application/json"
        else:
            body, kind = b"<ListAllMyBucketsResult><Buckets></Buckets></ListAllMyBucketsResult>", "application/xml"
        self.reply(200, body, kind)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with serving(_Stub) as port:
        yield f"http://127.0.0.1:{port}"


def _run(tmp_path: Path, layer_dir: Path, source: str, event: Any, wrapper: bool = True, **env: str) -> Any:
    (tmp_path / "app.py").write_text(source)
    with LocalLambda(tmp_path, opt_dirs=[layer_dir], wrapper=wrapper, env=env) as fn:
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


EVERY_CLIENT = """
import asyncio
import sys

import aiohttp
import boto3
import httpx
import requests

s3 = boto3.client("s3")


async def with_aiohttp(url):
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            return await response.json()


async def with_httpx(url):
    async with httpx.AsyncClient() as client:
        return (await client.get(url)).json()


def handler(event, context):
    url = event["url"] + "/page/" + event["n"]
    return {
        "buckets": s3.list_buckets()["Buckets"],
        "requests": requests.get(url + "/requests").json(),
        "httpx": httpx.get(url + "/httpx").json(),
        "httpx_async": asyncio.run(with_httpx(url + "/httpx_async")),
        "aiohttp": asyncio.run(with_aiohttp(url + "/aiohttp")),
        "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("aws_xray_sdk", "wrapt")),
    }
"""


def test_boto3_requests_httpx_and_aiohttp_are_traced_without_the_sdk(
    layer_dir: Path, tmp_path: Path, endpoint: str
) -> None:
    """Our own instrumentation, through the built layer (zero code): each call a subsegment under the handler,
    its X-Amzn-Trace-Id naming that subsegment, and neither the X-Ray SDK nor wrapt ever imported."""
    (tmp_path / "app.py").write_text(EVERY_CLIENT)
    with LocalLambda(tmp_path, opt_dirs=[layer_dir], wrapper=True, env={"AWS_ENDPOINT_URL": endpoint}) as fn:
        for n in ("cold", "warm"):
            call = fn.invoke({"url": endpoint, "n": n})
            assert call.status == "response", fn.output[-3000:]
            assert call.payload["loaded"] == []
            assert call.payload["buckets"] == [] and call.payload["requests"] == {"ok": True}
            docs = subsegments(call.documents)
            handler = next(d for d in docs if d["name"] == "## handler")
            [s3] = [d for d in docs if d["name"] == "s3"]
            assert s3["namespace"] == "aws" and s3["parent_id"] == handler["id"]
            assert s3["aws"]["operation"] == "ListBuckets" and s3["http"]["response"]["status"] == 200
            for client in ("requests", "httpx", "httpx_async", "aiohttp"):
                path = f"/page/{n}/{client}"
                [doc] = [d for d in docs if d.get("http", {}).get("request", {}).get("url", "").endswith(path)]
                assert doc["namespace"] == "remote" and doc["parent_id"] == handler["id"], client
                assert doc["http"]["request"]["method"] == "GET" and doc["http"]["response"]["status"] == 200
                header = _Stub.trace_headers[path]
                assert header == f"Root={doc['trace_id']};Parent={doc['id']};Sampled=1", (client, header)
            assert _Stub.trace_headers["/"] is not None  # ListBuckets: the header names the s3 subsegment
            assert f"Parent={s3['id']}" in _Stub.trace_headers["/"]


USES_SQLITE3 = """
import sqlite3
import sys

import boto3

s3 = boto3.client("s3")


def handler(event, context):
    with sqlite3.connect(":memory:") as connection:
        rows = connection.cursor().execute("select 1").fetchall()
        backup = sqlite3.connect(":memory:")
        connection.backup(backup)  # sqlite3's C API refuses a proxy: ours is a real Connection
    connection.close()
    return {
        "rows": rows,
        "buckets": s3.list_buckets()["Buckets"],
        "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("aws_xray_sdk", "wrapt")),
    }
"""


def test_sqlite3_is_traced_by_our_code_without_the_sdk(layer_dir: Path, tmp_path: Path, endpoint: str) -> None:
    """sqlite3 is ours (instrumentation/sqlite3.py): its statements join our trace under the handler, its C API
    works, and neither the SDK nor wrapt is loaded."""
    call = _run(tmp_path, layer_dir, USES_SQLITE3, {}, AWS_ENDPOINT_URL=endpoint)
    assert call.payload == {"rows": [[1]], "buckets": [], "loaded": []}
    docs = subsegments(call.documents)
    handler = next(d for d in docs if d["name"] == "## handler")
    sql = [d for d in docs if "sql" in d]
    s3 = [d for d in docs if d["name"] == "s3"]
    assert sql and all(d["parent_id"] == handler["id"] and d["sql"]["database_type"] == "sqlite3" for d in sql)
    assert len(s3) == 1 and s3[0]["parent_id"] == handler["id"]


@pytest.mark.parametrize("setting", ["requests", "Requests", " REQUESTS "])
def test_patch_modules_setting_limits_what_is_traced(
    layer_dir: Path, tmp_path: Path, endpoint: str, setting: str
) -> None:
    """Our library names are a fixed, lower-case list: any case names the same library, as with the other lists."""
    call = _run(
        tmp_path,
        layer_dir,
        USES_LIBRARIES,
        {"url": endpoint},
        AWS_ENDPOINT_URL=endpoint,
        LAMBDA_TRACER_PATCH_MODULES=setting,
    )
    names = [d["name"] for d in subsegments(call.documents)]
    assert "## handler" in names and "s3" not in names and "127.0.0.1" in names
    assert "LAMBDA_TRACER_PATCH_MODULES" not in (call.init_output or "") + call.output


def test_an_unknown_patch_module_gets_one_warning_naming_it(layer_dir: Path, tmp_path: Path, endpoint: str) -> None:
    """The known names are still traced; the unknown one is named once (not the whole value), across invocations."""
    (tmp_path / "app.py").write_text(USES_LIBRARIES)
    env = {"AWS_ENDPOINT_URL": endpoint, "LAMBDA_TRACER_PATCH_MODULES": "Requests, nosuchlib, SQLITE3, httpx"}
    with LocalLambda(tmp_path, opt_dirs=[layer_dir], wrapper=True, env=env) as fn:
        first, second = fn.invoke({"url": endpoint}), fn.invoke({"url": endpoint})
        output = fn.output
    for call in (first, second):
        names = [d["name"] for d in subsegments(call.documents)]
        assert "127.0.0.1" in names and "s3" not in names
    [warning] = [line for line in output.splitlines() if "LAMBDA_TRACER_PATCH_MODULES" in line]
    assert "'nosuchlib'" in warning and "'SQLITE3'" not in warning and "'httpx'" not in warning


def test_libraries_the_function_never_imports_are_never_loaded(layer_dir: Path, tmp_path: Path) -> None:
    call = _run(tmp_path, layer_dir, IMPORTS_NOTHING, {})
    assert call.payload == []
    assert [d["name"] for d in subsegments(without_init(call.documents))] == ["## handler"]


REPORTS_GC = """
import gc

def handler(event, context):
    return {"frozen": gc.get_freeze_count()}
"""

REPORTS_GC_IN_CODE = """
import gc
from lambda_tracer import Tracer

MADE_AT_INIT = {"state": ["a client, a config"]}  # after the package's own freeze, before the handler's definition
tracer = Tracer()

@tracer.capture_lambda_handler
def handler(event, context):
    frozen = all(o is not MADE_AT_INIT for o in gc.get_objects())
    return {"frozen": gc.get_freeze_count(), "made_at_init_frozen": frozen}
"""


REPORTS_GC_IMPORTING_LATE = """
import gc

def handler(event, context):
    from lambda_tracer import Tracer  # at an invocation, not at init

    return {"frozen": gc.get_freeze_count()}
"""


@pytest.mark.parametrize("zero_code", [True, False], ids=["zero-code", "in-code"])
def test_init_objects_are_frozen_unless_opted_out(layer_dir: Path, tmp_path: Path, zero_code: bool) -> None:
    """Compared with the opt-out, not with zero: some Pythons (3.12+) start with a few objects frozen. In code, the
    package's import freezes, and the handler's decoration (what the module made in between, frozen too); the
    zero-code redirect, once its tracer started."""
    source = REPORTS_GC if zero_code else REPORTS_GC_IN_CODE
    traced = _run(tmp_path, layer_dir, source, {}, wrapper=zero_code).payload
    opted_out = _run(tmp_path, layer_dir, source, {}, wrapper=zero_code, LAMBDA_TRACER_GC_FREEZE="false")
    assert traced["frozen"] > opted_out.payload["frozen"] + 1000, (traced, opted_out.payload)
    if not zero_code:
        assert traced["made_at_init_frozen"] and not opted_out.payload["made_at_init_frozen"], (traced, opted_out)
    untraced = _run(tmp_path, layer_dir, source, {}, wrapper=zero_code, POWERTOOLS_TRACE_DISABLED="true")
    assert untraced.payload == opted_out.payload  # tracing off by the environment: nothing frozen either
    if not zero_code:  # imported by the handler, at an invocation: nothing frozen
        late = _run(tmp_path, layer_dir, REPORTS_GC_IMPORTING_LATE, {}, wrapper=False).payload
        assert late["frozen"] == opted_out.payload["frozen"], (late, opted_out.payload)
