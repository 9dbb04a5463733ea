"""A sandbox's files and environment, made before its runtime process starts: as Lambda lays them out.

``LAMBDA_RUNTIME_DIR`` holds our two boot files, ``/opt`` is the function's layers (one directory used in place,
or several merged), and the environment is built from scratch like Lambda's, so nothing of the caller's
(``POWERTOOLS_*``, ``PYTHONPATH``, credentials) leaks into the function.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from .invocation import LocalLambdaError
from .layers import merge_layers

BOOTSTRAP_DIR = Path(__file__).parent / "bootstrap"
WRAPPER_NAME = "lambda-tracer"
#: Lambda Managed Instances: the socket awslambdaric's workers connect their stdout and stderr to.
LOG_SOCKET_VARIABLE = "_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET"
#: Read by our bootstrap.py (and removed before the function sees them): the SnapStart simulation's control
#: socket, and where restored sandboxes send their output.
SNAPSHOT_FD_VARIABLE = "LAMBDA_TRACER_LOCAL_SNAPSHOT_FD"
RESTORED_LOG_VARIABLE = "LAMBDA_TRACER_LOCAL_LOG_SOCKET"

PathLike = str | os.PathLike[str]


def install_bootstrap(runtime_dir: Path) -> Path:
    """Our LAMBDA_RUNTIME_DIR: the two boot files, executable whatever the install did to modes."""
    runtime_dir.mkdir()
    if not (BOOTSTRAP_DIR / "bootstrap.py").is_file():
        raise LocalLambdaError(f"{BOOTSTRAP_DIR} is missing: lambda_tracer_local was installed without its boot files")
    for name in ("bootstrap", "bootstrap.py"):
        shutil.copyfile(BOOTSTRAP_DIR / name, runtime_dir / name)
    (runtime_dir / "bootstrap").chmod(0o755)
    return runtime_dir


def build_opt(opt_dirs: list[PathLike], layer_zips: list[PathLike], workdir: Path) -> Path:
    """A single layer dir is used in place; anything else is merged into a private one."""
    if len(opt_dirs) == 1 and not layer_zips:
        only = Path(opt_dirs[0]).resolve()
        if not only.is_dir():
            raise LocalLambdaError(f"opt dir {only} does not exist")
        return only
    return merge_layers([*opt_dirs, *layer_zips], workdir / "opt")


def resolve_wrapper(opt_dir: Path, wrapper: bool | PathLike | None) -> Path | None:
    """``AWS_LAMBDA_EXEC_WRAPPER``: the layer's own when asked for (``None``: only when a layer provides it)."""
    default = opt_dir / WRAPPER_NAME
    if wrapper is None:
        return default if default.is_file() else None
    if wrapper is True:
        return default
    if wrapper is False:
        return None
    return Path(wrapper)


def build_env(
    *,
    home: Path,
    api_address: str,
    daemon_address: str,
    function_dir: Path,
    runtime_dir: Path,
    opt_dir: Path,
    handler: str,
    function_name: str,
    memory_mb: int,
    region: str,
    python: Path,
    wrapper: Path | None,
    max_concurrency: int | None,
    log_socket: Path | None,
    snapshot_fd: int | None,
    overrides: Mapping[str, str | None],
) -> dict[str, str]:
    """The function's whole environment, as Lambda's for that execution model; ``overrides`` last (``None``
    removes a variable). ``log_socket`` with ``max_concurrency`` is Managed Instances, with ``snapshot_fd``
    SnapStart."""
    home.mkdir()
    daemon_host, daemon_port = daemon_address.rsplit(":", 1)
    stream = time.strftime("%Y/%m/%d", time.gmtime()) + "/[$LATEST]" + os.urandom(16).hex()
    env = {
        "PATH": os.environ.get("PATH") or "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "HOME": str(home),
        "AWS_LAMBDA_RUNTIME_API": api_address,
        "LAMBDA_TASK_ROOT": str(function_dir),
        "LAMBDA_RUNTIME_DIR": str(runtime_dir),
        "_HANDLER": handler,
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_XRAY_DAEMON_ADDRESS": daemon_address,
        "_AWS_XRAY_DAEMON_ADDRESS": daemon_host,
        "_AWS_XRAY_DAEMON_PORT": daemon_port,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_ACCESS_KEY_ID": "AKIDLOCALLAMBDA00000",
        "AWS_SECRET_ACCESS_KEY": "local-lambda-secret-access-key-not-real",
        "AWS_SESSION_TOKEN": "local-lambda-session-token-not-real",
        "LAMBDA_TRACER_LOCAL_OPT": str(opt_dir),
        "LAMBDA_TRACER_LOCAL_PYTHON": str(python),
        "LAMBDA_TRACER_LOCAL_PYTHON_VERSION": python_version(str(python)),
    }
    if wrapper is not None:
        env["AWS_LAMBDA_EXEC_WRAPPER"] = str(wrapper)
    if log_socket is not None and max_concurrency is not None:
        env["AWS_LAMBDA_MAX_CONCURRENCY"] = str(max_concurrency)
        env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "lambda-managed-instances"
        env[LOG_SOCKET_VARIABLE] = str(log_socket)
    if log_socket is not None and snapshot_fd is not None:
        env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "snap-start"
        # "snapstart-monitoring": the log group and stream are not available to a SnapStart function.
        del env["AWS_LAMBDA_LOG_GROUP_NAME"], env["AWS_LAMBDA_LOG_STREAM_NAME"]
        env[SNAPSHOT_FD_VARIABLE] = str(snapshot_fd)
        env[RESTORED_LOG_VARIABLE] = str(log_socket)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def interpreter(python: PathLike | None) -> Path:
    """An absolute interpreter path (not resolved: a venv's ``bin/python`` symlink must stay a venv)."""
    if python is None:
        return Path(sys.executable)
    found = shutil.which(str(python))
    if found is None:
        raise LocalLambdaError(f"python interpreter {python} not found")
    return Path(os.path.abspath(found))


@functools.cache
def python_version(python: str) -> str:
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
