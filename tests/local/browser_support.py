"""Headless Chromium for the page tests: Debian's package (installed on first use) driven over the DevTools
protocol on a pipe (``--remote-debugging-pipe``: fds 3 and 4, messages ended by NUL), so no port, no
websocket library and no browser download from PyPI.

    with Browser(chromium_path(), tmp_path) as browser:
        page = browser.new_page(1400, 900)
        page.goto(path.as_uri())
        page.evaluate("document.title")
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from file_lock import locked

#: Debian's chromium package; ``CHROMIUM`` points elsewhere.
DEFAULT_CHROMIUM = "/usr/bin/chromium"
#: As root on a machine whose network is closed: no sandbox, nothing fetched in the background.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
)


#: Console calls and log entries that count as a problem on the page.
PROBLEM_LEVELS = ("error", "warning", "assert")


class BrowserError(RuntimeError):
    """Chromium did not answer, answered with an error, or exited."""


def install_chromium(lock: Path, timeout: float = 1200) -> tuple[str | None, str]:
    """(path, "") once Chromium is there, installing Debian's package when it is missing; (None, why) if not."""
    executable = os.environ.get("CHROMIUM", DEFAULT_CHROMIUM)
    with locked(lock):
        if os.access(executable, os.X_OK):
            return executable, ""
        if executable != DEFAULT_CHROMIUM:
            return None, f"CHROMIUM={executable} is not an executable"
        if shutil.which("apt-get") is None:
            return None, "no /usr/bin/chromium and no apt-get to install Debian's chromium package with"
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        started = time.monotonic()
        for step in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
            try:
                done = subprocess.run([*sudo, *step], capture_output=True, text=True, timeout=timeout, env=env)
            except (OSError, subprocess.SubprocessError) as error:
                return None, f"`{' '.join(step)}` could not run: {error}"
            if done.returncode != 0:
                tail = (done.stdout + done.stderr).strip()[-1500:]
                return None, f"`{' '.join(step)}` failed ({done.returncode}):\n{tail}"
        if not os.access(executable, os.X_OK):
            return None, f"apt-get installed chromium but there is no {executable}"
        print(f"installed Debian's chromium in {time.monotonic() - started:.0f} s")
        return executable, ""


class Browser:
    """One Chromium process and its DevTools pipe; events are kept in ``events`` as they arrive."""

    def __init__(self, executable: str, profile: Path, timeout: float = 20.0) -> None:
        self.timeout = timeout
        self.events: list[dict[str, Any]] = []
        self._replies: dict[int, dict[str, Any]] = {}
        self._next_id = 0
        self._changed = threading.Condition()
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()

        def child_fds() -> None:  # Chromium reads commands on fd 3 and writes replies on fd 4
            read_fd = fcntl.fcntl(to_browser_read, fcntl.F_DUPFD, 10)
            write_fd = fcntl.fcntl(from_browser_write, fcntl.F_DUPFD, 10)
            os.dup2(read_fd, 3)
            os.dup2(write_fd, 4)
            os.close(read_fd)
            os.close(write_fd)

        profile.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=child_fds,  # only dup2 and close between fork and exec
            close_fds=False,
            start_new_session=True,  # its renderers and helpers too can be ended together
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self.stderr = b""
        self._reader = threading.Thread(target=self._read, name="cdp-reader", daemon=True)
        self._reader.start()
        threading.Thread(target=self._read_stderr, name="chromium-stderr", daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._changed:
                    self._replies[-1] = {"closed": True}
                    self._changed.notify_all()
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            with self._changed:
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self._replies[message["id"]] = message
                    else:
                        self.events.append(message)
                self._changed.notify_all()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr = (self.stderr + line)[-20_000:]

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        """Send one command and wait for its reply's ``result``."""
        with self._changed:
            self._next_id += 1
            ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        try:
            os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        except OSError as error:
            raise BrowserError(f"{method}: Chromium is gone ({error}); its stderr:\n{self.stderr.decode()[-3000:]}")
        with self._changed:
            if not self._changed.wait_for(lambda: ident in self._replies or -1 in self._replies, self.timeout):
                raise BrowserError(f"{method}: no reply in {self.timeout} s")
            reply = self._replies.pop(ident, None)
        if reply is None:
            raise BrowserError(f"{method}: Chromium closed the pipe; its stderr:\n{self.stderr.decode()[-3000:]}")
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def wait_event(self, match: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        with self._changed:
            found: list[dict[str, Any]] = []

            def seen() -> bool:
                found[:] = [event for event in self.events if match(event)]
                return bool(found)

            if not self._changed.wait_for(seen, self.timeout):
                raise BrowserError(f"no {what} in {self.timeout} s")
            return found[0]

    def new_page(self, width: int, height: int) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.send(f"{domain}.enable")
        page.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                          "mobile": False})  # fmt: skip
        return page

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                self.send("Browser.close")
            self.process.wait(timeout=5)
        except (BrowserError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        finally:
            os.close(self._to_browser)
            self._reader.join(timeout=5)  # it ends on EOF, now that Chromium is gone
            if not self._reader.is_alive():
                os.close(self._from_browser)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    """One tab, attached with a flat session: commands and its events carry ``sessionId``."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.send(method, params, self.session)

    def events(self, *methods: str) -> list[dict[str, Any]]:
        return [e for e in list(self.browser.events) if e.get("sessionId") == self.session and e["method"] in methods]

    def goto(self, url: str) -> None:
        before = len(self.events("Page.loadEventFired"))
        self.send("Page.navigate", {"url": url})
        self.browser.wait_event(lambda _: len(self.events("Page.loadEventFired")) > before, f"load event for {url}")

    def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` (a promise is awaited); a thrown error fails."""
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in reply:
            raise BrowserError(f"{expression[:80]}...: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def click(self, x: float, y: float) -> None:
        """A real left click (pointer moved, pressed, released) at page coordinates."""
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, log entries and dialogs seen so far."""
        found = []
        for event in self.events(
            "Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded", "Page.javascriptDialogOpening"
        ):
            params = event["params"]
            level = params.get("type") or params.get("entry", {}).get("level")
            if event["method"] in ("Runtime.consoleAPICalled", "Log.entryAdded") and level not in PROBLEM_LEVELS:
                continue
            found.append(f"{event['method']}: {json.dumps(params)[:500]}")
        return found
