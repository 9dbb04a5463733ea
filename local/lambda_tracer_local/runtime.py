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
import json
import shutil
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

from .daemon import XRayDaemon, new_trace_header
from .invocation import FRESH, Invocation, InvocationTimeout, LocalLambdaError, _Fresh, fill_error, parse_body, posted
from .process_output import ProcessOutput
from .procfs import end_process, kill_group, owner_of_client_port, peak_rss_mb
from .runtime_api import Pending, Request, RuntimeAPI
from .sandbox import PathLike, build_env, build_opt, install_bootstrap, interpreter, resolve_wrapper
from .snapstart import Snapshot
from .worker_logs import WorkerLogs

__all__ = ["ACCOUNT_ID", "FRESH", "Invocation", "InvocationTimeout", "LocalLambda", "LocalLambdaError"]

ACCOUNT_ID = "123456789012"
OUTPUT_TAIL = 4000
#: How long an init error may take to turn into a process exit (awslambdaric calls sys.exit(1) right after).
EXIT_GRACE_S = 5.0


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
        self.python = interpreter(python)
        self._owns_daemon = daemon is None
        self.daemon: XRayDaemon = daemon if daemon is not None else XRayDaemon()
        self._workdir = Path(tempfile.mkdtemp(prefix="lambda-tracer-local-"))
        self.api = RuntimeAPI()
        #: Output of each process of a multi-process runtime (Managed Instances workers, restored sandboxes).
        self.worker_logs: WorkerLogs | None = None
        #: SnapStart: the snapshot process's control socket and the restored sandbox of the moment.
        self._snapshot: Snapshot | None = None
        try:
            if max_concurrency is not None or snap_start:
                self.worker_logs = WorkerLogs(self._workdir / "logs.sock")
                self.api.worker_mark = self.worker_logs.mark
            if snap_start:
                self._snapshot = Snapshot()
            self.runtime_dir = install_bootstrap(self._workdir / "runtime")
            self.opt_dir = build_opt(list(opt_dirs), list(layer_zips), self._workdir)
            self.wrapper = resolve_wrapper(self.opt_dir, wrapper)
            self.env = self._build_env(env or {})
        except BaseException:
            self.close()
            raise
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at: float | None = None
        self.cold_start_ms: float | None = None
        self._output = ProcessOutput()
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

    def _build_env(self, overrides: Mapping[str, str | None]) -> dict[str, str]:
        return build_env(
            home=self._workdir / "home",
            api_address=self.api.address,
            daemon_address=self.daemon.address,
            function_dir=self.function_dir,
            runtime_dir=self.runtime_dir,
            opt_dir=self.opt_dir,
            handler=self.handler,
            function_name=self.function_name,
            memory_mb=self.memory_mb,
            region=self.region,
            python=self.python,
            wrapper=self.wrapper,
            max_concurrency=self.max_concurrency,
            log_socket=None if self.worker_logs is None else self.worker_logs.path,
            snapshot_fd=None if self._snapshot is None else self._snapshot.runtime_end.fileno(),
            overrides=overrides,
        )

    @property
    def restored_pid(self) -> int | None:
        """SnapStart: the process id of the current restored sandbox (None before the first restore)."""
        return None if self._snapshot is None else self._snapshot.restored_pid

    @property
    def snapshot_at(self) -> float | None:
        """SnapStart: when init and the before-snapshot hooks were over (where Lambda takes the snapshot)."""
        return None if self._snapshot is None else self._snapshot.snapshot_at

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
            pass_fds=() if self._snapshot is None else (self._snapshot.runtime_end.fileno(),),
        )
        if self._snapshot is not None:
            self._snapshot.handed_over()
        self._finalizer = weakref.finalize(self, kill_group, self.process)
        assert self.process.stdout is not None
        self.api.mark = self._output.mark
        self._output.follow(self.process.stdout, self._process_ended)

    def _process_ended(self) -> None:
        """The runtime closed its output: wait for its exit and wake whoever waits for an answer."""
        assert self.process is not None
        self.process.wait()
        self.api.changed.set()

    @property
    def output(self) -> str:
        """Everything the runtime process wrote to stdout and stderr so far."""
        return self._output.text

    def _take_output(self, end: int | None) -> tuple[str | None, str]:
        """(init output, the first time only; this invocation's output up to offset ``end``, or up to what was
        read so far when None). Consecutive calls split the output without gaps or overlaps."""
        return self._output.take(end, self.api.init_output_at)

    def max_memory_used_mb(self) -> int | None:
        """Peak resident memory of the runtime's processes (the interpreter, and any child of it), in MB."""
        return None if self.process is None else peak_rss_mb(self.process.pid)

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
        document = parse_body(request.body)
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
            if self._snapshot is not None and self._snapshot.sandbox_died() and not pending.done.is_set():
                return self._sandbox_exited_invocation(header, pending)
            if self.exit_code is not None:
                if pending.done.is_set() or self.api.init_error is not None:
                    continue  # the reply raced the exit: report the reply
                return self._exited_invocation(pending, header)
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
        if not self.snap_start or self._snapshot is None:
            raise LocalLambdaError("restore() needs LocalLambda(snap_start=True)")
        self.start()
        if self._snapshot.restored_pid is not None:
            self._end_process(self._snapshot.restored_pid)
        started = time.monotonic()
        deadline = started + (self.timeout if timeout is None else timeout)

        def timed_out() -> NoReturn:
            self.kill()
            raise InvocationTimeout(
                f"{self.function_name}: no restored sandbox within {deadline - started:.1f}s "
                f"(init or the before-snapshot hooks never finished). Output:\n{self._tail()}"
            )

        return self._snapshot.restore(deadline, self._gone, timed_out)

    def _gone(self) -> bool:
        """Init failed, or the runtime process exited."""
        return self.api.init_error is not None or self.exit_code is not None

    def _sandbox_exited_invocation(self, header: str | None, pending: Pending) -> Invocation:
        """The restored sandbox died while this event waited or ran: that invocation fails as a crash does, and
        the snapshot stays, so the next invoke restores a new sandbox."""
        pid = self.restored_pid
        self.api.cancel(pending)
        output = ""
        if pid is not None:
            self._end_process(pid)
            if self.worker_logs is not None:
                self.worker_logs.mark()
                output = self.worker_logs.text(pid, pending.next_marks.get(pid, 0))
        inv = Invocation(
            status="exited",
            request_id=pending.request_id if pending.delivered_at is not None else None,
            trace_header=header,
            error_type="Runtime.ExitError",
            error_message=f"restored sandbox (process {pid}) exited without answering",
            output=output,
            memory_size_mb=self.memory_mb,
            worker=pid,
        )
        self._attach_trace(inv)
        return inv

    def _end_process(self, pid: int) -> None:
        """Kill one process of the runtime (a replaced restored sandbox) and wait until it is gone, so that its
        connections are closed before the next event is queued. It is no longer the current sandbox."""
        if self._snapshot is not None:
            self._snapshot.forget(pid)
        with self._books_lock:  # its client ports may be reused by the next sandbox: forget who held them
            for port in [port for port, owner in self._port_owners.items() if owner == pid]:
                del self._port_owners[port]
                self.api.first_on_port.pop(port, None)
        end_process(pid, EXIT_GRACE_S)
        if self._snapshot is not None and self._snapshot.restored_pid == pid:
            self._snapshot.restored_pid = None

    def _restore_failed(self) -> bool:
        """True once a restored sandbox reported a ``/restore/error`` not yet given to an invocation."""
        seen = 0 if self._snapshot is None else self._snapshot.errors_seen
        return len(self.api.restore_errors) > seen

    def _restore_error_invocation(self, header: str | None, pending: Pending, called_at: float) -> Invocation:
        request = self.api.restore_errors[-1]
        assert self._snapshot is not None
        self._snapshot.errors_seen = len(self.api.restore_errors)
        pid, output, restore_ms = self._snapshot.restored_pid, None, None
        if pid is not None and self.worker_logs is not None:
            self.worker_logs.mark()  # it logged the error before posting it: all of that is here now
            output = self.worker_logs.text(pid)
            restored_at = self._snapshot.restored_at.get(pid)
            restore_ms = None if restored_at is None else (request.at - restored_at) * 1000
        if pid is not None:  # the sandbox exits (awslambdaric: status 65); the next invoke restores
            self._end_process(pid)
        self.api.cancel(pending)
        inv = posted(
            "restore_error",
            pending.request_id,
            request,
            header,
            called_at,
            init_output=output,
            memory_size_mb=self.memory_mb,
            worker=pid,
            restore_duration_ms=restore_ms,
        )
        fill_error(inv, inv.payload if isinstance(inv.payload, dict) else {})
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
                    restored_at = None if self._snapshot is None else self._snapshot.restored_at.get(worker)
                    if restored_at is not None and pending.next_at is not None:
                        restore_ms, init_ms = (pending.next_at - restored_at) * 1000, None
                    elif pending.next_at is not None and self.started_at is not None:
                        init_ms = (pending.next_at - self.started_at) * 1000
        inv = posted(
            pending.kind,
            pending.request_id,
            reply,
            header,
            called_at,
            duration_ms=None if pending.delivered_at is None else (reply.at - pending.delivered_at) * 1000,
            output=output,
            init_output=init_output,
            init_duration_ms=None if self.snap_start else init_ms,
            memory_size_mb=self.memory_mb,
            max_memory_used_mb=self.max_memory_used_mb(),
            worker=worker,
            restore_duration_ms=restore_ms,
        )
        if pending.kind == "error" and isinstance(inv.payload, dict):
            fill_error(inv, inv.payload)
        self._attach_trace(inv)
        return inv

    def _worker_of(self, pending: Pending) -> int | None:
        """The process that took ``pending`` off ``/next``, in a multi-process runtime (None otherwise)."""
        port = pending.client_port
        if self.worker_logs is None or port is None or self.process is None:
            return None
        if port not in self._port_owners:
            owner = owner_of_client_port(port, self.api.port, self.process.pid)
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
        with self._books_lock:  # concurrent invocations (Managed Instances) may all get the init error
            first = not self._output.init_given
            init_output, output = self._take_output(None)  # the process has exited (or is about to): all of it
            if first and self.worker_logs is not None:  # the workers' own init output, the error included
                self.worker_logs.mark()
                init_output = (init_output or "") + "".join(
                    self.worker_logs.text(pid) for pid in self.worker_logs.pids()
                )
        inv = posted(
            "init_error",
            None if pending is None else pending.request_id,
            request,
            header,
            called_at,
            exit_code=self.exit_code,
            output=output,
            init_output=init_output,
            init_duration_ms=((request.at - self.started_at) * 1000 if first and self.started_at is not None else None),
            memory_size_mb=self.memory_mb,
            max_memory_used_mb=self.max_memory_used_mb(),
        )
        fill_error(inv, self.init_error or {})
        self._attach_trace(inv)
        return inv

    def _exited_invocation(self, pending: Pending | None, header: str | None = None) -> Invocation:
        """The process died: if it had taken the event, the trace header went with it, and what the tracer sent
        before the crash is that invocation's trace."""
        self._wait_exit()
        code = self.exit_code
        delivered = pending is not None and pending.delivered_at is not None
        if pending is not None:
            self.api.cancel(pending)
        with self._books_lock:
            first = not self._output.init_given
            init_output, output = self._take_output(None)
        inv = Invocation(
            status="exited",
            request_id=None if pending is None else pending.request_id,
            trace_header=header if delivered else None,
            exit_code=code,
            error_type="Runtime.ExitError",
            error_message=f"runtime exited with status {code} without answering; output:\n{self._tail()}",
            output=output,
            init_output=init_output,
            init_duration_ms=self.init_ms if first else None,
            memory_size_mb=self.memory_mb,
        )
        self._attach_trace(inv)
        return inv

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
        self._output.join(timeout=2)

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
            kill_group(self.process)
            self._output.join(timeout=2)
            self._output.close()  # read to the end: the finalizer would keep it open otherwise

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
        for resource in (self.worker_logs, self._snapshot):
            if resource is not None:
                with contextlib.suppress(Exception):
                    resource.close()
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
