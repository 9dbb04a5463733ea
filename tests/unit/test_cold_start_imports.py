"""What a cold start imports: the tracer's own modules, and no heavy standard-library module of its own.

Instructions at init are mostly imports (docs/performance.md). ``typing``, ``inspect`` (with ``ast``, ``dis``,
``tokenize``), ``socket`` (with ``selectors`` and its enums) and ``importlib.util`` cost more than the whole
tracer; awslambdaric imports none of them, so the tracer must not either, on the zero-code path of an empty
function, through its first traced invocation. A new import of one of them fails here, by name.

Marked ``imports``: ``make mutation`` deselects it, because mutmut's trampolines import ``typing`` and
``inspect`` into every mutated module (a property of the mutation run, not of the tracer).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

HEAVY = ["typing", "inspect", "ast", "dis", "tokenize", "socket", "selectors", "importlib.util", "asyncio"]
#: Also kept off that path: the resolver's IDNA codec (a numeric daemon address needs no getaddrinfo),
#: fnmatch (ignore_endpoint rules), contextvars.py (the C module is imported directly), and binascii (a C extension
#: that only base64 bodies need).
NOT_IMPORTED = ["encodings.idna", "stringprep", "unicodedata", "fnmatch", "urllib.parse", "contextvars", "binascii"]
#: Every module of ours an empty function's cold start loads, through its first traced invocation: the registry of
#: library tracing (instrumentation/__init__.py) is, our instrumentation of each library and the SDK's patches are
#: not. The SDK bridge, endpoints, noop and the capture_method wrappers are imported when used, the general converter
#: (capture_convert) with the first value not recorded as it is or the first error, and the masks (redaction_masks)
#: with the first text that needs one.
OURS = {
    "lambda_tracer",
    "lambda_tracer.backends",
    "lambda_tracer.backends.udp",
    "lambda_tracer.backends.xray",
    "lambda_tracer.backends.xray_documents",
    "lambda_tracer.capture",
    "lambda_tracer.capture_json",
    "lambda_tracer.coldstart",
    "lambda_tracer.config",
    "lambda_tracer.handler",
    "lambda_tracer.instrumentation",
    "lambda_tracer.init_trace",  # the cold start's import timing (LAMBDA_TRACER_INIT_TRACE, on by default)
    "lambda_tracer.redaction",
    "lambda_tracer.redaction_text",
    "lambda_tracer.span",
    "lambda_tracer.tracer",
}
PROGRAM = """
import json, sys
import awslambdaric.bootstrap  # what the runtime imported before any handler
before = set(sys.modules)
import lambda_tracer.handler as redirect
handler = redirect.handler  # resolves and wraps the user's handler, as the runtime does at init
context = type("Context", (), {"aws_request_id": "r-1", "function_name": "fn"})()
result = handler({}, context)
print(json.dumps({"result": result, "new": sorted(set(sys.modules) - before)}))
"""


@pytest.mark.imports
def test_a_zero_code_cold_start_imports_no_heavy_module(zero_code_cold_start: Callable[..., Any]) -> None:
    app = "def handler(event, context):\n    return {'ok': 1}\n"
    with zero_code_cold_start(PROGRAM, app, AWS_LAMBDA_FUNCTION_NAME="fn") as (done, daemon):
        datagrams = [daemon.recv(70_000)]  # the invocation was traced: the sending path is included
        while b'"name":"## handler"' not in datagrams[-1]:  # after the init trace (## init and its imports)
            datagrams.append(daemon.recv(70_000))
    report = json.loads(done.stdout)
    assert report["result"] == {"ok": 1}
    assert {name for name in report["new"] if name.startswith("lambda_tracer")} == OURS
    assert [name for name in HEAVY + NOT_IMPORTED if name in report["new"]] == []


def test_every_library_we_instrument_has_its_module() -> None:
    """The registry names our instrumentation of each library without importing it: each name is a module."""
    import importlib.util

    from lambda_tracer import instrumentation

    assert set(instrumentation.MODULES) == instrumentation.OWN_INSTRUMENTATION
    for module in set(instrumentation.MODULES.values()):
        assert importlib.util.find_spec(f"lambda_tracer.instrumentation.{module}") is not None, module
