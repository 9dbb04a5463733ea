"""``make demo``: the built layer at work on two example functions, under the real runtime, offline.

Each function runs in its own local sandbox with the layer unpacked as ``/opt`` and the exec wrapper
set, exactly as configured in Lambda. It is invoked cold, warm, and once with an event that makes it
fail (the in-code one a second time with the ``otlp`` exporter, whose OTLP spans show as segments do); for
every invocation the demo prints what the caller got and the X-Ray trace tree the daemon stand-in received,
and writes all the traces as a timeline page (build/demo-trace.html) to open in a browser.
Exit status 1 if any invocation did not end as expected (so it doubles as a smoke test).

    python -m lambda_tracer_local.demo [--layer dist/lambda-tracer-layer.zip] [--python PATH] [--html PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .daemon import XRayDaemon
from .html import invocation_entry, write_page
from .layers import UnsafeLayerError, check_layer, unpack_layer
from .render import render_invocation
from .runtime import LocalLambda

ROOT = Path(__file__).resolve().parents[2]
ORDER = {"order_id": "o-1001", "items": [{"sku": "tea", "price": 4, "qty": 3}, {"sku": "cup", "price": 12, "qty": 1}]}


@dataclass(frozen=True)
class Demo:
    title: str
    directory: str
    service: str
    invocations: tuple[tuple[str, dict[str, Any], str], ...]  # (label, event, expected status)
    env: tuple[tuple[str, str], ...] = ()  # beyond POWERTOOLS_SERVICE_NAME


DEMOS = (
    Demo(
        "Zero-code: an unchanged handler, traced by the exec wrapper",
        "zero_code",
        "orders",
        (
            ("cold start", ORDER, "response"),
            ("warm", {**ORDER, "order_id": "o-1002"}, "response"),
            ("error: no order_id", {"items": []}, "error"),
        ),
    ),
    Demo(
        "In-code: Tracer decorators, annotations and metadata (wrapper set too: still one ## handler)",
        "in_code",
        "payments",
        (
            ("cold start", ORDER, "response"),
            ("warm", {**ORDER, "order_id": "o-1002"}, "response"),
            ("error: over the credit limit", {"order_id": "o-1003", "items": [{"price": 999, "qty": 2}]}, "error"),
        ),
    ),
    Demo(
        "OpenTelemetry: the in-code function again, its spans sent as OTLP (LAMBDA_TRACER_EXPORTER=otlp)",
        "in_code",
        "payments",
        (
            ("cold start", ORDER, "response"),
            ("error: over the credit limit", {"order_id": "o-1003", "items": [{"price": 999, "qty": 2}]}, "error"),
        ),
        (("LAMBDA_TRACER_EXPORTER", "otlp"),),
    ),
)


def run_demo(
    demo: Demo,
    examples: Path,
    opt: Path,
    python: str,
    daemon: XRayDaemon,
    timelines: list[dict[str, Any]] | None = None,
) -> bool:
    """Print one function's invocations and traces; False if anything was not as expected."""
    print(f"\n=== {demo.title}")
    settings = "".join(f", {key}={value}" for key, value in demo.env)
    print(
        f"    examples/functions/{demo.directory}/app.py, handler app.handler, "
        f"POWERTOOLS_SERVICE_NAME={demo.service}{settings}"
    )
    ok = True
    with LocalLambda(
        examples / demo.directory,
        "app.handler",
        opt_dirs=[opt],
        wrapper=True,
        python=python,
        daemon=daemon,
        function_name=f"demo-{demo.directory.replace('_', '-')}",
        env={"POWERTOOLS_SERVICE_NAME": demo.service, **dict(demo.env)},
    ) as fn:
        for label, event, expected in demo.invocations:
            inv = fn.invoke(event)
            print(f"\n--- {label}: event {event}")
            print(textwrap.indent(render_invocation(inv), "    "))
            if timelines is not None:
                timelines.append(invocation_entry(inv, f"{demo.directory}: {label}, event {json.dumps(event)}"))
            if inv.status != expected or not inv.documents:
                ok = False
                print(
                    f"    !!! expected {expected} with a trace; runtime output:\n{textwrap.indent(fn.output, '    | ')}"
                )
        if fn.cold_start_ms is not None:
            print(f"\n    cold start (process start -> first response): {fn.cold_start_ms:.0f} ms")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layer", type=Path, default=ROOT / "dist" / "lambda-tracer-layer.zip", help="layer zip")
    parser.add_argument("--examples", type=Path, default=ROOT / "examples" / "functions", help="function dirs")
    parser.add_argument("--python", default=sys.executable, help="interpreter with awslambdaric (default: this one)")
    parser.add_argument(
        "--html",
        type=Path,
        default=ROOT / "build" / "demo-trace.html",
        help="trace timeline page (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if not args.layer.is_file():
        print(f"{args.layer} not found: build it first with `make layer`", file=sys.stderr)
        return 2
    try:
        check_layer(args.layer)
    except UnsafeLayerError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 2
    except zipfile.BadZipFile:
        print(f"{args.layer} is not a zip file: build it with `make layer`", file=sys.stderr)
        return 2
    ok = True
    timelines: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="lambda-tracer-demo-") as tmp, XRayDaemon() as daemon:
        opt = unpack_layer(args.layer, Path(tmp) / "opt")
        print(f"layer {args.layer} unpacked as /opt; exec wrapper /opt/lambda-tracer; python {args.python}")
        for demo in DEMOS:
            ok = run_demo(demo, args.examples, opt, args.python, daemon, timelines) and ok
    page = write_page(args.html, timelines, title="make demo: lambda-tracer on the example functions")
    print(f"\ntrace timelines: {page} (open it in a browser; click a bar for its details)")
    print("\ndemo finished" + ("" if ok else " WITH UNEXPECTED RESULTS (see !!! above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
