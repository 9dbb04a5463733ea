"""Local stand-in for the managed Python runtime's /var/runtime/bootstrap.py.

It reproduces what a wrapper and the layers can observe: awslambdaric is imported before any user
path exists; the layer directories under the opt dir (``/opt`` in Lambda) go on ``sys.path``, with
their ``.pth`` files processed, only while ``PYTHONPATH`` is unset; the task root comes first; and
the handler is read from ``_HANDLER`` *after* the exec wrapper ran (``python -m awslambdaric`` would
take argv instead and so bypass the wrapper).

For SnapStart it also stands in for the snapshot itself (``simulate_snapshots``): Lambda's bootstrap has no
such code, the platform freezes and restores the microVM instead.
"""

import os
import site
import socket
import struct
import sys

import awslambdaric.__main__ as runtime_main

# Where the layers are unpacked; only the local runtime sets this, and the function never sees it.
OPT_ENV = "LAMBDA_TRACER_LOCAL_OPT"
# SnapStart simulation (lambda_tracer_local.runtime): the control socket and the restored sandboxes' log socket.
SNAPSHOT_FD_ENV = "LAMBDA_TRACER_LOCAL_SNAPSHOT_FD"
RESTORED_LOG_ENV = "LAMBDA_TRACER_LOCAL_LOG_SOCKET"


def layer_paths(opt: str) -> list[str]:
    """Where a layer's Python packages live, in the order the managed runtime searches them."""
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    return [os.path.join(opt, "python", "lib", version, "site-packages"), os.path.join(opt, "python")]


def simulate_snapshots(control_fd: int, log_socket: str) -> None:
    """Make awslambdaric's ``restore_next`` (called after the before-snapshot hooks, where Lambda takes the
    snapshot) wait here, holding the initialised state, and fork one restored sandbox per request of the local
    runtime. Each sandbox sends its output to ``log_socket``, then really asks ``/restore/next`` and goes on to
    the after-restore hooks and the invocations, as a restored microVM does."""
    from awslambdaric.lambda_runtime_client import LambdaRuntimeClient

    restore_next = LambdaRuntimeClient.restore_next

    def snapshot_then_restore(client: LambdaRuntimeClient) -> None:
        control = socket.socket(fileno=control_fd)
        control.sendall(struct.pack("!i", 0))  # the snapshot is taken: restores may start
        while True:
            reap_children()
            if not control.recv(1):  # the local runtime is gone: so is the snapshot
                os._exit(0)
            warn_threads()
            sys.stdout.flush()
            sys.stderr.flush()
            pid = fork_without_hooks()
            if pid == 0:
                control.close()
                redirect_output(log_socket)
                restore_next(client)
                return
            control.sendall(struct.pack("!i", pid))

    LambdaRuntimeClient.restore_next = snapshot_then_restore


def fork_without_hooks() -> int:
    """fork(2) itself, not ``os.fork``: none of Python's at-fork hooks run (``random`` keeps its state, a
    library's own at-fork reset does not happen), as nothing runs when Lambda restores a snapshot. C libraries'
    ``pthread_atfork`` handlers still run. ``PyDLL`` keeps the GIL across the call. Only the calling thread
    exists in the child: other threads started at init are gone (Lambda restores them), see ``warn_threads``."""
    try:
        import ctypes

        pid = int(ctypes.PyDLL(None).fork())
    except (ImportError, OSError, AttributeError):
        return os.fork()  # no ctypes in this interpreter: at-fork hooks run, the simulation is less strict
    if pid < 0:
        raise OSError(ctypes.get_errno(), "fork failed")
    return pid


def warn_threads() -> None:
    """Say so when threads started at init would be missing from the restored sandbox (a difference from Lambda,
    whose restore brings them back; a lock one of them held stays held)."""
    import threading

    others = threading.active_count() - 1
    if others > 0:
        print(
            f"lambda-tracer-local: {others} thread(s) started at init do not run in restored sandboxes here "
            "(Lambda restores them); a lock they hold stays held",
            file=sys.stderr,
            flush=True,
        )


def redirect_output(path: str) -> None:
    """stdout and stderr to the log socket, one connection each, as awslambdaric's Managed Instances workers do."""
    for fd in (1, 2):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.connect(path)
            os.dup2(connection.fileno(), fd)


def reap_children() -> None:
    """Collect replaced sandboxes that were killed (they are the snapshot's children)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main() -> None:
    opt = os.environ.pop(OPT_ENV, "/opt")
    control_fd = os.environ.pop(SNAPSHOT_FD_ENV, None)
    log_socket = os.environ.pop(RESTORED_LOG_ENV, None)
    if control_fd is not None and log_socket is not None:
        simulate_snapshots(int(control_fd), log_socket)
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    pythonpath_unset = "PYTHONPATH" not in os.environ
    layers = layer_paths(opt) if pythonpath_unset else []
    sys.path[0:0] = layers
    sys.path.insert(0, task_root)
    site.addsitedir(task_root)
    for path in layers:
        site.addsitedir(path)
    if pythonpath_unset:
        os.environ["PYTHONPATH"] = os.environ["LAMBDA_RUNTIME_DIR"]
    runtime_main.main([task_root, os.environ["_HANDLER"]])


if __name__ == "__main__":
    main()
