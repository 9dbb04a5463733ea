"""The SDK bridge (backends/sdk.py): aws-xray-sdk imported only with the escape hatch, its recorder configured once
into our trace, and what it writes on our spans."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import threading
from pathlib import Path

import pytest

from lambda_env import in_a_fresh_process, invoke
from lambda_tracer import Tracer
from lambda_tracer_local.daemon import by_name

pytestmark = pytest.mark.usefixtures("memory_sender")  # what was sent, read in memory (tests/memory_sender.py)


def test_no_sdk_and_no_wrapt_for_a_traced_function_without_the_escape_hatch() -> None:
    code = (
        "import json, sys\n"
        "from lambda_tracer import Tracer\n"
        "tracer = Tracer(service='svc')\n"
        "@tracer.capture_method\n"
        "def f(x):\n"
        "    tracer.put_annotation('k', 1)\n"
        "    return x\n"
        "handler = tracer.capture_lambda_handler(lambda event, context: f(event))\n"
        "handler({}, None)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('aws_xray_sdk', 'wrapt')))))\n"
    )
    assert json.loads(in_a_fresh_process(code)) == []


#: A fresh process's handler that opens a subsegment through the escape hatch (the SDK's recorder) at each call.
HANDLER_WITH_ESCAPE_HATCH = (
    "from lambda_tracer import Tracer\n"
    "tracer = Tracer(service='svc')\n"
    "@tracer.capture_lambda_handler\n"
    "def handler(event, context):\n"
    "    with tracer.provider.in_subsegment('## work') as subsegment:\n"
    "        subsegment.put_annotation('n', event)\n"
    "    return event\n"
)
#: Printed by a fresh process: how many wrappers stand around the SDK's own ``begin_subsegment`` (ours: one).
WRAPPING_DEPTH = (
    "begin, depth = tracer.provider.begin_subsegment, 0\n"
    "while getattr(begin, '__closure__', None):\n"
    "    begin, depth = begin.__closure__[0].cell_contents, depth + 1\n"
    "print(depth)\n"
)


def test_the_escape_hatch_asked_for_at_every_invocation_keeps_working() -> None:
    """The SDK's recorder is configured into our trace once: configured again at every ``tracer.provider``, its
    methods were wrapped a level deeper each time, and after about a thousand invocations the user's function
    raised RecursionError."""
    code = (
        HANDLER_WITH_ESCAPE_HATCH
        + "assert [handler(n, None) for n in range(1200)] == list(range(1200))\n"
        + WRAPPING_DEPTH
    )
    assert in_a_fresh_process(code).strip() == "1"  # our one name-masking wrapper around the SDK's own method


def test_the_escape_hatch_works_with_an_sdk_older_than_its_begin_subsegment_without_sampling(tmp_path: Path) -> None:
    """aws-xray-sdk before 2.11 has no ``begin_subsegment_without_sampling``: a function bundling one (its task root
    comes before the layer on sys.path) had ``tracer.provider`` raise AttributeError in its handler, at every
    invocation, and the recorder was configured again (its methods wrapped a level deeper) each time. The SDK here
    is the installed one with that method taken out, as it was before 2.11."""
    import aws_xray_sdk

    bundled = tmp_path / "aws_xray_sdk"
    shutil.copytree(Path(aws_xray_sdk.__file__).parent, bundled, ignore=shutil.ignore_patterns("__pycache__"))
    recorder = bundled / "core" / "recorder.py"
    source, removed = re.subn(
        r"\n    def begin_subsegment_without_sampling\(.*?(?=\n    def )", "", recorder.read_text(), flags=re.S
    )
    assert removed == 1
    recorder.write_text(source)
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
        "import aws_xray_sdk.core.recorder as sdk\n"
        "assert not hasattr(sdk.AWSXRayRecorder, 'begin_subsegment_without_sampling')\n"
        + HANDLER_WITH_ESCAPE_HATCH
        + "assert [handler(n, None) for n in range(3)] == [0, 1, 2]\n"
        "print(type(tracer.provider.context).__name__)\n" + WRAPPING_DEPTH
    )
    assert in_a_fresh_process(code).split() == ["BridgeContext", "1"]


def test_escape_hatch_metadata_on_our_subsegment_is_serialized_and_no_private_fields_leak() -> None:
    tracer = Tracer(service="svc")

    class Order:
        def __init__(self) -> None:
            self.total = 3

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> str:
        tracer.provider.current_subsegment().put_metadata("order", Order(), "shop")
        return "ok"

    doc = by_name(invoke(handler).documents, "## handler")
    assert doc["metadata"]["shop"] == {"order": {"total": 3}}
    assert not [key for key in doc if key.startswith("_")]


def test_an_exception_the_escape_hatchs_subsegment_records_loses_a_refused_header_value() -> None:
    """The SDK writes the cause of its own subsegment: its messages get the tracer's masks before it is sent, the header
    value an HTTP client refused (quoted alone in the message, nothing to recognise it by) replaced too."""
    import http.client

    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> str:
        try:
            with tracer.provider.in_subsegment("## call"):
                connection = http.client.HTTPConnection("127.0.0.1", 9)  # refused before anything is sent
                connection.request("GET", "/", headers={"X-Api-Key": "k-hdr-7c1d\n"})
        except ValueError as error:
            return str(error)
        return "sent"

    call = invoke(handler, expect=2)
    assert call.result == "Invalid header value b'k-hdr-7c1d\\n'"  # the caller's exception, as raised
    [exception] = by_name(call.documents, "## call")["cause"]["exceptions"]
    assert exception["message"] == "Invalid header value [REDACTED]"
    assert "k-hdr-7c1d" not in json.dumps(by_name(call.documents, "## call"))


def test_escape_hatch_in_subsegment_async_with_gather() -> None:
    tracer = Tracer(service="svc")

    async def one(name: str) -> None:
        async with tracer.provider.in_subsegment_async(name) as subsegment:
            subsegment.put_annotation(key="key", value=name)
            await asyncio.sleep(0.01 if name == "## a" else 0)

    async def both() -> None:
        await asyncio.gather(one("## a"), one("## b"))

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> str:
        asyncio.run(both())
        return "done"

    call = invoke(handler, expect=3)
    assert call.error is None
    handler_id = by_name(call.documents, "## handler")["id"]
    assert by_name(call.documents, "## a")["parent_id"] == handler_id
    assert by_name(call.documents, "## b")["parent_id"] == handler_id


def test_a_trace_entity_handed_to_a_thread_is_the_parent_of_its_subsegments() -> None:
    """The SDK's way to trace in a thread: ``set_trace_entity`` with an entity of the invocation's thread, then
    subsegments under it. The entity was pushed on the thread's stack before the thread had read the trace header,
    and that first read emptied the stack: the thread's subsegments hung from the function's segment instead."""
    tracer = Tracer(service="svc")
    recorder = tracer.provider

    def worker(entity: object) -> None:
        recorder.set_trace_entity(entity)
        with recorder.in_subsegment("## in thread"):
            tracer.put_annotation("where", "thread")
        recorder.clear_trace_entities()

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> str:
        for name in ("## parallel", None):  # an SDK subsegment's entity, then our own span's (the handler's)
            with recorder.in_subsegment(name) if name else contextlib.nullcontext():
                thread = threading.Thread(target=worker, args=(recorder.get_trace_entity(),))
                thread.start()
                thread.join()
        return "done"

    call = invoke(handler, expect=4)
    assert call.error is None
    in_thread = [doc for doc in call.documents if doc["name"] == "## in thread"]
    assert [doc["parent_id"] for doc in in_thread] == [
        by_name(call.documents, "## parallel")["id"],
        by_name(call.documents, "## handler")["id"],
    ]
    assert all(doc["annotations"] == {"where": "thread"} for doc in in_thread)


def test_one_invocation_does_not_import_the_sdk_until_the_escape_hatch_is_used() -> None:
    """Our backend needs nothing of the SDK; ``tracer.provider`` is the SDK's recorder, recording into our trace."""
    code = """
import json, os, sys
os.environ["_X_AMZN_TRACE_ID"] = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
from lambda_tracer import Tracer
tracer = Tracer(service="svc")
handler = tracer.capture_lambda_handler(lambda event, context: 1)
handler({}, None)
before = "aws_xray_sdk" in sys.modules or "wrapt" in sys.modules
recorder = tracer.provider
from aws_xray_sdk.core import xray_recorder
print(json.dumps({"before": before, "after": "aws_xray_sdk.core.recorder" in sys.modules,
                  "same": recorder is xray_recorder,
                  "context": type(xray_recorder.context).__name__}))
"""
    probe = json.loads(in_a_fresh_process(code).splitlines()[-1])
    assert probe == {"before": False, "after": True, "same": True, "context": "BridgeContext"}
