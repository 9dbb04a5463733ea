"""The recording seam: our own X-Ray backend's documents, the daemon address, and a user's provider called
exactly as the reference calls it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from lambda_env import invoke
from lambda_tracer import Tracer
from lambda_tracer.backends import udp, xray, xray_documents
from lambda_tracer_local.daemon import by_name

# -- a user's provider -------------------------------------------------------------------------------


class RecordingSegment:
    def __init__(self, calls: list[tuple[Any, ...]], name: str) -> None:
        self.calls, self.name = calls, name

    def put_annotation(self, key: str, value: Any) -> None:
        self.calls.append(("segment.put_annotation", self.name, key, value))

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.calls.append(("segment.put_metadata", self.name, key, value, namespace))


class RecordingProvider:
    """A duck-typed provider, as users write them to unit-test or to trace to another vendor."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    @contextlib.contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[RecordingSegment]:
        self.calls.append(("in_subsegment", name))
        try:
            yield RecordingSegment(self.calls, str(name))
        except BaseException as error:
            self.calls.append(("exit", name, type(error).__name__))
            raise
        self.calls.append(("exit", name, None))

    @contextlib.asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> AsyncIterator[RecordingSegment]:
        self.calls.append(("in_subsegment_async", name))
        yield RecordingSegment(self.calls, str(name))
        self.calls.append(("exit_async", name, None))

    def put_annotation(self, key: str, value: Any) -> None:
        self.calls.append(("put_annotation", key, value))

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.calls.append(("put_metadata", key, value, namespace))

    def patch(self, modules: Any) -> None:
        self.calls.append(("patch", list(modules)))

    def patch_all(self) -> None:
        self.calls.append(("patch_all",))


@pytest.mark.parametrize("disabled", [False, True])
def test_a_custom_provider_is_called_as_the_reference_calls_it(disabled: bool) -> None:
    provider = RecordingProvider()
    tracer = Tracer(service="booking", provider=provider, disabled=disabled, auto_patch=False)

    @tracer.capture_method
    async def fetch() -> str:
        return "fetched"

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        tracer.put_annotation("customer", "c-1")
        tracer.put_metadata("cart", {"items": 2})
        return asyncio.run(fetch())

    assert handler({}, None) == "fetched"
    calls = provider.calls
    assert calls[0] == ("in_subsegment", "## handler")  # called while disabled too: disabled stops X-Ray only
    assert ("segment.put_annotation", "## handler", "ColdStart", True) in calls
    assert ("segment.put_annotation", "## handler", "Service", "booking") in calls
    assert not any(call[2:3] == ("InitType",) for call in calls)  # exactly the reference's annotations
    assert (
        "in_subsegment_async",
        f"## {__name__}.test_a_custom_provider_is_called_as_the_reference_calls_it.locals.fetch",
    ) in calls
    assert ("segment.put_metadata", "## handler", "handler response", "fetched", "booking") in calls
    if disabled:  # the reference drops these when disabled
        assert not any(call[0] in ("put_annotation", "put_metadata") for call in calls)
    else:
        assert ("put_annotation", "customer", "c-1") in calls
        assert ("put_metadata", "cart", {"items": 2}, "booking") in calls
    assert calls[-1] == ("exit", "## handler", None)


def test_a_custom_provider_sees_exceptions_and_patching() -> None:
    provider = RecordingProvider()
    tracer = Tracer(service="booking", provider=provider)  # auto_patch: patch_all(), as the reference
    tracer.patch(["boto3", "requests"])

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError):
        handler({}, None)
    assert ("patch_all",) in provider.calls and ("patch", ["boto3", "requests"]) in provider.calls
    assert provider.calls[-1] == ("exit", "## handler", "KeyError")
    errors = [call for call in provider.calls if call[0] == "segment.put_metadata" and call[2] == "handler error"]
    assert errors and errors[0][3]["type"] == "KeyError"


# -- our own backend ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("memory_sender")  # what was sent, read in memory (tests/memory_sender.py)
def test_a_span_whose_parent_ended_first_is_still_sent_complete() -> None:
    """A generator first advanced inside a traced function that returns it outlives that function's span."""
    tracer = Tracer(service="svc")

    @tracer.capture_method
    def numbers() -> Iterator[int]:
        yield 1
        yield 2

    @tracer.capture_method
    def start() -> Iterator[int]:
        generator = numbers()
        next(generator)
        return generator

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> list[int]:
        generator = start()
        return list(generator)

    call = invoke(handler, expect=3)
    assert call.result == [2]
    gen = by_name(
        call.documents, f"## {__name__}.test_a_span_whose_parent_ended_first_is_still_sent_complete.locals.numbers"
    )
    starter = by_name(
        call.documents, f"## {__name__}.test_a_span_whose_parent_ended_first_is_still_sent_complete.locals.start"
    )
    assert gen["parent_id"] == starter["id"] and "end_time" in gen and not gen.get("in_progress")
    assert gen["end_time"] > starter["end_time"]


def test_documents_stay_under_64000_bytes(daemon: Any) -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        for n in range(10):
            tracer.put_metadata(f"chunk{n}", "z" * 15_000)
        raise ValueError("x" * 900)

    call = invoke(handler)
    assert max(daemon.datagram_sizes) <= 64_000 + len(udp.HEADER)
    doc = by_name(call.documents, "## handler")
    assert (
        doc["metadata"]["lambda_tracer"]["truncated"] is True and doc["cause"]["exceptions"][0]["type"] == "ValueError"
    )


def test_the_encoder_never_writes_nan_tokens() -> None:
    body = xray_documents.encode({"a": float("nan"), "b": [float("inf"), 1.5], "c": {"d": -float("inf")}})
    assert json.loads(body) == {"a": None, "b": [None, 1.5], "c": {"d": None}}
    assert b"NaN" not in body and b"Infinity" not in body


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ("127.0.0.1", 2000)),
        ("", ("127.0.0.1", 2000)),
        ("127.0.0.2:3000", ("127.0.0.2", 3000)),
        ("udp:10.0.0.1:2000", ("10.0.0.1", 2000)),
        ("tcp:10.0.0.1:2000 udp:10.0.0.2:2001", ("10.0.0.2", 2001)),
        ("udp:10.0.0.2:2001 tcp:10.0.0.1:2000", ("10.0.0.2", 2001)),
        ("xray-daemon:2000", ("xray-daemon", 2000)),
        ("[::1]:2000", ("::1", 2000)),
    ],
)
def test_daemon_address_forms(raw: str | None, expected: tuple[str, int]) -> None:
    assert udp.parse_address(raw) == expected


@pytest.mark.parametrize(
    "raw", ["not an address", "host", "host:0", "host:99999", "tcp:h:1", "udp:h:1 udp:h:2", ":2000"]
)
def test_bad_daemon_addresses_are_refused(raw: str) -> None:
    with pytest.raises(udp.AddressError):
        udp.parse_address(raw)


def test_a_forked_child_sends_through_its_own_socket() -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    sender = udp.Sender(f"127.0.0.1:{receiver.getsockname()[1]}")
    sender.send(b"{}")
    parent_socket = sender._socket
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether it got a new socket, then send through it
        udp._sender = sender
        udp._after_fork()  # what os.register_at_fork runs in a real fork (run here for the copy we use)
        sender.send(b'{"child":1}')
        os.write(write, b"new" if sender._socket is not parent_socket else b"shared")
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 16) == b"new"
    received = {receiver.recv(65_535) for _ in range(2)}
    assert received == {udp.HEADER + b"{}", udp.HEADER + b'{"child":1}'}


def test_ids_are_fresh_in_a_forked_child() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, xray.new_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 16).decode() != xray.new_id()


def _in_a_fresh_process(code: str) -> str:
    """Run ``code`` in a new interpreter with a sampled trace header and the layer's package importable (the SDK,
    wrapt and the import hooks as a cold start has them); its standard output."""
    import subprocess

    import lambda_tracer

    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    layer = os.path.dirname(os.path.dirname(lambda_tracer.__file__))
    env = {
        **os.environ,
        "LAMBDA_TASK_ROOT": "/tmp",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9",
        "PYTHONPATH": layer,
        "_X_AMZN_TRACE_ID": header,
    }
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


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
    assert json.loads(_in_a_fresh_process(code)) == []


def test_the_escape_hatch_asked_for_at_every_invocation_keeps_working() -> None:
    """The SDK's recorder is configured into our trace once: configured again at every ``tracer.provider``, its
    methods were wrapped a level deeper each time, and after about a thousand invocations the user's function
    raised RecursionError."""
    code = (
        "from lambda_tracer import Tracer\n"
        "tracer = Tracer(service='svc')\n"
        "@tracer.capture_lambda_handler\n"
        "def handler(event, context):\n"
        "    with tracer.provider.in_subsegment('## work') as subsegment:\n"
        "        subsegment.put_annotation('n', event)\n"
        "    return event\n"
        "assert [handler(n, None) for n in range(1200)] == list(range(1200))\n"
        "begin, depth = tracer.provider.begin_subsegment, 0\n"
        "while getattr(begin, '__closure__', None):\n"
        "    begin, depth = begin.__closure__[0].cell_contents, depth + 1\n"
        "print(depth)\n"
    )
    assert _in_a_fresh_process(code).strip() == "1"  # our one name-masking wrapper around the SDK's own method


def test_tracers_made_per_invocation_wait_for_the_sdk_and_opentelemetry_once() -> None:
    """Each Tracer given its own settings asks for the import hooks of the SDK and the OpenTelemetry API again;
    they are waiting once, whatever the number of Tracers (a function that makes one per invocation)."""
    code = (
        "from lambda_tracer import Tracer, instrumentation\n"
        "for n in range(20):\n"
        "    tracer = Tracer(service=f'svc{n}')\n"
        "    tracer.capture_lambda_handler(lambda event, context: event)(n, None)\n"
        "names = ('aws_xray_sdk.core', 'opentelemetry.trace', 'opentelemetry.propagate')\n"
        "print([len(instrumentation._waiting[name]) for name in names])\n"
    )
    assert _in_a_fresh_process(code).strip() == "[1, 1, 1]"


# -- SnapStart ----------------------------------------------------------------------------------------------


def test_the_first_invocation_after_each_snapstart_restore_says_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """awslambdaric runs the after-restore hooks registered with snapshot_restore_py; ours arms Restored."""
    from awslambdaric import lambda_runtime_hooks_runner

    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        return "ok"

    before = udp.sender()
    lambda_runtime_hooks_runner.run_after_restore()  # what the runtime does once restored
    assert udp._sender is None  # the restored sandbox opens its own socket
    first, second = invoke(handler).documents[0], invoke(handler).documents[0]
    assert first["annotations"] == {"ColdStart": False, "Service": "svc", "InitType": "snap-start", "Restored": True}
    assert "Restored" not in second["annotations"]
    assert udp.sender() is not before
    lambda_runtime_hooks_runner.run_after_restore()  # another restore of the same snapshot: a new sandbox
    assert invoke(handler).documents[0]["annotations"]["Restored"] is True
