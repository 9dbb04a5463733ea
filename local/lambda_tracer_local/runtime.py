"""Run a Lambda function directory locally under the real ``awslambdaric``, started as Lambda starts it.

The process tree is the managed runtime's: our ``bootstrap`` shell script (exports
``AWS_EXECUTION_ENV``, runs ``$AWS_LAMBDA_EXEC_WRAPPER`` if any) execs the interpreter on our
``bootstrap.py`` (layer paths, task root, ``_HANDLER``), which runs awslambdaric against a Runtime API
server in this process. The environment is built from scratch like Lambda's, so nothing of the
caller's (``POWERTOOLS_*``, ``PYTHONPATH``, credentials) leaks into the function.

    with LocalLambda("fn", handler="app.handler", layer_zips=["dist/lambda-tracer-layer.zip"]) as fn:
        inv = fn.invoke({"n": 1})
        inv.status, inv.payload, inv.documents

The process starts on the first invoke (as an on-demand sandbox does), or on ``start()``.

Two of Lambda's other execution models run here too, each as close to the service as the facts allow:

* ``max_concurrency=N``, Lambda Managed Instances: awslambdaric forks N worker processes that poll ``/next`` at
  once, so ``invoke`` may be called from several threads and each call is served by an idle worker. Workers
  write to a log socket (``_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET``), so each invocation gets its own worker's
  output, and ``Invocation.worker`` says which process ran it.
* ``snap_start=True``, SnapStart: the process initialises once and runs the before-snapshot hooks; where Lambda
  would take the snapshot, it waits. ``restore()`` (called by the first ``invoke``) makes a new sandbox from that
  state with a bare ``fork(2)``, which runs none of Python's at-fork hooks, as a restored microVM runs none;
  the sandbox then asks ``/restore/next``, runs the after-restore hooks and serves the invocations until the
  next ``restore()`` replaces it. Unlike Lambda, a restored sandbox has a new process id.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import functools
import json
import math
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from .daemon import XRayDaemon, new_trace_header
from .layers import merge_layers
from .runtime_api import Pending, Request, RuntimeAPI
from .worker_logs import WorkerLogs

BOOTSTRAP_DIR = Path(__file__).parent / "bootstrap"
WRAPPER_NAME = "lambda-tracer"
ACCOUNT_ID = "123456789012"
OUTPUT_TAIL = 4000
#: How long an init error may take to turn into a process exit (awslambdaric calls sys.exit(1) right after).
EXIT_GRACE_S = 5.0
#: Lambda Managed Instances: the socket awslambdaric's workers connect their stdout and stderr to.
LOG_SOCKET_VARIABLE = "_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET"
#: Read by our bootstrap.py (and removed before the function sees them): the SnapStart simulation's control
#: socket, and where restored sandboxes send their output.
SNAPSHOT_FD_VARIABLE = "LAMBDA_TRACER_LOCAL_SNAPSHOT_FD"
RESTORED_LOG_VARIABLE = "LAMBDA_TRACER_LOCAL_LOG_SOCKET"

PathLike = str | os.PathLike[str]


class _Fresh(enum.Enum):
    TRACE_HEADER = "fresh"


#: Default of ``invoke(trace_header=...)``: a new sampled ``Root=...;Parent=...;Sampled=1`` per invocation.
FRESH = _Fresh.TRACE_HEADER


class LocalLambdaError(RuntimeError):
    """The local runtime could not do what was asked (the message says why and shows the output)."""


class InvocationTimeout(LocalLambdaError):
    """No reply within the timeout; the runtime process has been killed."""


@dataclass
class Invocation:
    """What one invoke produced, as received over the Runtime API and by the X-Ray daemon stand-in.

    ``status`` is ``response`` (the handler returned), ``error`` (it raised, or the runtime failed the
    invoke), ``init_error`` (init failed: the handler never ran), ``restore_error`` (SnapStart: an after-restore
    hook failed) or ``exited`` (the process died without answering). ``payload`` is the parsed JSON body (raw
    bytes when it is not JSON); for ``error``, ``init_error`` and ``restore_error`` it is the runtime's error
    document.
    """

    status: str
    request_id: str | None = None
    payload: Any = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    error_type: str | None = None
    error_message: str | None = None
    stack_trace: list[str] | None = None
    trace_header: str | None = None
    trace_id: str | None = None
    parent_id: str | None = None
    documents: list[dict[str, Any]] = field(default_factory=list)
    #: invoke() called -> reply received (includes init on a cold start).
    round_trip_ms: float | None = None
    #: ``/next`` reply sent -> reply received: the time the runtime spent on this event.
    duration_ms: float | None = None
    exit_code: int | None = None
    #: What the runtime process wrote (stdout and stderr, in order) while it handled this event: from the
    #: previous answer (or the end of init) to this answer. Log records and the tracer's warnings included.
    output: str = ""
    #: On the invocation that started the process (cold start): what it wrote during init (before its first
    #: ``/next``; everything, for an init error). None on a warm invocation.
    init_output: str | None = None
    #: On the cold start: process start -> first ``/next`` (or -> ``/init/error``). None when warm.
    init_duration_ms: float | None = None
    memory_size_mb: int | None = None
    #: Peak resident memory of the runtime's processes so far (Linux ``VmHWM``), in MB; None where unknown.
    max_memory_used_mb: int | None = None
    #: The process that handled it, when the runtime runs several (Managed Instances workers, restored
    #: SnapStart sandboxes); None for a single-process runtime.
    worker: int | None = None
    #: SnapStart, on the first invocation of a restored sandbox: restore asked -> its first ``/next`` (the
    #: after-restore hooks included). Lambda reports it instead of ``Init Duration``.
    restore_duration_ms: float | None = None

    @property
    def billed_duration_ms(self) -> int | None:
        """Duration rounded up to the millisecond, plus the init duration on a cold start (Lambda bills the
        INIT phase of on-demand functions since August 2025)."""
        if self.duration_ms is None:
            return None
        return math.ceil(self.duration_ms + (self.init_duration_ms or 0.0))

    @property
    def error_cause(self) -> dict[str, Any] | None:
        """The X-Ray cause the runtime sent with an invoke error (``Lambda-Runtime-Function-XRay-Error-Cause``)."""
        for key, value in self.headers.items():
            if key.lower() == "lambda-runtime-function-xray-error-cause" and value:
                with contextlib.suppress(ValueError):
                    parsed = json.loads(value)
                    return parsed if isinstance(parsed, dict) else None
        return None


class LocalLambda:
    """One local sandbox: a runtime process for ``function_dir`` with layers in a private opt dir.

    ``wrapper``: ``None`` uses ``<opt>/lambda-tracer`` when a layer provides it, ``True`` always sets it
    (a missing one fails like in Lambda, exit 127), ``False`` runs without exec wrapper, a path sets
    ``AWS_LAMBDA_EXEC_WRAPPER`` to it. ``env`` is applied last; a ``None`` value removes a variable.
    ``daemon`` defaults to a private X-Ray daemon stand-in, closed with this object.
    """

    def __init__(
        self,
        function_dir: PathLike,
        handler: str = "app.handler",
        *,
        opt_dirs: Iterable[PathLike] = (),
        layer_zips: Iterable[PathLike] = (),
        wrapper: bool | PathLike | None = None,
        env: Mapping[str, str | None] | None = None,
        python: PathLike | None = None,
        daemon: XRayDaemon | None = None,
        function_name: str = "local-function",
        memory_mb: int = 128,
        region: str = "us-east-1",
        timeout: float = 30.0,
        max_concurrency: int | None = None,
        snap_start: bool = False,
    ) -> None:
        if max_concurrency is not None and (isinstance(max_concurrency, bool) or max_concurrency < 1):
            raise LocalLambdaError(f"max_concurrency must be a positive number of workers, not {max_concurrency!r}")
        if max_concurrency is not None and snap_start:
            raise LocalLambdaError("Lambda Managed Instances do not support SnapStart: choose one")
        self.max_concurrency = max_concurrency
        self.snap_start = snap_start
        self.function_dir = Path(function_dir).resolve()
        if not self.function_dir.is_dir():
            raise LocalLambdaError(f"function directory {self.function_dir} does not exist")
        self.handler = handler
        self.function_name = function_name
        self.memory_mb = memory_mb
        self.region = region
        self.timeout = timeout
        self.python = _interpreter(python)
        self._owns_daemon = daemon is None
        self.daemon: XRayDaemon = daemon if daemon is not None else XRayDaemon()
        self._workdir = Path(tempfile.mkdtemp(prefix="lambda-tracer-local-"))
        self.api = RuntimeAPI()
        #: Output of each process of a multi-process runtime (Managed Instances workers, restored sandboxes).
        self.worker_logs: WorkerLogs | None = None
        self._control: socket.socket | None = None
        self._snapshot_end: socket.socket | None = None
        try:
            if max_concurrency is not None or snap_start:
                self.worker_logs = WorkerLogs(self._workdir / "logs.sock")
                self.api.worker_mark = self.worker_logs.mark
            if snap_start:
                self._control, self._snapshot_end = socket.socketpair()
            self.runtime_dir = self._install_bootstrap(self._workdir / "runtime")
            self.opt_dir = self._build_opt(list(opt_dirs), list(layer_zips))
            self.wrapper = self._resolve_wrapper(wrapper)
            self.env = self._build_env(memory_mb, env or {})
        except BaseException:
            self.close()
            raise
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at: float | None = None
        self.cold_start_ms: float | None = None
        self._output = bytearray()
        self._output_lock = threading.Lock()
        self._output_eof = False
        #: Output before this offset has been given to an Invocation (``init_output`` or ``output``).
        self._attributed = 0
        self._init_given = False
        self._reader: threading.Thread | None = None
        self._invoke_lock = threading.Lock()
        self._start_lock = threading.Lock()
        #: Output and answer bookkeeping, shared by concurrent invocations.
        self._books_lock = threading.Lock()
        self._answered = 0
        self._closed = False
        #: Processes that answered an invocation already (their next one is warm), and the pid each client
        #: port of the Runtime API belongs to.
        self._warm_workers: set[int] = set()
        self._port_owners: dict[int, int] = {}
        #: SnapStart: the current restored sandbox, when it was asked for, and restore errors seen so far.
        self.restored_pid: int | None = None
        #: A pidfd of the restored sandbox: readable once it died (it is the snapshot's child, not ours).
        self._restored_pidfd: int | None = None
        #: SnapStart: when init and the before-snapshot hooks were over (where Lambda takes the snapshot).
        self.snapshot_at: float | None = None
        self._restored_at: dict[int, float] = {}
        self._restore_errors_seen = 0

    # -- setup ---------------------------------------------------------------------------------

    @staticmethod
    def _install_bootstrap(runtime_dir: Path) -> Path:
        """Our LAMBDA_RUNTIME_DIR: the two boot files, executable whatever the install did to modes."""
        runtime_dir.mkdir()
        if not (BOOTSTRAP_DIR / "bootstrap.py").is_file():
            raise LocalLambdaError(
                f"{BOOTSTRAP_DIR} is missing: lambda_tracer_local was installed without its boot files"
            )
        for name in ("bootstrap", "bootstrap.py"):
            shutil.copyfile(BOOTSTRAP_DIR / name, runtime_dir / name)
        (runtime_dir / "bootstrap").chmod(0o755)
        return runtime_dir

    def _build_opt(self, opt_dirs: list[PathLike], layer_zips: list[PathLike]) -> Path:
        """A single layer dir is used in place; anything else is merged into a private one."""
        if len(opt_dirs) == 1 and not layer_zips:
            only = Path(opt_dirs[0]).resolve()
            if not only.is_dir():
                raise LocalLambdaError(f"opt dir {only} does not exist")
            return only
        return merge_layers([*opt_dirs, *layer_zips], self._workdir / "opt")

    def _resolve_wrapper(self, wrapper: bool | PathLike | None) -> Path | None:
        default = self.opt_dir / WRAPPER_NAME
        if wrapper is None:
            return default if default.is_file() else None
        if wrapper is True:
            return default
        if wrapper is False:
            return None
        return Path(wrapper)

    def _build_env(self, memory_mb: int, overrides: Mapping[str, str | None]) -> dict[str, str]:
        home = self._workdir / "home"
        home.mkdir()
        daemon_host, daemon_port = self.daemon.address.rsplit(":", 1)
        stream = time.strftime("%Y/%m/%d", time.gmtime()) + "/[$LATEST]" + os.urandom(16).hex()
        env = {
            "PATH": os.environ.get("PATH") or "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "HOME": str(home),
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "LAMBDA_TASK_ROOT": str(self.function_dir),
            "LAMBDA_RUNTIME_DIR": str(self.runtime_dir),
            "_HANDLER": self.handler,
            "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_XRAY_DAEMON_ADDRESS": self.daemon.address,
            "_AWS_XRAY_DAEMON_ADDRESS": daemon_host,
            "_AWS_XRAY_DAEMON_PORT": daemon_port,
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_ACCESS_KEY_ID": "AKIDLOCALLAMBDA00000",
            "AWS_SECRET_ACCESS_KEY": "local-lambda-secret-access-key-not-real",
            "AWS_SESSION_TOKEN": "local-lambda-session-token-not-real",
            "LAMBDA_TRACER_LOCAL_OPT": str(self.opt_dir),
            "LAMBDA_TRACER_LOCAL_PYTHON": str(self.python),
            "LAMBDA_TRACER_LOCAL_PYTHON_VERSION": _python_version(str(self.python)),
        }
        if self.wrapper is not None:
            env["AWS_LAMBDA_EXEC_WRAPPER"] = str(self.wrapper)
        if self.worker_logs is not None and self.max_concurrency is not None:
            env["AWS_LAMBDA_MAX_CONCURRENCY"] = str(self.max_concurrency)
            env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "lambda-managed-instances"
            env[LOG_SOCKET_VARIABLE] = str(self.worker_logs.path)
        if self.worker_logs is not None and self._snapshot_end is not None:
            env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "snap-start"
            # "snapstart-monitoring": the log group and stream are not available to a SnapStart function.
            del env["AWS_LAMBDA_LOG_GROUP_NAME"], env["AWS_LAMBDA_LOG_STREAM_NAME"]
            env[SNAPSHOT_FD_VARIABLE] = str(self._snapshot_end.fileno())
            env[RESTORED_LOG_VARIABLE] = str(self.worker_logs.path)
        for key, value in overrides.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    # -- process -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the runtime process (idempotent). ``invoke`` calls it, like an on-demand cold start."""
        with self._start_lock:
            self._start()

    def _start(self) -> None:
        if self._closed:
            raise LocalLambdaError("this LocalLambda is closed")
        if self.process is not None:
            return
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            [str(self.runtime_dir / "bootstrap")],
            cwd=self.function_dir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: close() kills whatever the wrapper started too
            pass_fds=() if self._snapshot_end is None else (self._snapshot_end.fileno(),),
        )
        if self._snapshot_end is not None:
            self._snapshot_end.close()  # the runtime holds it now: its exit reads as end of file here
        self._finalizer = weakref.finalize(self, _kill, self.process)
        assert self.process.stdout is not None
        os.set_blocking(self.process.stdout.fileno(), False)
        self.api.mark = self._mark
        self._reader = threading.Thread(target=self._read_output, name="local-lambda-output", daemon=True)
        self._reader.start()

    def _read_output(self) -> None:
        """Read the runtime's stdout/stderr pipe as it is written, until the process closes it."""
        process = self.process
        assert process is not None and process.stdout is not None
        fd = process.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        while not self._output_eof:
            if any(event & select.POLLNVAL for _, event in poller.poll()):
                break  # closed under us
            self._drain(everything=True)
        process.wait()
        self.api.changed.set()

    def _mark(self) -> int:
        """How many bytes the process had written when this is called (the Runtime API calls it on a request).

        Whatever the runtime wrote before it sent that request (first ``/next``, a response, an error) is in
        the pipe by then: the bytes waiting in it are read now, and the offset returned splits the output
        exactly at that request, without waiting or guessing. Bytes written later (by another thread of the
        function, say) are left for the next mark.
        """
        return self._drain(everything=False)

    def _drain(self, everything: bool) -> int:
        """Read what the pipe holds (``everything``: until it is empty or closed) and return the total read."""
        process = self.process
        with self._output_lock:
            if process is None or process.stdout is None or process.stdout.closed or self._output_eof:
                return len(self._output)
            fd = process.stdout.fileno()
            left = None if everything else _available(fd)
            while left is None or left > 0:
                try:
                    chunk = os.read(fd, 65536 if left is None else min(left, 65536))
                except BlockingIOError:
                    break
                except OSError:  # closed
                    self._output_eof = True
                    break
                if not chunk:
                    self._output_eof = True
                    break
                self._output += chunk
                if left is not None:
                    left -= len(chunk)
            return len(self._output)

    @property
    def output(self) -> str:
        """Everything the runtime process wrote to stdout and stderr so far."""
        with self._output_lock:
            return self._output.decode("utf-8", "replace")

    def _output_between(self, start: int, end: int | None) -> str:
        with self._output_lock:
            return bytes(self._output[start:end]).decode("utf-8", "replace")

    def _take_output(self, end: int | None) -> tuple[str | None, str]:
        """(init output, the first time only; this invocation's output up to offset ``end``, or up to what was
        read so far when None). Consecutive calls split the output without gaps or overlaps."""
        if end is None:
            end = self._mark()
        init: str | None = None
        if not self._init_given:
            self._init_given = True
            init_end = end if self.api.init_output_at is None else self.api.init_output_at  # no /next: all init
            init, self._attributed = self._output_between(0, init_end), init_end
        start = self._attributed
        self._attributed = max(start, end)
        return init, self._output_between(start, end)

    def max_memory_used_mb(self) -> int | None:
        """Peak resident memory of the runtime's processes (the interpreter, and any child of it), in MB."""
        return None if self.process is None else _peak_rss_mb(self.process.pid)

    @property
    def exit_code(self) -> int | None:
        """The process's exit status (negative: killed by that signal); None while it runs or before start."""
        return None if self.process is None else self.process.poll()

    @property
    def init_error(self) -> dict[str, Any] | None:
        """The error document the runtime posted to ``/runtime/init/error`` (None while init has not failed)."""
        request = self.api.init_error
        if request is None:
            return None
        document = _parse(request.body)
        return document if isinstance(document, dict) else {"errorMessage": repr(document)}

    @property
    def init_ms(self) -> float | None:
        """Process start -> the runtime's first ``/next``: how long init took (None before that)."""
        if self.started_at is None or self.api.first_next_at is None:
            return None
        return (self.api.first_next_at - self.started_at) * 1000

    # -- invoking -------------------------------------------------------------------------------

    def invoke(
        self,
        event: Any = None,
        *,
        trace_header: str | _Fresh | None = FRESH,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Invocation:
        """Send one event and wait for the runtime's answer (and the X-Ray documents of its trace).

        ``event`` is sent as JSON (``bytes`` as is). ``trace_header``: a fresh sampled header by
        default, ``None`` to send none, or the exact ``Lambda-Runtime-Trace-Id`` value to send.
        ``headers`` adds ``/next`` reply headers (e.g. ``Lambda-Runtime-Client-Context``).
        With ``max_concurrency``, calls from several threads run at once, one per worker.
        """
        wait = self.timeout if timeout is None else timeout
        if self.max_concurrency is not None:
            return self._invoke(event, trace_header, headers or {}, wait)
        with self._invoke_lock:
            return self._invoke(event, trace_header, headers or {}, wait)

    def _invoke(
        self, event: Any, trace_header: str | _Fresh | None, extra: Mapping[str, str], wait: float
    ) -> Invocation:
        if self.api.init_error is not None:
            return self._init_error_invocation(None, None, None)
        if self.process is not None and self.process.poll() is not None:
            return self._exited_invocation(None)
        header = new_trace_header()[0] if trace_header is FRESH else trace_header
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        next_headers = {
            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000 + self.timeout * 1000)),
            "Lambda-Runtime-Invoked-Function-Arn": (
                f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"
            ),
            **({"Lambda-Runtime-Trace-Id": header} if header is not None else {}),
            **extra,
        }
        called_at = time.monotonic()
        self.start()
        if self.snap_start and self.restored_pid is None:
            self.restore(wait)
        pending = self.api.enqueue(body, next_headers)
        deadline = called_at + wait
        while not pending.done.is_set():
            if self.api.init_error is not None:
                self._wait_exit()
                return self._init_error_invocation(header, pending, called_at)
            if self._restore_failed():
                return self._restore_error_invocation(header, pending, called_at)
            if self._restored_pidfd is not None and _readable(self._restored_pidfd, 0) and not pending.done.is_set():
                return self._sandbox_exited_invocation(header, pending)
            if self.exit_code is not None:
                if pending.done.is_set() or self.api.init_error is not None:
                    continue  # the reply raced the exit: report the reply
                return self._exited_invocation(pending)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._timed_out(pending, wait)
            if self.max_concurrency is None:
                self.api.changed.wait(min(remaining, 0.05))
                self.api.changed.clear()
            else:  # several callers wait at once: each on its own event (``changed`` is cleared by whoever wakes)
                pending.done.wait(min(remaining, 0.05))
        return self._answered_invocation(pending, header, called_at)

    # -- SnapStart -------------------------------------------------------------------------------

    def restore(self, timeout: float | None = None) -> int | None:
        """SnapStart: a new sandbox restored from the snapshot, replacing the current one (killed first).

        Starts the process if needed and waits until init has reached the snapshot and the new sandbox exists.
        Returns its process id; None when init failed instead (the next ``invoke`` reports it).
        """
        if not self.snap_start or self._control is None:
            raise LocalLambdaError("restore() needs LocalLambda(snap_start=True)")
        self.start()
        if self.restored_pid is not None:
            self._end_process(self.restored_pid)
            self.restored_pid = None
        started = time.monotonic()
        deadline = started + (self.timeout if timeout is None else timeout)
        if self.snapshot_at is None:  # the first time: wait for the snapshot (init and the before-snapshot hooks)
            if self._control_read(deadline, started) != 0:
                return None
            self.snapshot_at = time.monotonic()
        asked_at = time.monotonic()
        with contextlib.suppress(OSError):
            self._control.sendall(b"r")
        pid = self._control_read(deadline, started)
        if pid is None:
            return None
        self.restored_pid = pid
        self._restored_at[pid] = asked_at
        with contextlib.suppress(OSError):
            self._restored_pidfd = os.pidfd_open(pid)
        return pid

    def _control_read(self, deadline: float, started: float) -> int | None:
        """The next number the snapshot process sends (0: the snapshot is taken; else a restored sandbox's pid);
        None once the process is gone (init failed: invoke reports how)."""
        assert self._control is not None
        reply = b""
        while len(reply) < 4:
            if self.api.init_error is not None or self.exit_code is not None:
                return None
            if time.monotonic() > deadline:
                self.kill()
                raise InvocationTimeout(
                    f"{self.function_name}: no restored sandbox within {deadline - started:.1f}s "
                    f"(init or the before-snapshot hooks never finished). Output:\n{self._tail()}"
                )
            if _readable(self._control, 0.05):
                try:
                    chunk = self._control.recv(4 - len(reply))
                except ConnectionError:  # reset: the process exited with our request unread
                    chunk = b""
                if not chunk:
                    return None
                reply += chunk
        return int(struct.unpack("!i", reply)[0])

    def _sandbox_exited_invocation(self, header: str | None, pending: Pending) -> Invocation:
        """The restored sandbox died while this event waited or ran: that invocation fails as a crash does, and
        the snapshot stays, so the next invoke restores a new sandbox."""
        pid = self.restored_pid
        self.api.cancel(pending)
        output = ""
        if pid is not None:
            self._end_process(pid)
            self.restored_pid = None
            if self.worker_logs is not None:
                self.worker_logs.mark()
                output = self.worker_logs.text(pid, pending.next_marks.get(pid, 0))
        return Invocation(
            status="exited",
            request_id=pending.request_id if pending.delivered_at is not None else None,
            trace_header=header,
            error_type="Runtime.ExitError",
            error_message=f"restored sandbox (process {pid}) exited without answering",
            output=output,
            memory_size_mb=self.memory_mb,
            worker=pid,
        )

    def _end_process(self, pid: int) -> None:
        """Kill one process of the runtime (a replaced restored sandbox) and wait until it is gone, so that its
        connections are closed before the next event is queued."""
        if pid == self.restored_pid and self._restored_pidfd is not None:
            os.close(self._restored_pidfd)
            self._restored_pidfd = None
        with self._books_lock:  # its client ports may be reused by the next sandbox: forget who held them
            for port in [port for port, owner in self._port_owners.items() if owner == pid]:
                del self._port_owners[port]
                self.api.first_on_port.pop(port, None)
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            return  # gone already
        try:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _readable(pidfd, EXIT_GRACE_S)
        finally:
            os.close(pidfd)

    def _restore_failed(self) -> bool:
        """True once a restored sandbox reported a ``/restore/error`` not yet given to an invocation."""
        return len(self.api.restore_errors) > self._restore_errors_seen

    def _restore_error_invocation(self, header: str | None, pending: Pending, called_at: float) -> Invocation:
        request = self.api.restore_errors[-1]
        self._restore_errors_seen = len(self.api.restore_errors)
        pid, output, restore_ms = self.restored_pid, None, None
        if pid is not None and self.worker_logs is not None:
            self.worker_logs.mark()  # it logged the error before posting it: all of that is here now
            output = self.worker_logs.text(pid)
            restored_at = self._restored_at.get(pid)
            restore_ms = None if restored_at is None else (request.at - restored_at) * 1000
        if pid is not None:  # the sandbox exits (awslambdaric: status 65); the next invoke restores
            self._end_process(pid)
            self.restored_pid = None
        self.api.cancel(pending)
        document = _parse(request.body)
        inv = Invocation(
            status="restore_error",
            request_id=pending.request_id,
            payload=document,
            body=request.body,
            headers=request.headers,
            trace_header=header,
            round_trip_ms=(request.at - called_at) * 1000,
            init_output=output,
            memory_size_mb=self.memory_mb,
            worker=pid,
            restore_duration_ms=restore_ms,
        )
        _fill_error(inv, document if isinstance(document, dict) else {})
        return inv

    # -- answers ---------------------------------------------------------------------------------

    def _answered_invocation(self, pending: Pending, header: str | None, called_at: float) -> Invocation:
        reply = pending.reply
        assert reply is not None and pending.kind is not None
        with self._books_lock:
            first_answer = self._answered == 0
            if first_answer and self.started_at is not None:
                self.cold_start_ms = (reply.at - self.started_at) * 1000
            init_output, output = self._take_output(pending.output_at)
            self._answered += 1
            worker = self._worker_of(pending)
            # The first event handed to that process (by delivery order, not by which caller woke first).
            first_of_worker = self.api.first_on_port.get(pending.client_port or -1) == pending.request_id
            restore_ms, init_ms = None, self.init_ms if init_output is not None else None
            if worker is not None and self.worker_logs is not None:
                cold = first_of_worker and worker not in self._warm_workers
                if cold:
                    self._warm_workers.add(worker)
                start = pending.next_marks.get(worker, 0)
                output += self.worker_logs.text(worker, start, pending.reply_marks.get(worker))
                if cold:  # what this process wrote before it asked for its first event: its init (or restore)
                    init_output = (init_output or "") + self.worker_logs.text(worker, 0, start)
                    restored_at = self._restored_at.get(worker)
                    if restored_at is not None and pending.next_at is not None:
                        restore_ms, init_ms = (pending.next_at - restored_at) * 1000, None
                    elif pending.next_at is not None and self.started_at is not None:
                        init_ms = (pending.next_at - self.started_at) * 1000
        payload = _parse(reply.body)
        inv = Invocation(
            status=pending.kind,
            request_id=pending.request_id,
            payload=payload,
            body=reply.body,
            headers=reply.headers,
            trace_header=header,
            round_trip_ms=(reply.at - called_at) * 1000,
            duration_ms=None if pending.delivered_at is None else (reply.at - pending.delivered_at) * 1000,
            output=output,
            init_output=init_output,
            init_duration_ms=None if self.snap_start else init_ms,
            memory_size_mb=self.memory_mb,
            max_memory_used_mb=self.max_memory_used_mb(),
            worker=worker,
            restore_duration_ms=restore_ms,
        )
        if pending.kind == "error" and isinstance(payload, dict):
            _fill_error(inv, payload)
        self._attach_trace(inv)
        return inv

    def _worker_of(self, pending: Pending) -> int | None:
        """The process that took ``pending`` off ``/next``, in a multi-process runtime (None otherwise)."""
        port = pending.client_port
        if self.worker_logs is None or port is None or self.process is None:
            return None
        if port not in self._port_owners:
            owner = _owner_of_client_port(port, self.api.port, self.process.pid)
            if owner is None:
                return None
            self._port_owners[port] = owner
        return self._port_owners[port]

    def _init_error_invocation(
        self, header: str | None, pending: Pending | None, called_at: float | None
    ) -> Invocation:
        request = self.api.init_error
        assert request is not None
        if pending is not None:
            self.api.cancel(pending)
        document = _parse(request.body)
        with self._books_lock:  # concurrent invocations (Managed Instances) may all get the init error
            first = not self._init_given
            init_output, output = self._take_output(None)  # the process has exited (or is about to): all of it
            if first and self.worker_logs is not None:  # the workers' own init output, the error included
                self.worker_logs.mark()
                init_output = (init_output or "") + "".join(
                    self.worker_logs.text(pid) for pid in self.worker_logs.pids()
                )
        inv = Invocation(
            status="init_error",
            request_id=None if pending is None else pending.request_id,
            payload=document,
            body=request.body,
            headers=request.headers,
            trace_header=header,
            round_trip_ms=None if called_at is None else (request.at - called_at) * 1000,
            exit_code=self.exit_code,
            output=output,
            init_output=init_output,
            init_duration_ms=((request.at - self.started_at) * 1000 if first and self.started_at is not None else None),
            memory_size_mb=self.memory_mb,
            max_memory_used_mb=self.max_memory_used_mb(),
        )
        _fill_error(inv, self.init_error or {})
        self._attach_trace(inv)
        return inv

    def _exited_invocation(self, pending: Pending | None) -> Invocation:
        self._wait_exit()
        code = self.exit_code
        if pending is not None:
            self.api.cancel(pending)
        with self._books_lock:
            first = not self._init_given
            init_output, output = self._take_output(None)
        return Invocation(
            status="exited",
            request_id=None if pending is None else pending.request_id,
            exit_code=code,
            error_type="Runtime.ExitError",
            error_message=f"runtime exited with status {code} without answering; output:\n{self._tail()}",
            output=output,
            init_output=init_output,
            init_duration_ms=self.init_ms if first else None,
            memory_size_mb=self.memory_mb,
        )

    def _attach_trace(self, inv: Invocation) -> None:
        if inv.trace_header is None:
            return
        fields = dict(part.split("=", 1) for part in inv.trace_header.split(";") if "=" in part)
        inv.trace_id = fields.get("Root")
        inv.parent_id = fields.get("Parent")
        if inv.trace_id:
            self.daemon.sync()
            inv.documents = self.daemon.for_trace(inv.trace_id)

    def _wait_exit(self) -> None:
        """Let a process that is on its way out finish, and its last output be read."""
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=EXIT_GRACE_S)
        if self._reader is not None:
            self._reader.join(timeout=2)

    def _timed_out(self, pending: Pending, wait: float) -> None:
        phase = (
            "init never finished (no /next yet)"
            if self.api.first_next_at is None
            else ("the event was never picked up" if pending.delivered_at is None else "the handler never answered")
        )
        self.kill()
        raise InvocationTimeout(
            f"{self.function_name} ({self.handler}): no reply within {wait:.1f}s: {phase}. "
            f"The runtime process was killed. Output:\n{self._tail()}"
        )

    def _tail(self) -> str:
        text = self.output
        if self.worker_logs is not None:
            for pid in self.worker_logs.pids():
                text += f"\n--- process {pid} (log socket) ---\n" + self.worker_logs.text(pid)
        return text if len(text) <= OUTPUT_TAIL else "..." + text[-OUTPUT_TAIL:]

    @property
    def requests(self) -> list[Request]:
        """Every HTTP request the runtime made to the Runtime API, in order."""
        return list(self.api.requests)

    # -- teardown --------------------------------------------------------------------------------

    def kill(self) -> None:
        """Kill the runtime's process group now (no-op if it is not running)."""
        if self.process is not None:
            _kill(self.process)
            if self._reader is not None:
                self._reader.join(timeout=2)
            if self.process.stdout is not None and self._output_eof:
                self.process.stdout.close()  # read to the end: the finalizer would keep it open otherwise

    def close(self) -> None:
        """Kill the process, stop the servers, remove the temporary files. Safe to call twice."""
        if getattr(self, "_closed", False):
            return
        self._closed = True
        with contextlib.suppress(Exception):
            if getattr(self, "process", None) is not None:
                self.kill()
        with contextlib.suppress(Exception):
            self.api.close()
        for resource in (self.worker_logs, self._control, self._snapshot_end):
            if resource is not None:
                with contextlib.suppress(Exception):
                    resource.close()
        if self._restored_pidfd is not None:
            os.close(self._restored_pidfd)
            self._restored_pidfd = None
        if self._owns_daemon:
            with contextlib.suppress(Exception):
                self.daemon.close()
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> LocalLambda:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _readable(source: socket.socket | int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``source`` to be readable (``poll``: any descriptor number)."""
    poller = select.poll()
    poller.register(source, select.POLLIN | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(timeout * 1000))


def _available(fd: int) -> int | None:
    """Bytes waiting in a pipe (FIONREAD); None where that cannot be asked: then read until it is empty."""
    try:
        return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])
    except OSError:
        return None


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (``/proc/<pid>/task/<tid>/children``); empty without /proc.

    After the bootstrap's and the wrapper's ``exec`` that is one process, the interpreter; a wrapper that forks,
    Managed Instances workers and restored SnapStart sandboxes add children.
    """
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        if current in found:
            continue
        try:
            for task in (Path("/proc") / str(current) / "task").iterdir():
                with contextlib.suppress(OSError, ValueError):
                    todo.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue  # gone meanwhile
        found.append(current)
    return found


def _peak_rss_mb(pid: int) -> int | None:
    """Sum of ``VmHWM`` (peak resident set) of ``pid`` and its descendants, in MB; None without /proc."""
    total_kb = 0
    for current in _process_tree(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in (Path("/proc") / str(current) / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total_kb += int(line.split()[1])
    return math.ceil(total_kb / 1024) if total_kb else None


def _owner_of_client_port(port: int, server_port: int, root: int) -> int | None:
    """The process under ``root`` holding the 127.0.0.1 TCP connection from ``port`` to ``server_port``, found
    as ``ss -p`` finds it: the socket's inode in ``/proc/net/tcp``, then the process with a descriptor on it."""
    wanted = f":{port:04X}", f":{server_port:04X}"
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if (
                    len(fields) > 9
                    and fields[1].endswith(wanted[0])
                    and fields[2].endswith(wanted[1])
                    and fields[3] == "01"  # ESTABLISHED: not a closed connection's TIME_WAIT entry
                    and fields[9] != "0"
                ):
                    inode = fields[9]
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in _process_tree(root):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return pid
    return None


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body


def _fill_error(inv: Invocation, document: Mapping[str, Any]) -> None:
    inv.error_type = document.get("errorType")
    inv.error_message = document.get("errorMessage")
    trace = document.get("stackTrace")
    inv.stack_trace = list(trace) if isinstance(trace, list) else None


def _interpreter(python: PathLike | None) -> Path:
    """An absolute interpreter path (not resolved: a venv's ``bin/python`` symlink must stay a venv)."""
    if python is None:
        return Path(sys.executable)
    found = shutil.which(str(python))
    if found is None:
        raise LocalLambdaError(f"python interpreter {python} not found")
    return Path(os.path.abspath(found))


@functools.cache
def _python_version(python: str) -> str:
    """``3.X`` of an interpreter (for ``AWS_EXECUTION_ENV`` and the layer's site-packages path)."""
    if os.path.abspath(python) == os.path.abspath(sys.executable):
        return f"{sys.version_info[0]}.{sys.version_info[1]}"
    try:
        out = subprocess.run(
            [python, "-I", "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        raise LocalLambdaError(f"cannot run {python}: {error}") from error
    return out.strip()
