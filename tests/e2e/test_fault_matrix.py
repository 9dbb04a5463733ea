"""Fault injection: every scenario runs with and without the layer, and the caller must see no difference.

Each scenario is a small function (module source + event + environment). It runs once in a sandbox
with the built layer behind the exec wrapper, and once bare. We compare what a caller observes (status,
response body, errorType, errorMessage) and how many times the handler ran. Zero differences is the bar.
Faults inside the tracer are injected by the function module itself: it replaces tracer internals
when ``lambda_tracer`` is importable (with the layer), which is a no-op without it.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lambda_tracer_local.runtime import Invocation, LocalLambda

from .support import names

HANDLER_COUNTER = """
import os as _os

def _ran():
    with open(_os.environ["COUNTER_FILE"], "a") as _counter:
        _counter.write("handler\\n")

def _fired():  # an injected fault was hit: without this, a fault the tracer no longer reaches proves nothing
    with open(_os.environ["FAULT_FILE"], "a") as _faults:
        _faults.write("fault\\n")
"""

# Module-level setup that breaks a piece of the tracer (only when the layer is there).
BREAK_TRACER = """
try:
    import lambda_tracer
except ImportError:  # the run without the layer
    _target = None
else:
    import lambda_tracer.{module} as _target  # with the layer, the part to break must exist

def _boom(*args, **kwargs):
    _fired()
    raise RuntimeError("injected tracer fault")

class _Broken:  # a broken object (a ContextVar cannot have a method replaced): every method of it is _boom
    def __getattr__(self, name):
        return _boom

if _target is not None:
    getattr({owner}, "{attribute}")  # what is broken must exist (setattr alone would add it, breaking nothing)
    setattr({owner}, "{attribute}", {broken})
"""

# The tracer sends through ``_socket`` (socket.py is not imported at a cold start): break that one.
BREAK_UDP = """
import _socket

class _FailingSocket(_socket.socket):
    def send(self, *args):
        _fired()
        raise {error}

    sendto = send

_socket.socket = _FailingSocket
"""

OK_BODY = 'return {"ok": True, "n": event.get("n")}'


@dataclass
class Scenario:
    name: str
    body: str = OK_BODY
    setup: str = ""
    env: dict[str, str] = field(default_factory=dict)
    trace_header: str | None = "fresh"
    event: Any = field(default_factory=lambda: {"n": 1})
    #: With the layer, the handler subsegment must arrive (proves the scenario ran traced).
    traced: bool = True
    #: With the layer, this must be in the output (proves the fault was injected and reported).
    reported: str | None = None
    #: With the layer, the injected fault (``_fired``) must have been hit in every invocation (at least as many
    #: times): a fault the handler path no longer reaches proves nothing.
    fires: bool = False
    #: Invocations of one sandbox (``n`` = 1, 2, ... in the event): the first is cold, the others take the warm path.
    invocations: int = 1


def _breaks(
    phase: str, module: str, attribute: str, *, owner: str = "_target", body: str = OK_BODY, broken: str = "_boom"
) -> Scenario:
    """``owner.attribute`` (in ``lambda_tracer.module``) replaced by ``broken`` (a function raising RuntimeError, or an
    object whose every method is it), in a sandbox invoked cold and warm: the fault must be hit in each invocation
    (``fires``), and ``span.report``'s warning for ``phase`` be the only sign of it."""
    setup = BREAK_TRACER.format(module=module, owner=owner, attribute=attribute, broken=broken)
    return Scenario(
        f"tracer fault while {phase}: {module}.{attribute}",
        body=body,
        setup=setup,
        traced=False,
        fires=True,
        invocations=2,
        reported=f"tracing failed while {phase} (the function is unaffected): RuntimeError",
    )


def _udp_fault(name: str, error: str) -> Scenario:
    """Every datagram send raising ``error`` (a Python expression), cold and warm: reported once, by its type."""
    kind = error.partition("(")[0]
    return Scenario(
        f"udp send: {name}",
        setup=BREAK_UDP.format(error=error),
        traced=False,
        reported=f"tracing failed while closing a subsegment (the function is unaffected): {kind}",
        fires=True,
        invocations=2,
    )


RAISES_VALUE_ERROR = 'raise ValueError("card declined for " + str(event.get("n")))'
SECRET_PER_INVOCATION = 'return {"password": "hunter2", "n": event.get("n")}'

SCENARIOS = [
    # Where the documents go.
    Scenario("daemon unreachable", env={"AWS_XRAY_DAEMON_ADDRESS": "203.0.113.1:2000"}, traced=False),
    Scenario("daemon address malformed", env={"AWS_XRAY_DAEMON_ADDRESS": "not an address"}, traced=False),
    Scenario("daemon port closed", env={"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:1"}, traced=False),
    _udp_fault("message too long", "OSError(90, 'Message too long')"),
    # The socket is connected: a refusal is sent again once (udp.Sender), then reported.
    _udp_fault("connection refused", "ConnectionRefusedError(111, 'refused')"),
    _udp_fault("permission denied", "PermissionError(1, 'denied')"),
    # The trace header the runtime hands over.
    Scenario("trace header missing", trace_header=None, traced=False),
    Scenario("trace header malformed", trace_header="garbage;;=", traced=False),
    Scenario(
        "trace header unsampled",
        trace_header="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
        traced=False,
    ),
    Scenario(
        "trace header with spaces",
        trace_header="Root=1-5759e988-bd862e3fe1be46a994272794; Parent=53995c3f42cd8ad8; Sampled=1",
        traced=False,
    ),
    # The tracer's own code raising, at each phase.
    # Opening: whether a handler subsegment is open already, then the span.
    _breaks("starting the handler subsegment", "tracer", "_handler_active", broken="_Broken()"),
    _breaks("starting the handler subsegment", "backends.xray", "start_span", owner="_target.BACKEND"),
    # Annotations (ColdStart, Service, InitType): taken before the span opens.
    _breaks("starting the handler subsegment", "coldstart", "handler_annotations"),
    # Response capture, and its redaction (a response of its own each invocation: never one recorded before).
    _breaks("serializing the response", "capture", "recorded_response"),
    _breaks("serializing the response", "redaction", "current", body=SECRET_PER_INVOCATION),
    # Error capture: the error's metadata, the subsegment's cause.
    _breaks("recording an exception", "capture_convert", "error_metadata", body=RAISES_VALUE_ERROR),
    _breaks(
        "recording an exception", "backends.xray", "record_exception", owner="_target.XRaySpan", body=RAISES_VALUE_ERROR
    ),
    # Closing, and sending: the document's bytes (the socket's own failures: "udp send" above).
    _breaks("closing a subsegment", "backends.xray", "end", owner="_target.XRaySpan"),
    _breaks("closing a subsegment", "backends.xray", "encoded", owner="_target.XRaySpan"),
    # Responses.
    Scenario("response None", body="return None"),
    Scenario("response bytes", body='return b"\\x00\\xffbinary"'),
    Scenario("response Decimal", body='import decimal\n    return {"price": decimal.Decimal("1.50")}'),
    Scenario("response datetime", body='import datetime\n    return {"at": datetime.datetime(2026, 1, 2)}'),
    Scenario("response set", body="return {1, 2, 3}"),
    Scenario("response self-referencing dict", body='d = {"a": 1}\n    d["self"] = d\n    return d'),
    Scenario(
        "response object with hostile dunders",
        setup="""
class Hostile:
    def __repr__(self): raise RuntimeError("repr")
    def __str__(self): raise RuntimeError("str")
    def __iter__(self): raise RuntimeError("iter")
    def __getattr__(self, name): raise RuntimeError("getattr " + name)
""",
        body="return Hostile()",
    ),
    Scenario("response generator", body="return (n for n in range(3))"),
    Scenario("response open file", body='return open(__file__, "rb")'),
    Scenario("response 10 MB string", body='return "x" * (10 * 1024 * 1024)'),
    Scenario("response NaN", body='return {"v": float("nan")}'),
    Scenario("response secrets", body='return {"password": "hunter2", "user": "ann"}'),
    # Exceptions.
    Scenario("exception ValueError", body=RAISES_VALUE_ERROR),
    Scenario(
        "exception whose __str__ raises",
        setup="class Nasty(Exception):\n    def __str__(self): raise RuntimeError('no str')\n",
        body="raise Nasty()",
        traced=False,  # awslambdaric itself dies calling str() on it, layer or not
    ),
    Scenario(
        "exception chained",
        body='try:\n        {}["missing"]\n'
        '    except KeyError as inner:\n        raise RuntimeError("outer") from inner',
    ),
    Scenario("exception with 1 MB message", body='raise ValueError("m" * 1_000_000)'),
    Scenario("exception RecursionError", setup="def _down(n): return _down(n + 1)\n", body="return _down(0)"),
    Scenario("SystemExit", body="raise SystemExit(3)", traced=False),
    Scenario("KeyboardInterrupt", body="raise KeyboardInterrupt()", traced=False),
    # Shapes of handlers.
    Scenario(
        "extra keyword arguments",
        setup="""
import functools
def inject(fn):
    @functools.wraps(fn)
    def wrapper(event, context):
        return fn(event, context, tenant="t-1")
    return wrapper
""",
        body='return {"tenant": kwargs["tenant"]}',
    ),
    Scenario(
        "threads in the handler",
        body="from concurrent.futures import ThreadPoolExecutor\n"
        "    with ThreadPoolExecutor(4) as pool:\n"
        "        return sorted(pool.map(lambda n: n * n, range(8)))",
    ),
    Scenario(
        "asyncio.gather in the handler",
        body="import asyncio\n"
        "    async def one(n):\n"
        "        await asyncio.sleep(0.001 * (3 - n))\n"
        "        return n\n"
        "    async def main():\n"
        "        return await asyncio.gather(*(one(n) for n in range(3)))\n"
        "    return asyncio.run(main())",
    ),
]


def _module(scenario: Scenario) -> str:
    """The function module: counter, setup, then the handler (decorated when the scenario injects kwargs)."""
    decorated = "@inject\n" if "def inject" in scenario.setup else ""
    signature = "event, context, **kwargs"
    return (
        HANDLER_COUNTER
        + textwrap.dedent(scenario.setup)
        + f"\n{decorated}def handler({signature}):\n    _ran()\n    {scenario.body}\n"
    )


def _count(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _run(scenario: Scenario, tmp: Path, layer: Path | None) -> tuple[list[Invocation], int, str, list[int]]:
    """The invocations, how many times the handler ran, the sandbox's output, and how many times a fault was hit in
    each invocation (a fault is hit before the runtime gets the answer: the tracer closes the span first)."""
    function = tmp / ("with" if layer else "without")
    function.mkdir()
    (function / "app.py").write_text(_module(scenario))
    counter, faults = tmp / f"counter-{function.name}", tmp / f"faults-{function.name}"
    env = {"COUNTER_FILE": str(counter), "FAULT_FILE": str(faults), "POWERTOOLS_SERVICE_NAME": "faults", **scenario.env}
    invocations, fired = [], []
    with LocalLambda(function, opt_dirs=[layer] if layer else [], wrapper=layer is not None, env=env, timeout=60) as fn:
        for n in range(1, scenario.invocations + 1):
            event = {**scenario.event, "n": n} if isinstance(scenario.event, dict) and "n" in scenario.event else None
            event = scenario.event if event is None else event
            if scenario.trace_header == "fresh":
                invocations.append(fn.invoke(event))
            else:
                invocations.append(fn.invoke(event, trace_header=scenario.trace_header))
            fired.append(_count(faults) - sum(fired))
        output = fn.output
    return invocations, _count(counter), output, fired


def _observable(invocation: Invocation) -> dict[str, Any]:
    if invocation.status == "exited":  # the runtime itself died: compare how, not its temp paths
        return {"status": "exited", "exit_code": invocation.exit_code}
    return {
        "status": invocation.status,
        "body": invocation.body if invocation.status == "response" else None,
        "errorType": invocation.error_type,
        "errorMessage": invocation.error_message,
    }


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario_behaves_exactly_as_without_the_layer(scenario: Scenario, layer_dir: Path, tmp_path: Path) -> None:
    bares, bare_runs, bare_output, _ = _run(scenario, tmp_path, None)
    traceds, traced_runs, traced_output, fired = _run(scenario, tmp_path, layer_dir)
    assert [_observable(t) for t in traceds] == [_observable(b) for b in bares], (
        f"difference with the layer:\n{traced_output[-3000:]}"
    )
    assert traced_runs == bare_runs == scenario.invocations, (traced_runs, bare_runs)
    if scenario.fires:  # in every invocation: a fault only the cold path reaches leaves the warm one untested
        assert all(fired), f"injected fault hit {fired} times by invocation\n{traced_output[-3000:]}"
    if scenario.reported is not None:
        # Once per cause (config.report_once), however many invocations hit it.
        assert traced_output.replace(bare_output, "").count(scenario.reported) == 1, traced_output[-3000:]
    for traced, bare in zip(traceds, bares, strict=True):
        if scenario.traced:
            assert "## handler" in names(traced.documents), traced_output[-3000:]
        assert "Traceback" not in traced_output.replace(bare_output, "") or traced.status != "response"
        if traced.status == "error" and bare.stack_trace:
            # One frame of ours stays: the wrapper is a Python function between the runtime and the handler, and
            # Python records every frame an exception passes through. Nothing else of ours appears.
            ours = [frame for frame in traced.stack_trace or [] if "lambda_tracer" in frame]
            assert len(ours) == 1 and "tracer.py" in ours[0] and "in decorate" in ours[0], traced.stack_trace
            assert len(traced.stack_trace or []) == len(bare.stack_trace) + 1


def test_the_matrix_is_big_enough() -> None:
    assert len(SCENARIOS) >= 30


def test_redaction_reaches_the_wire(layer_dir: Path, tmp_path: Path) -> None:
    scenario = next(s for s in SCENARIOS if s.name == "response secrets")
    [traced], *_ = _run(scenario, tmp_path, layer_dir)
    assert traced.payload == {"password": "hunter2", "user": "ann"}  # the caller gets the real value
    [handler] = [d for d in traced.documents if d["name"] == "## handler"]
    assert handler["metadata"]["faults"]["handler response"] == {"password": "[REDACTED]", "user": "ann"}
