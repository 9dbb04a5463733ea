"""Fixtures for the user-facing tools (``publish``, ``lambda-tracer-local``): the built layer zip, a real
moto server on 127.0.0.1 standing in for AWS, and a recording HTTP proxy in front of it that can throttle.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from tools_support import LAYER_ZIP, ROOT, Proxy, proxy_handler


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
