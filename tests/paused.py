"""Another thread's change made at one exact point of this thread's work: when a given function is first called.

For races a test must win every time, without sleeps: this thread stops at the call (a profile hook, this thread
only) until the other thread has made its change, then goes on."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import CodeType
from typing import Any, TypeVar

T = TypeVar("T")


def changed_at_call(code: CodeType, change: Callable[[], None], work: Callable[[], T]) -> T:
    """``work()``'s result, ``change()`` having run in another thread when ``work`` first called the function whose
    code is ``code``. Fails if it never called it: the test would prove nothing."""
    reached, changed, paused = threading.Event(), threading.Event(), threading.Event()

    def other_thread() -> None:
        reached.wait()
        if paused.is_set():
            change()
        changed.set()

    def pause(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is code:
            sys.setprofile(None)
            paused.set()
            reached.set()
            changed.wait()

    worker = threading.Thread(target=other_thread)
    worker.start()
    previous = sys.getprofile()
    sys.setprofile(pause)
    try:
        result = work()
    finally:
        sys.setprofile(previous)
        reached.set()
        worker.join()
    assert paused.is_set(), f"{code.co_name} was never called: the test proves nothing"
    return result
