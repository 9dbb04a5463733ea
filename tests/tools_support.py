"""Helpers of the tools tests: a recording (and throttling) HTTP proxy in front of the moto server."""

from __future__ import annotations

import http.client
import importlib.util
import re
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
LAYER_ZIP = ROOT / "dist" / "lambda-tracer-layer.zip"


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py``, a maintainer's script (not in the wheel, not a package), imported by path."""
    spec = importlib.util.spec_from_file_location(f"{name}_tool", ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


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
