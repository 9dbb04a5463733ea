"""``lambda-tracer-local``: run your function directory locally with the layer and see each invocation's trace.

    lambda-tracer-local path/to/function --event '{"order_id": "o-1"}' --invocations 2

The function runs under the real runtime client (awslambdaric) with the layer unpacked as ``/opt``, the
exec wrapper set (``--zero-code``, the default) or not (``--in-code``), and an X-Ray daemon stand-in
that receives what the tracer sends, so what you see is what X-Ray would get from Lambda. Each invocation
shows what ``sam local invoke`` shows (the function's output between START and END, then REPORT; init output
before the first START) unless ``--quiet``, then its response and trace tree. Mistakes on
the command line are reported in one line with exit status 2 before anything starts; exit status 1 means
an invocation did not return a response (handler error, init error, crash or timeout).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .html import invocation_entry, write_page
from .layers import UnsafeLayerError, check_layer
from .logs import log_record, log_text
from .render import render_invocation
from .runtime import Invocation, LocalLambda, LocalLambdaError

PROG = "lambda-tracer-local"
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LAYER = Path("dist") / "lambda-tracer-layer.zip"
ENV_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class UsageError(Exception):
    """A command-line mistake found before anything runs: one line on stderr, exit status 2."""


@dataclass(frozen=True)
class Event:
    value: Any
    source: str  # "--event #1" or the file name, to say where a bad one came from


class _Ordered(argparse.Action):
    """Collect ``--event`` and ``--event-file`` in one list, in command-line order."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        events = list(getattr(namespace, self.dest) or [])
        events.append((option_string, values))
        setattr(namespace, self.dest, events)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run a Lambda function directory locally with the lambda-tracer layer and print its traces.",
    )
    parser.add_argument("function_dir", type=Path, help="the directory Lambda would unpack your code into")
    parser.add_argument("--handler", default="app.handler", help="MODULE.FUNCTION (default: %(default)s)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--zero-code",
        dest="wrapper",
        action="store_true",
        default=True,
        help="set AWS_LAMBDA_EXEC_WRAPPER=/opt/lambda-tracer (default)",
    )
    mode.add_argument(
        "--in-code", dest="wrapper", action="store_false", help="attach the layer without the exec wrapper"
    )
    parser.add_argument("--event", dest="events", action=_Ordered, metavar="JSON", help="an event (repeatable)")
    parser.add_argument(
        "--event-file", dest="events", action=_Ordered, metavar="PATH", help="a JSON event file (repeatable)"
    )
    parser.add_argument("--invocations", type=int, default=1, metavar="N", help="send the events N times")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="function environment")
    parser.add_argument("--layer", type=Path, default=None, help=f"layer zip (default: {DEFAULT_LAYER})")
    parser.add_argument("--python", default=None, help="interpreter with awslambdaric (default: this one)")
    parser.add_argument("--function-name", default=None, help="default: the directory's name")
    parser.add_argument("--timeout", type=float, default=30.0, help="function timeout in seconds (default: 30)")
    parser.add_argument("--json", type=Path, default=None, help="write responses, logs and raw segment documents here")
    parser.add_argument(
        "--quiet", action="store_true", help="hide the function's output and the START/END/REPORT lines"
    )
    parser.add_argument(
        "--html", type=Path, default=None, metavar="PATH", help="write a trace timeline page here (self-contained)"
    )
    return parser


# ---------------------------------------------------------------- validation (before anything starts)


def check_handler(handler: str) -> str:
    """The shape the runtime accepts (``module.function``, ``dir/module.function``, ``pkg.mod.function``)."""
    module, dot, function = handler.rpartition(".")
    parts = re.split(r"[./]", module) if module else []
    if not dot or not function.isidentifier() or not parts or not all(part.strip() == part != "" for part in parts):
        raise UsageError(f"bad --handler {handler!r}: expected MODULE.FUNCTION, like app.handler")
    return handler


def load_events(specs: list[tuple[str, str]] | None) -> list[Event]:
    if not specs:
        return [Event({}, "default")]
    events: list[Event] = []
    for number, (option, text) in enumerate(specs, 1):
        if option == "--event-file":
            path = Path(text)
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise UsageError(f"--event-file {path}: no such file")
            except (OSError, UnicodeDecodeError) as error:
                raise UsageError(f"--event-file {path}: cannot read it ({error})")
            source = f"--event-file {path}"
        else:
            source = f"--event #{number}"
        try:
            events.append(Event(json.loads(text), source))
        except json.JSONDecodeError as error:
            raise UsageError(f"{source}: not JSON: {error.msg} at line {error.lineno} column {error.colno}")
    return events


def parse_env(pairs: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not ENV_KEY_RE.fullmatch(key):
            raise UsageError(f"bad --env {pair!r}: expected KEY=VALUE with KEY made of letters, digits and _")
        env[key] = value
    return env


def find_layer(layer: Path | None) -> Path:
    if layer is None:
        for candidate in (DEFAULT_LAYER, ROOT / DEFAULT_LAYER):
            if candidate.is_file():
                return candidate
        raise UsageError(
            f"no layer zip at {DEFAULT_LAYER}: build it with `make layer` in the lambda-tracer repository, "
            "or pass --layer PATH"
        )
    if not layer.is_file():
        raise UsageError(f"--layer {layer}: no such file")
    if not zipfile.is_zipfile(layer):
        raise UsageError(f"--layer {layer}: not a zip file")
    try:
        check_layer(layer)
    except UnsafeLayerError as error:
        raise UsageError(str(error))
    except zipfile.BadZipFile as error:
        raise UsageError(f"--layer {layer}: not a valid zip file ({error})")
    return layer


def check_python(python: str | None) -> str:
    """The interpreter must have awslambdaric, or the runtime dies before it can say why."""
    interpreter = python or sys.executable
    try:
        done = subprocess.run(
            [
                interpreter,
                "-I",
                "-c",
                "import importlib.util, sys; sys.exit(not importlib.util.find_spec('awslambdaric'))",
            ],
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise UsageError(f"--python {interpreter}: cannot run it ({error})")
    if done.returncode != 0:
        raise UsageError(f"{interpreter} has no awslambdaric: `{interpreter} -m pip install awslambdaric`")
    return interpreter


def function_name(name: str | None, function_dir: Path) -> str:
    """Lambda's naming rule; the default also becomes the ``Service`` annotation (no POWERTOOLS_SERVICE_NAME)."""
    if name is not None:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
            raise UsageError(f"bad --function-name {name!r}: letters, digits, '-' and '_' only (64 at most)")
        return name
    return re.sub(r"[^A-Za-z0-9_-]", "-", function_dir.resolve().name)[:64] or "local-function"


# ---------------------------------------------------------------- running


def describe(event: Event, limit: int = 100) -> str:
    text = json.dumps(event.value, separators=(",", ":"))
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text if event.source in ("default",) or event.source.startswith("--event #") else f"{event.source}: {text}"


def as_json(index: int, event: Event, inv: Invocation) -> dict[str, Any]:
    record: dict[str, Any] = {
        "invocation": index,
        "event": event.value,
        "status": inv.status,
        "request_id": inv.request_id,
        "trace_id": inv.trace_id,
        "parent_id": inv.parent_id,
        "duration_ms": inv.duration_ms,
        "round_trip_ms": inv.round_trip_ms,
    }
    payload = inv.payload.decode("utf-8", "replace") if isinstance(inv.payload, bytes) else inv.payload
    if inv.status == "response":
        record["response"] = payload
    else:
        record["error"] = {
            "errorType": inv.error_type,
            "errorMessage": inv.error_message,
            "stackTrace": inv.stack_trace,
        }
    record.update(log_record(inv))
    record["documents"] = inv.documents
    return record


def run(args: argparse.Namespace) -> int:
    function_dir: Path = args.function_dir
    if not function_dir.is_dir():
        raise UsageError(f"function directory {function_dir} does not exist")
    handler = check_handler(args.handler)
    events = load_events(args.events)
    env = parse_env(args.env)
    if args.invocations < 1:
        raise UsageError(f"bad --invocations {args.invocations}: must be at least 1")
    if args.timeout <= 0:
        raise UsageError(f"bad --timeout {args.timeout}: must be positive")
    if args.html is not None and args.html.is_dir():
        raise UsageError(f"--html {args.html} is a directory: give a file name, like trace.html")
    layer = find_layer(args.layer)
    python = check_python(args.python)
    name = function_name(args.function_name, function_dir)
    mode = "zero-code (AWS_LAMBDA_EXEC_WRAPPER=/opt/lambda-tracer)" if args.wrapper else "in-code (no exec wrapper)"
    print(f"{function_dir} handler {handler}, {mode}; layer {layer}; python {python}", flush=True)

    records: list[dict[str, Any]] = []
    timelines: list[dict[str, Any]] = []
    failed = False
    try:
        fn = LocalLambda(
            function_dir,
            handler,
            layer_zips=[layer],
            wrapper=args.wrapper,
            env=env,
            python=python,
            function_name=name,
            timeout=args.timeout,
        )
    except (LocalLambdaError, UnsafeLayerError, OSError) as error:
        raise UsageError(str(error).splitlines()[0])
    with fn:
        total = len(events) * args.invocations
        for index in range(total):
            event = events[index % len(events)]
            print(f"\n--- invocation {index + 1}/{total}: event {describe(event)}", flush=True)
            try:
                inv = fn.invoke(event.value)
            except LocalLambdaError as error:  # a timeout: the process was killed
                print(textwrap.indent(str(error), "    "), flush=True)
                failed = True
                break
            if not args.quiet:
                print(textwrap.indent(log_text(inv), "    "), flush=True)
            print(textwrap.indent(render_invocation(inv), "    "), flush=True)
            records.append(as_json(index + 1, event, inv))
            timelines.append(invocation_entry(inv, f"invocation {index + 1}/{total}: event {describe(event)}"))
            if inv.status == "error" and inv.stack_trace:
                print(textwrap.indent("".join(inv.stack_trace).rstrip(), "      | "), flush=True)
            if inv.status != "response":
                failed = True
            if inv.status == "init_error":
                print("\n    init failed, the handler never ran; Lambda reports:", flush=True)
                print(textwrap.indent(json.dumps(inv.payload, indent=2, default=str), "    "), flush=True)
                break
            if inv.status == "exited":
                break
        if fn.cold_start_ms is not None:
            print(f"\ncold start (process start -> first response): {fn.cold_start_ms:.0f} ms")
    if not args.wrapper and records and not any(record["documents"] for record in records):
        print("no traces: in-code mode traces only what your code decorates with Tracer (or try --zero-code)")
    if args.json is not None:
        document = {"function_dir": str(function_dir), "handler": handler, "zero_code": args.wrapper}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**document, "invocations": records}, indent=2, default=str) + "\n")
        print(f"segment documents written to {args.json}")
    if args.html is not None:
        try:
            write_page(args.html, timelines, title=f"{PROG}: {name} ({handler})")
        except OSError as error:
            raise UsageError(f"--html {args.html}: cannot write it ({error.strerror or error})")
        print(f"trace timeline written to {args.html}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
