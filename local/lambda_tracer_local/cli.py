"""``lambda-tracer-local``: run your function directory locally with the layer and see each invocation's trace.

    lambda-tracer-local path/to/function --event '{"order_id": "o-1"}' --invocations 2

The function runs under the real runtime client (awslambdaric) with the layer unpacked as ``/opt``, the
exec wrapper set (``--zero-code``, the default) or not (``--in-code``), and an X-Ray daemon stand-in
that receives what the tracer sends, so what you see is what X-Ray would get from Lambda. Each invocation
shows what ``sam local invoke`` shows (the function's output between START and END, then REPORT; init output
before the first START) unless ``--quiet``, then its response and trace tree. Mistakes on
the command line are reported in one line with exit status 2 before anything starts; exit status 1 means
an invocation did not return a response (handler error, init or restore error, crash or timeout).

Two other execution models of Lambda (see ``LocalLambda``):

    lambda-tracer-local path/to/function --max-concurrency 2 --invocations 4    # Lambda Managed Instances
    lambda-tracer-local path/to/function --snap-start --restores 2               # SnapStart

``--max-concurrency N`` runs N worker processes and sends the invocations N at a time, each batch printed in
order once it is done, with the worker that ran each one. ``--snap-start`` initialises the function once, then
sends all the events to each of ``--restores K`` sandboxes restored from that snapshot in turn.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import re
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
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
#: Lambda's valid range of ``PerExecutionEnvironmentMaxConcurrency`` (Managed Instances), which awslambdaric
#: turns into that many worker processes.
MAX_CONCURRENCY = 1600


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
    parser.add_argument(
        "--exporter",
        choices=("xray", "otlp"),
        default=None,
        help="LAMBDA_TRACER_EXPORTER: X-Ray documents, or OTLP spans (shown as segments, with kind and attributes)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write responses, logs and raw segment documents here")
    parser.add_argument(
        "--quiet", action="store_true", help="hide the function's output and the START/END/REPORT lines"
    )
    parser.add_argument(
        "--html", type=Path, default=None, metavar="PATH", help="write a trace timeline page here (self-contained)"
    )
    parser.add_argument(
        "--max-concurrency",
        default=None,
        metavar="N",
        help="Lambda Managed Instances: N worker processes, invocations sent N at a time",
    )
    parser.add_argument(
        "--snap-start", action="store_true", help="SnapStart: initialise once, invoke sandboxes restored from it"
    )
    parser.add_argument(
        "--restores",
        default=None,
        metavar="K",
        help="with --snap-start: send the events to K restored sandboxes in turn (default: 1)",
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
            events.append(Event(json.loads(text, parse_constant=_not_json), source))
        except json.JSONDecodeError as error:
            raise UsageError(f"{source}: not JSON: {error.msg} at line {error.lineno} column {error.colno}")
        except ValueError as error:  # NaN, Infinity: Python's json takes them, JSON (and Lambda's Invoke) does not
            raise UsageError(f"{source}: not JSON: {error}")
    return events


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


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


def check_max_concurrency(value: str | None) -> int | None:
    if value is None:
        return None
    number = _whole(value)
    if number is None or not 1 <= number <= MAX_CONCURRENCY:
        raise UsageError(f"bad --max-concurrency {value!r}: a number of workers from 1 to {MAX_CONCURRENCY}")
    return number


def check_restores(value: str | None, snap_start: bool, max_concurrency: int | None) -> int:
    """How many restored sandboxes to invoke (1 by default); only SnapStart restores."""
    if snap_start and max_concurrency is not None:
        raise UsageError(
            "--max-concurrency and --snap-start cannot be combined: Managed Instances do not support SnapStart"
        )
    if value is None:
        return 1
    if not snap_start:
        raise UsageError(f"--restores {value}: only with --snap-start (restored sandboxes are SnapStart's)")
    number = _whole(value)
    if number is None or number < 1:
        raise UsageError(f"bad --restores {value!r}: a number of restored sandboxes, at least 1")
    return number


def _whole(text: str) -> int | None:
    return int(text) if re.fullmatch(r"\s*[+-]?\d+\s*", text) else None


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


@dataclass
class Session:
    """What the invocations printed so far leave behind: the --json records, the --html entries, a failure."""

    quiet: bool
    records: list[dict[str, Any]] = field(default_factory=list)
    timelines: list[dict[str, Any]] = field(default_factory=list)
    failed: bool = False
    init_failed: bool = False
    #: A timeout killed the runtime process (and with it the workers or the snapshot): nothing more can run.
    killed: bool = False

    def timed_out(self, error: LocalLambdaError) -> None:
        """A timeout (the process was killed), or a restored sandbox that never came."""
        print(textwrap.indent(str(error), "    "), flush=True)
        self.failed = self.killed = True

    def show(self, inv: Invocation, label: str, record: dict[str, Any]) -> bool:
        """Print one invocation (its ``---`` line is out already) and keep its records; False once nothing more
        can run: init failed, or the process is gone. What init failed with is printed once."""
        if not self.quiet:
            print(textwrap.indent(log_text(inv), "    "), flush=True)
        print(textwrap.indent(render_invocation(inv), "    "), flush=True)
        self.records.append(record)
        self.timelines.append(invocation_entry(inv, label))
        if inv.status in ("error", "restore_error") and inv.stack_trace:
            print(textwrap.indent("".join(inv.stack_trace).rstrip(), "      | "), flush=True)
        if inv.status != "response":
            self.failed = True
        if inv.status == "init_error":
            if not self.init_failed:
                print("\n    init failed, the handler never ran; Lambda reports:", flush=True)
                print(textwrap.indent(json.dumps(inv.payload, indent=2, default=str), "    "), flush=True)
            self.init_failed = True
            return False
        return inv.status != "exited"


def run(args: argparse.Namespace) -> int:
    function_dir: Path = args.function_dir
    if not function_dir.is_dir():
        raise UsageError(f"function directory {function_dir} does not exist")
    handler = check_handler(args.handler)
    events = load_events(args.events)
    env = parse_env(args.env)
    if args.exporter is not None:
        env["LAMBDA_TRACER_EXPORTER"] = args.exporter
    if args.invocations < 1:
        raise UsageError(f"bad --invocations {args.invocations}: must be at least 1")
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UsageError(f"bad --timeout {args.timeout}: a positive number of seconds")
    if args.html is not None and args.html.is_dir():
        raise UsageError(f"--html {args.html} is a directory: give a file name, like trace.html")
    if args.json is not None and args.json.is_dir():
        raise UsageError(f"--json {args.json} is a directory: give a file name, like traces.json")
    max_concurrency = check_max_concurrency(args.max_concurrency)
    restores = check_restores(args.restores, args.snap_start, max_concurrency)
    layer = find_layer(args.layer)
    python = check_python(args.python)
    name = function_name(args.function_name, function_dir)
    mode = "zero-code (AWS_LAMBDA_EXEC_WRAPPER=/opt/lambda-tracer)" if args.wrapper else "in-code (no exec wrapper)"
    if max_concurrency is not None:
        mode += f", Managed Instances ({max_concurrency} worker{'s' if max_concurrency > 1 else ''})"
    elif args.snap_start:
        mode += f", SnapStart ({restores} restored sandbox{'es' if restores > 1 else ''})"
    print(f"{function_dir} handler {handler}, {mode}; layer {layer}; python {python}", flush=True)

    session = Session(quiet=args.quiet)
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
            max_concurrency=max_concurrency,
            snap_start=args.snap_start,
        )
    except (LocalLambdaError, UnsafeLayerError, OSError) as error:
        raise UsageError(str(error).splitlines()[0])
    with fn:
        if max_concurrency is not None:
            run_concurrently(fn, events, args.invocations, max_concurrency, session)
        elif args.snap_start:
            run_restored(fn, events, args.invocations, restores, session)
        else:
            run_in_turn(fn, events, args.invocations, session)
        if fn.cold_start_ms is not None:
            print(f"\ncold start (process start -> first response): {fn.cold_start_ms:.0f} ms")
    records = session.records
    if not args.wrapper and records and not any(record["documents"] for record in records):
        print("no traces: in-code mode traces only what your code decorates with Tracer (or try --zero-code)")
    if args.json is not None:
        document = {"function_dir": str(function_dir), "handler": handler, "zero_code": args.wrapper}
        try:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({**document, "invocations": records}, indent=2, default=str) + "\n")
        except OSError as error:
            raise UsageError(f"--json {args.json}: cannot write it ({error.strerror or error})")
        print(f"segment documents written to {args.json}")
    if args.html is not None:
        try:
            write_page(args.html, session.timelines, title=f"{PROG}: {name} ({handler})")
        except OSError as error:
            raise UsageError(f"--html {args.html}: cannot write it ({error.strerror or error})")
        print(f"trace timeline written to {args.html}")
    return 1 if session.failed else 0


def invoke_in_turn(
    fn: LocalLambda, events: list[Event], total: int, session: Session
) -> Iterator[tuple[int, Event, str, Invocation]]:
    """``total`` invocations one at a time, the events in turn, each announced by its ``---`` line: (index, event,
    label, invocation). Ends early after a timeout (the process was killed: ``session.killed``)."""
    for index in range(total):
        event = events[index % len(events)]
        label = f"invocation {index + 1}/{total}: event {describe(event)}"
        print(f"\n--- {label}", flush=True)
        try:
            inv = fn.invoke(event.value)
        except LocalLambdaError as error:  # a timeout: the process (and a SnapStart snapshot with it) was killed
            session.timed_out(error)
            return
        yield index, event, label, inv


def run_in_turn(fn: LocalLambda, events: list[Event], invocations: int, session: Session) -> None:
    """One sandbox, one invocation at a time (on-demand Lambda)."""
    for index, event, label, inv in invoke_in_turn(fn, events, len(events) * invocations, session):
        if not session.show(inv, label, as_json(index + 1, event, inv)):
            return


def run_concurrently(fn: LocalLambda, events: list[Event], invocations: int, workers: int, session: Session) -> None:
    """Managed Instances: ``workers`` invocations at a time, each batch printed in order once all of it is done
    (all of it: after a timeout or a crash too, the others of the batch are shown as they ended)."""
    total = len(events) * invocations
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="invoke")
    try:
        for first in range(0, total, workers):
            batch = [(index, events[index % len(events)]) for index in range(first, min(first + workers, total))]
            futures = [pool.submit(fn.invoke, event.value) for _, event in batch]
            go_on = True
            for (index, event), future in zip(batch, futures, strict=True):
                try:
                    inv = future.result()
                except LocalLambdaError as error:  # a timeout: the process (all the workers) was killed
                    print(f"\n--- invocation {index + 1}/{total}: event {describe(event)}", flush=True)
                    session.timed_out(error)
                    go_on = False
                    continue
                worker = "" if inv.worker is None else f" (worker {inv.worker})"
                label = f"invocation {index + 1}/{total}{worker}: event {describe(event)}"
                print(f"\n--- {label}", flush=True)
                go_on = session.show(inv, label, {**as_json(index + 1, event, inv), "worker": inv.worker}) and go_on
            if not go_on:
                return
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def run_restored(fn: LocalLambda, events: list[Event], invocations: int, restores: int, session: Session) -> None:
    """SnapStart: init once, then every event to each of ``restores`` sandboxes restored from the snapshot."""
    total = len(events) * invocations
    for sandbox in range(1, restores + 1):
        try:
            pid = fn.restore()
        except LocalLambdaError as error:  # init or the before-snapshot hooks never finished: killed
            print(f"\n--- restored sandbox {sandbox}/{restores}", flush=True)
            session.timed_out(error)
            return
        except ConnectionError:  # the process died with the request unread (an init error): invoke says why
            pid = None
        where = "none: init did not reach the snapshot" if pid is None else f"process {pid}"
        print(f"\n--- restored sandbox {sandbox}/{restores} ({where})", flush=True)
        for index, event, label, inv in invoke_in_turn(fn, events, total, session):
            record = {
                **as_json(index + 1, event, inv),
                "restored_sandbox": sandbox,
                "worker": inv.worker,
                "restore_duration_ms": inv.restore_duration_ms,
            }
            if not session.show(inv, f"restored sandbox {sandbox}/{restores}, {label}", record):
                return
            if inv.status == "restore_error":  # the sandbox is gone; the next one is restored afresh
                if index + 1 < total:
                    print("\n    the restore failed: this sandbox's other invocations were not sent", flush=True)
                break
        if session.killed:
            return


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
