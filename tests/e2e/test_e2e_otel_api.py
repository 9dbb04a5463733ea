"""The OpenTelemetry API through the built layer and the real runtime client, in both exporters: a function's OTel
spans nest inside ours and ours inside them, get_current_span() has our ids, propagation headers reach a local
HTTP stub, a user's own provider is kept, sqlite3 is traced (ours by default, the contrib instrumentation when
listed) with every outcome as without the layer, and bad settings give one warning each.

The function's OpenTelemetry packages come from the runtime's environment (requirements/dev.txt), as boto3 and
requests do for the other e2e functions."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from file_lock import locked
from http_stub import QuietHandler, serving

from lambda_tracer_local.daemon import subsegments
from lambda_tracer_local.runtime import LocalLambda

from .conftest import VENVS
from .otlp_support import OTLP_ENV, attributes, spans_of
from .support import outcome, without_init, write_function


class _Stub(QuietHandler):
    """Keeps the trace headers each request carried, by path."""

    seen: ClassVar[dict[str, dict[str, str | None]]] = {}

    def do_GET(self) -> None:
        type(self).seen[self.path] = {name: self.headers.get(name) for name in ("X-Amzn-Trace-Id", "traceparent")}
        self.reply(200, b"{}")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with serving(_Stub) as port:
        yield f"http://127.0.0.1:{port}"


NESTED = """
import sys

import requests
from opentelemetry import propagate, trace

from lambda_tracer import Tracer

otel = trace.get_tracer("app")
ours = Tracer()


@ours.capture_method
def charge(url):
    with otel.start_as_current_span("otel.in.ours", attributes={"item": "x"}) as span:
        span.add_event("charged")
        carrier = {}
        propagate.inject(carrier)
        requests.get(url)
    return carrier


def handler(event, context):
    here = trace.get_current_span().get_span_context()
    with otel.start_as_current_span("otel.outer", kind=trace.SpanKind.INTERNAL) as outer:
        outer.set_attribute("order_id", event["n"])
        outer.set_attribute("aws.xray.annotations", ["order_id"])
        injected = charge(event["url"] + "/nested/" + event["n"])
    return {
        "ids": [format(here.trace_id, "032x"), format(here.span_id, "016x")],
        "injected": injected,
        "sdk": sorted(m for m in sys.modules if m.split(".")[0] in ("aws_xray_sdk", "wrapt")),
    }
"""


def _tree(fn: LocalLambda, exporter: str, first: int, inv: Any) -> dict[str, dict[str, Any]]:
    """name -> {id, parent, attributes/annotations}, from X-Ray documents or decoded OTLP spans; the cold start's
    ``## init`` and its imports left out (how many imports it shows depends on how long each took)."""
    if exporter == "xray":
        return {d["name"]: d for d in subsegments(without_init(inv.documents))}
    fn.daemon.sync()
    found = {}
    for _, _, span in spans_of(fn.daemon.datagrams(first)):
        if span.name == "## init" or span.name.startswith("import "):
            continue
        found[span.name] = {
            "id": span.span_id.hex(),
            "parent_id": span.parent_span_id.hex(),
            "trace": span.trace_id.hex(),
            "attributes": attributes(span),
            "kind": span.kind,
        }
    return found


@pytest.mark.parametrize("exporter", ["xray", "otlp"])
def test_otel_spans_nest_both_ways_with_our_ids_and_headers(
    layer_dir: Path, tmp_path: Path, endpoint: str, exporter: str
) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": NESTED})
    env = {**(OTLP_ENV if exporter == "otlp" else {"LAMBDA_TRACER_PROPAGATORS": "xray,tracecontext"})}
    with LocalLambda(fn_dir, opt_dirs=[layer_dir], wrapper=True, env=env) as fn:
        for n in ("cold", "warm"):
            first = len(fn.daemon.datagrams())
            inv = fn.invoke({"url": endpoint, "n": n})
            assert inv.status == "response", fn.output[-3000:]
            tree = _tree(fn, exporter, first, inv)
            handler, outer = tree["## handler"], tree["otel.outer"]
            charge, inner = tree["## app.charge"], tree["otel.in.ours"]
            [call] = [span for name, span in tree.items() if name == "127.0.0.1"]
            assert outer["parent_id"] == handler["id"]
            assert charge["parent_id"] == outer["id"]  # ours inside theirs
            assert inner["parent_id"] == charge["id"]  # theirs inside ours
            assert call["parent_id"] == inner["id"]  # our instrumentation inside theirs
            digits = str(inv.trace_id)[2:].replace("-", "")
            assert inv.payload["ids"] == [digits, handler["id"]]
            assert inv.payload["sdk"] == []
            root = str(inv.trace_id)
            assert inv.payload["injected"] == {
                "X-Amzn-Trace-Id": f"Root={root};Parent={inner['id']};Sampled=1",
                "traceparent": f"00-{digits}-{inner['id']}-01",
            }
            assert _Stub.seen[f"/nested/{n}"] == {
                "X-Amzn-Trace-Id": f"Root={root};Parent={call['id']};Sampled=1",
                "traceparent": f"00-{digits}-{call['id']}-01",
            }
            if exporter == "xray":
                assert outer["annotations"] == {"order_id": n}
                assert inner["metadata"]["default"]["item"] == "x"
                assert [e["name"] for e in inner["metadata"]["default"]["events"]] == ["charged"]
            else:
                assert outer["trace"] == digits
                assert outer["attributes"]["order_id"] == n
                assert "order_id" in outer["attributes"]["aws.xray.annotations"]


def bundled(requirements: list[str]) -> Path:
    """``requirements`` (pinned, each with its dependencies not in the runtime's environment) installed once into a
    directory cached in build/venvs, for a function to bundle as a package of its own."""
    target = VENVS / "bundled" / "-".join(sorted(requirements)).replace("==", "-")
    stamp = target / ".installed"
    with locked(VENVS / "bundled.lock"):
        if not stamp.is_file():
            shutil.rmtree(target, ignore_errors=True)
            step = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps"]
            done = subprocess.run([*step, "--target", str(target), *requirements], capture_output=True, text=True)
            if done.returncode != 0:
                pytest.fail(f"installing {requirements} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
            stamp.touch()
    return target


def bundle(fn_dir: Path, requirements: list[str]) -> None:
    shutil.copytree(bundled(requirements), fn_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".installed"))


#: The last opentelemetry-api that loads its runtime context at the first use of the context, not at import (1.25
#: loads it at import), with what it needs beyond the runtime's environment (wrapt is there).
LAZY_CONTEXT_API = ["opentelemetry-api==1.24.0", "deprecated==1.3.1", "importlib-metadata==7.0.0", "zipp==3.23.0"]


NESTED_ON_AN_OLDER_API = """
from opentelemetry import trace
from opentelemetry.version import __version__

from lambda_tracer import Tracer

otel = trace.get_tracer("app")
ours = Tracer()


@ours.capture_method
def charge():
    return format(trace.get_current_span().get_span_context().span_id, "016x")


def handler(event, context):
    here = format(trace.get_current_span().get_span_context().span_id, "016x")
    with otel.start_as_current_span("otel.outer"):
        inside = charge()
    return {"api": __version__, "here": here, "inside": inside}
"""


def test_an_opentelemetry_api_that_loads_its_context_late_is_bridged_too(layer_dir: Path, tmp_path: Path) -> None:
    """opentelemetry-api 1.24 and older load their runtime context at its first use: when ``opentelemetry.trace`` was
    imported there was none yet to wrap, so the context never agreed with our spans: ``get_current_span()`` in the
    handler was the invalid span, and our spans opened inside an OTel span hung under the handler, not under it."""
    fn_dir = write_function(tmp_path / "fn", {"app.py": NESTED_ON_AN_OLDER_API})
    bundle(fn_dir, LAZY_CONTEXT_API)
    with LocalLambda(fn_dir, opt_dirs=[layer_dir], wrapper=True) as fn:
        inv = fn.invoke({})
    assert inv.status == "response", fn.output[-3000:]
    docs = {d["name"]: d for d in subsegments(inv.documents)}
    handler, outer, charge = docs["## handler"], docs["otel.outer"], docs["## app.charge"]
    assert inv.payload == {"api": "1.24.0", "here": handler["id"], "inside": charge["id"]}
    assert outer["parent_id"] == handler["id"] and charge["parent_id"] == outer["id"]


USERS_PROVIDER = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("app")


def handler(event, context):
    exporter.clear()
    with tracer.start_as_current_span("theirs"):
        with tracer.start_as_current_span("theirs.child"):
            pass
    spans = {span.name: span for span in exporter.get_finished_spans()}
    return {
        "kept": trace.get_tracer_provider() is provider,
        "parent": format(spans["theirs"].parent.span_id, "016x"),
        "trace": format(spans["theirs"].context.trace_id, "032x"),
        "nested": spans["theirs.child"].parent.span_id == spans["theirs"].context.span_id,
    }
"""


def test_a_provider_the_user_set_is_kept_and_its_spans_join_our_trace(layer_dir: Path, tmp_path: Path) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": USERS_PROVIDER})
    with LocalLambda(fn_dir, opt_dirs=[layer_dir], wrapper=True) as fn:
        inv = fn.invoke({})
    assert inv.status == "response", fn.output[-3000:]
    [handler] = subsegments(without_init(inv.documents))  # their spans go to their exporter, not to ours
    assert handler["name"] == "## handler"
    assert inv.payload == {
        "kept": True,
        "parent": handler["id"],
        "trace": str(inv.trace_id)[2:].replace("-", ""),
        "nested": True,
    }


USES_SQLITE3 = """
import sqlite3


def handler(event, context):
    source = sqlite3.connect(":memory:")
    source.execute("create table t (x)")
    source.executemany("insert into t values (?)", [(1,), (2,)])
    source.commit()
    result = {"counted": source.cursor().execute("select count(*) from t").fetchone()[0]}
    if event.get("c_api"):
        target = sqlite3.connect(":memory:")
        source.backup(target)
        plain = sqlite3.Cursor(source)
        result["backup"] = target.execute("select sum(x) from t").fetchone()[0]
        result["plain"] = plain.execute("select max(x) from t").fetchone()[0]
    try:
        source.execute("select * from missing")
    except sqlite3.OperationalError as error:
        result["error"] = type(error).__name__
    return result
"""


@pytest.mark.parametrize("exporter", ["xray", "otlp"])
def test_sqlite3_by_default_every_outcome_as_without_the_layer(layer_dir: Path, tmp_path: Path, exporter: str) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": USES_SQLITE3})
    with LocalLambda(fn_dir) as plain:
        without = outcome(plain.invoke({"c_api": True}))
    env = OTLP_ENV if exporter == "otlp" else {}
    with LocalLambda(fn_dir, opt_dirs=[layer_dir], wrapper=True, env=env) as fn:
        first = len(fn.daemon.datagrams())
        inv = fn.invoke({"c_api": True})
        tree = _tree(fn, exporter, first, inv)
    assert outcome(inv) == without
    assert without["payload"] == {"counted": 2, "backup": 3, "plain": 2, "error": "OperationalError"}
    statements = [span for name, span in tree.items() if name == ":memory:"]
    assert statements, tree.keys()
    handler = tree["## handler"]
    if exporter == "xray":
        statements = [d for d in subsegments(inv.documents) if d["name"] == ":memory:"]
        # create, executemany, count, backup target's sum, the failing select (sqlite3.Cursor(conn) is not traced)
        assert len(statements) == 5
        assert all(d["parent_id"] == handler["id"] and d["sql"]["database_type"] == "sqlite3" for d in statements)
        assert sum(1 for d in statements if d.get("fault")) == 1
    else:
        assert all(span["parent_id"] == handler["id"] for span in statements)


@pytest.mark.parametrize("exporter", ["xray", "otlp"])
def test_sqlite3_through_the_contrib_instrumentation_under_our_provider(
    layer_dir: Path, tmp_path: Path, exporter: str
) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": USES_SQLITE3})
    env = {**(OTLP_ENV if exporter == "otlp" else {}), "LAMBDA_TRACER_OTEL_INSTRUMENTATIONS": "sqlite3"}
    with LocalLambda(fn_dir, opt_dirs=[layer_dir], wrapper=True, env=env) as fn:
        first = len(fn.daemon.datagrams())
        inv = fn.invoke({})
        tree = _tree(fn, exporter, first, inv)
    assert inv.status == "response", fn.output[-3000:]
    assert inv.payload == {"counted": 2, "error": "OperationalError"}
    handler = tree["## handler"]
    assert ":memory:" not in tree  # ours stood aside
    count = tree["select"]  # the contrib's span name: the statement's first word
    assert count["parent_id"] == handler["id"]
    if exporter == "xray":
        assert count["namespace"] == "remote"
        assert count["sql"] == {"database_type": "sqlite", "sanitized_query": "select count(*) from t"}
    else:
        assert count["attributes"]["db.system"] == "sqlite"


#: OpenTelemetry's aiohttp client instrumentation (its other requirements are in the runtime's environment).
AIOHTTP_CLIENT = ["opentelemetry-instrumentation-aiohttp-client==0.66b1", "opentelemetry-util-http==0.66b1"]

USES_AIOHTTP = """
import asyncio

import aiohttp


async def fetch(url):
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            return response.status


def handler(event, context):
    return asyncio.run(fetch(event["url"] + "/aiohttp/" + event["n"]))
"""


@pytest.mark.parametrize("exporter", ["xray", "otlp"])
def test_aiohttp_left_to_its_contrib_instrumentation_is_traced_once(
    layer_dir: Path, tmp_path: Path, endpoint: str, exporter: str
) -> None:
    """``aiohttp_client`` (``opentelemetry-instrumentation-aiohttp-client``) listed: its span is the call's only one,
    and the request carries it as ``Parent``. Ours stood aside only for a name equal to our own (``aiohttp``), so
    every call was recorded twice: our subsegment, and the contrib's span inside it."""
    fn_dir = write_function(tmp_path / "fn", {"app.py": USES_AIOHTTP})
    bundle(fn_dir, AIOHTTP_CLIENT)
    env = {**(OTLP_ENV if exporter == "otlp" else {}), "LAMBDA_TRACER_OTEL_INSTRUMENTATIONS": "aiohttp_client"}
    with LocalLambda(fn_dir, opt_dirs=[layer_dir], wrapper=True, env=env) as fn:
        first = len(fn.daemon.datagrams())
        inv = fn.invoke({"url": endpoint, "n": exporter})
        tree = _tree(fn, exporter, first, inv)
    assert inv.payload == 200, fn.output[-3000:]
    calls = [span for span in tree.values() if span["parent_id"] != tree["## handler"]["parent_id"]]
    assert len(calls) == 1, sorted(tree)
    [call] = calls
    assert call["parent_id"] == tree["## handler"]["id"]
    assert _Stub.seen[f"/aiohttp/{exporter}"]["X-Amzn-Trace-Id"] == f"Root={inv.trace_id};Parent={call['id']};Sampled=1"


IMPORTS_NOTHING = """
import sys

import requests


def handler(event, context):
    requests.get(event["url"] + "/plain")
    return sorted(m for m in sys.modules if m.startswith(("opentelemetry", "lambda_tracer.otel")))
"""


@pytest.mark.parametrize(
    ("env", "warning"),
    [
        ({}, None),
        ({"LAMBDA_TRACER_PROPAGATORS": "b3,jaeger"}, "LAMBDA_TRACER_PROPAGATORS"),
        ({"LAMBDA_TRACER_PROPAGATORS": "x" * 100_000}, "LAMBDA_TRACER_PROPAGATORS"),
        ({"LAMBDA_TRACER_OTEL_INSTRUMENTATIONS": "../etc,$(reboot)"}, "LAMBDA_TRACER_OTEL_INSTRUMENTATIONS"),
        ({"LAMBDA_TRACER_OTEL_INSTRUMENTATIONS": "nonexistent"}, "opentelemetry-instrumentation-nonexistent"),
    ],
)
def test_without_opentelemetry_nothing_of_it_loads_and_bad_settings_warn_once(
    layer_dir: Path, tmp_path: Path, endpoint: str, env: dict[str, str], warning: str | None
) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": IMPORTS_NOTHING})
    with LocalLambda(fn_dir, opt_dirs=[layer_dir], wrapper=True, env=env) as fn:
        first, second = fn.invoke({"url": endpoint}), fn.invoke({"url": endpoint})
        output = fn.output
    assert first.status == second.status == "response", output[-3000:]
    if "LAMBDA_TRACER_OTEL_INSTRUMENTATIONS" not in env:
        assert first.payload == []  # never imported on our path
    assert _Stub.seen["/plain"]["traceparent"] is None  # the default, xray only
    assert _Stub.seen["/plain"]["X-Amzn-Trace-Id"] is not None
    if warning is not None:
        assert len([line for line in output.splitlines() if warning in line]) == 1, output[-3000:]
        assert "x" * 30 not in output
    assert "Traceback" not in output
