"""Libraries are traced when user code imports them, and ignore_endpoint works for every client."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from http_stub import QuietHandler, serving

from lambda_env import invoke
from lambda_tracer import Tracer, aiohttp_trace_config
from lambda_tracer_local.daemon import XRayDaemon, new_trace_header, subsegments

pytestmark = pytest.mark.usefixtures("memory_sender")  # what was sent, read in memory (tests/memory_sender.py)

ROOT = Path(__file__).resolve().parents[2]


class _Handler(QuietHandler):
    def _reply(self) -> None:
        body = b'<?xml version="1.0"?><ListAllMyBucketsResult><Buckets></Buckets></ListAllMyBucketsResult>'
        if not self.path.startswith("/?") and self.path != "/":
            body = json.dumps({"path": self.path}).encode()
        self.reply(200, body, "application/json" if body.startswith(b"{") else "application/xml")

    do_GET = do_POST = _reply


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    with serving(_Handler) as port:
        yield port


LAZY_PROBE = """
import json, sys
from lambda_tracer import Tracer
tracer = Tracer()
before = sorted(m for m in ("botocore", "requests", "httpx", "sqlite3", "aiohttp") if m in sys.modules)
import requests
print(json.dumps({"before": before, "traced": getattr(requests.Session.send, "__lambda_tracer_instrumented__", False),
                  "sdk": sorted(m for m in sys.modules if m.split(".")[0] in ("aws_xray_sdk", "wrapt")),
                  "after": sorted(m for m in ("botocore", "requests", "httpx", "sqlite3") if m in sys.modules)}))
"""


def test_only_imported_libraries_are_loaded_and_patched() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "LAMBDA_TRACER"))}
    env.update(LAMBDA_TASK_ROOT="/tmp", PYTHONPATH=str(ROOT / "layer"))
    out = subprocess.run([sys.executable, "-c", LAZY_PROBE], env=env, capture_output=True, text=True, check=True)
    probe = json.loads(out.stdout.splitlines()[-1])
    assert probe["before"] == []
    assert probe["traced"] is True  # our own instrumentation: neither the SDK nor wrapt is loaded for it
    assert probe["sdk"] == []
    assert "botocore" not in probe["after"] and "sqlite3" not in probe["after"]


def test_patch_modules_limits_patching_and_unknown_names_warn(caplog: pytest.LogCaptureFixture) -> None:
    tracer = Tracer(service="svc", patch_modules=["requests", "not_a_library"])
    assert tracer.auto_patch is True
    assert any("not_a_library" in r.getMessage() for r in caplog.records)


def _calls(port: int, host: str) -> dict[str, Any]:
    """One call per client to http://<host>:<port>; returns what each got back."""
    import boto3
    import httpx
    import requests

    base = f"http://{host}:{port}"
    s3 = boto3.client(
        "s3", endpoint_url=base, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    connection = http.client.HTTPConnection(host, port)
    connection.request("GET", "/raw")
    raw = connection.getresponse().read()
    return {
        "requests": requests.get(f"{base}/requests").json(),
        "httpx": httpx.get(f"{base}/httpx").json(),
        "botocore": s3.list_buckets()["Buckets"],
        "http.client": json.loads(raw),
    }


def test_clients_are_traced_and_ignore_endpoint_applies_to_all(server: int) -> None:
    tracer = Tracer(service="svc", patch_modules=["requests", "httpx", "botocore", "httplib"])
    tracer.ignore_endpoint(hostname="local*")  # "localhost" is ignored, "127.0.0.1" is not

    @tracer.capture_lambda_handler
    def handler(event: dict[str, str], context: object) -> dict[str, Any]:
        return _calls(server, event["host"])

    traced = invoke(handler, {"host": "127.0.0.1"}, expect=5)
    assert traced.error is None, traced.error
    names = [d["name"] for d in subsegments(traced.documents)]
    assert "s3" in names and names.count("127.0.0.1") >= 3, names

    ignored = invoke(handler, {"host": "localhost"}, expect=1)
    assert ignored.error is None and ignored.result == traced.result
    names = [d["name"] for d in subsegments(ignored.documents)]
    assert names == ["## handler"], names


def test_url_globs_are_ignored(server: int) -> None:
    import requests

    tracer = Tracer(service="svc", patch_modules=["requests"])
    tracer.ignore_endpoint(urls=["/health*"])

    @tracer.capture_lambda_handler
    def handler(event: dict[str, str], context: object) -> int:
        requests.get(f"http://127.0.0.1:{server}/healthcheck")
        requests.get(f"http://127.0.0.1:{server}/orders")
        return 2

    call = invoke(handler, expect=2)
    urls = [d.get("http", {}).get("request", {}).get("url", "") for d in subsegments(call.documents)]
    assert any(u.endswith("/orders") for u in urls)
    assert not any("health" in u for u in urls)


def test_aiohttp_trace_config(server: int) -> None:
    import aiohttp

    tracer = Tracer(service="svc")

    async def fetch() -> Any:
        async with aiohttp.ClientSession(trace_configs=[aiohttp_trace_config()]) as session:
            async with session.get(f"http://127.0.0.1:{server}/aio") as response:
                return await response.json()

    @tracer.capture_lambda_handler
    def handler(event: dict[str, str], context: object) -> Any:
        return asyncio.run(fetch())

    call = invoke(handler, expect=2)
    assert call.result == {"path": "/aio"}
    remote = [d for d in subsegments(call.documents) if d.get("namespace") == "remote"]
    assert len(remote) == 1 and remote[0]["parent_id"] == next(
        d["id"] for d in call.documents if d["name"] == "## handler"
    )


def test_boto3_calls_at_init_are_dropped_quietly(server: int) -> None:
    """No trace header during init: the SDK has nothing to attach to; the call still works."""
    tracer = Tracer(service="svc", patch_modules=["botocore"])
    import boto3

    os.environ.pop("_X_AMZN_TRACE_ID", None)
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{server}",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    assert s3.list_buckets()["Buckets"] == []
    assert tracer.provider.current_subsegment() is None


def test_daemon_sees_documents_from_other_process(server: int) -> None:
    """Sanity check of the stand-in itself, so a silent daemon cannot make tests pass."""
    with XRayDaemon() as other:
        header, trace_id, parent = new_trace_header()
        code = (
            "import os\n"
            f"os.environ['_X_AMZN_TRACE_ID'] = {header!r}\n"
            "from lambda_tracer import Tracer\n"
            "t = Tracer(service='x')\n"
            "print(t.capture_lambda_handler(lambda e, c: 1)({}, None))\n"
        )
        env = dict(
            os.environ, LAMBDA_TASK_ROOT="/tmp", AWS_XRAY_DAEMON_ADDRESS=other.address, PYTHONPATH=str(ROOT / "layer")
        )
        subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
        [doc] = other.wait_for(trace_id)
        assert doc["parent_id"] == parent and doc["name"] == "## <lambda>".replace("<", "").replace(">", "")


def test_aiohttp_sessions_are_traced_without_code_changes(server: int) -> None:
    import aiohttp

    tracer = Tracer(service="svc", patch_modules=["aiohttp"])

    async def fetch(configs: list[Any]) -> Any:
        async with aiohttp.ClientSession(trace_configs=configs) as session:
            async with session.get(f"http://127.0.0.1:{server}/zero") as response:
                return await response.json()

    @tracer.capture_lambda_handler
    def handler(event: dict[str, str], context: object) -> Any:
        # Once without any trace config, once with ours given explicitly: one subsegment each, never two.
        return [asyncio.run(fetch([])), asyncio.run(fetch([aiohttp_trace_config()]))]

    call = invoke(handler, expect=3)
    assert call.result == [{"path": "/zero"}, {"path": "/zero"}]
    remote = [d for d in subsegments(call.documents) if d.get("namespace") == "remote"]
    assert len(remote) == 2
