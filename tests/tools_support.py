"""Helpers and fixtures of the tests of the user-facing tools (``lambda-tracer-local`` in tests/local, ``publish``
and the other maintainer's tools in tests/tools): the built layer zip, a real moto server on 127.0.0.1 standing
in for AWS, and a recording (and throttling) HTTP proxy in front of it.

The fixtures are defined here and imported by both directories' conftest.py.
"""

from __future__ import annotations

import fcntl
import http.client
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYER_ZIP = ROOT / "dist" / "lambda-tracer-layer.zip"


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py``, a maintainer's script (not in the wheel, not a package), imported by path."""
    spec = importlib.util.spec_from_file_location(f"{name}_tool", ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def local_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``lambda-tracer-local *args`` as a user runs it: a subprocess on this checkout's local/ and layer/, with none of
    this process's Lambda, AWS or Powertools settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMBDA_", "AWS_", "POWERTOOLS_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "local"), str(ROOT / "layer")])
    return subprocess.run(
        [sys.executable, "-m", "lambda_tracer_local.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def fake_venv(tmp_path: Path) -> Path:
    """A venv for the Makefile that is this interpreter, already "installed" (so make builds nothing)."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    (venv / ".installed").touch()
    return venv


#: ``tools/publish.py`` (``make publish``).
publish = load_tool("publish")
#: PublishLayerVersion is ``POST /2018-10-31/layers/<name>/versions``.
PUBLISH_PATH = re.compile(r"^/\d{4}-\d{2}-\d{2}/layers/[^/]+/versions$")
THROTTLED_BODY = b'{"__type":"TooManyRequestsException","message":"Rate exceeded"}'


@dataclass
class Proxy:
    """Forwards every request to ``target``, records ``(method, path)``, and answers the first ``throttle``
    PublishLayerVersion requests with Lambda's 429 instead of forwarding them."""

    target: str
    throttle: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)
    throttled: int = 0
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish_requests(self) -> int:
        with self.lock:
            return sum(1 for method, path in self.requests if method == "POST" and PUBLISH_PATH.match(path))


def proxy_handler(proxy: Proxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = self.path.split("?", 1)[0]
            with proxy.lock:
                proxy.requests.append((self.command, path))
                throttle = self.command == "POST" and PUBLISH_PATH.match(path) and proxy.throttled < proxy.throttle
                if throttle:
                    proxy.throttled += 1
            if throttle:
                self._reply(
                    429,
                    [("Content-Type", "application/json"), ("x-amzn-ErrorType", "TooManyRequestsException")],
                    THROTTLED_BODY,
                )
                return
            host, port = proxy.target.removeprefix("http://").split(":")
            upstream = http.client.HTTPConnection(host, int(port), timeout=30)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "expect")}
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                keep = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_HEADERS]
                self._reply(response.status, keep, data)
            finally:
                upstream.close()

        def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


_HOP_HEADERS = ("connection", "transfer-encoding", "content-length", "keep-alive")


@pytest.fixture(scope="session")
def layer_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of ``dist/lambda-tracer-layer.zip`` (built with ``make layer`` only if missing).

    A copy, because other suites may rebuild ``dist/`` while these tests compare hashes. Unlike the e2e
    suite, these tests do not rebuild a stale zip: they test the tools around the layer, which any built
    zip exercises, and a rebuild would cost more than the whole suite.
    """
    if not LAYER_ZIP.is_file():
        lock = ROOT / "build" / "e2e-layer.lock"  # the e2e fixture's lock: one build at a time
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            if not LAYER_ZIP.is_file():
                done = subprocess.run(["make", "layer"], cwd=ROOT, capture_output=True, text=True, timeout=600)
                assert done.returncode == 0 and LAYER_ZIP.is_file(), f"make layer failed:\n{done.stdout}{done.stderr}"
    return Path(shutil.copy(LAYER_ZIP, tmp_path_factory.mktemp("layer") / LAYER_ZIP.name))


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """A real moto server (HTTP, its own thread) on a free port of 127.0.0.1."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def proxy(moto_url: str) -> Iterator[Proxy]:
    """A fresh recording proxy in front of the moto server (set ``proxy.throttle`` to throttle)."""
    proxy = Proxy(moto_url)
    server = ThreadingHTTPServer(("127.0.0.1", 0), proxy_handler(proxy))
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), name="aws-proxy", daemon=True)
    thread.start()
    yield proxy
    server.shutdown()
    server.server_close()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, proxy: Proxy) -> Proxy:
    """boto3 configured by the environment only, as a user's shell would: dummy keys, no config files,
    no instance metadata, every call through ``proxy`` (``AWS_ENDPOINT_URL``)."""
    for name in list(os.environ):
        if name.startswith("AWS_") and name not in ("AWS_XRAY_DAEMON_ADDRESS",):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTING000000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    return proxy
