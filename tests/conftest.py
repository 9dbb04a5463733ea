"""Root test configuration: library tests run in a Lambda-like process (see lambda_env.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import lambda_env

lambda_env.install()

TYPE_CHECKING = False
if TYPE_CHECKING:
    from memory_sender import MemorySender


@pytest.fixture
def daemon() -> lambda_env.XRayDaemon:
    return lambda_env.install()


@pytest.fixture
def memory_sender() -> Iterator[MemorySender]:
    """The sender seam (memory_sender.py): what the tracer sends during the test is kept in memory, not sent over UDP;
    ``invoke()`` reads it, and what no ``invoke()`` took must keep X-Ray's rules too."""
    import memory_sender

    sender = lambda_env.SINK = memory_sender.install()
    try:
        yield sender
        lambda_env.assert_other_datagrams_follow_xray_rules(0, sender)
    finally:
        lambda_env.SINK = None
        lambda_env._INVOKED_IN.pop(sender, None)
        memory_sender.uninstall(sender)


@pytest.fixture(autouse=True)
def _xray_rules_outside_invoke() -> Iterator[None]:
    """What reaches the daemon outside invoke() (a test calling a handler itself) keeps X-Ray's rules too."""
    first = len(lambda_env.install().datagrams())
    yield
    lambda_env.assert_other_datagrams_follow_xray_rules(first)


@pytest.fixture(autouse=True)
def _fresh_tracer_state() -> Iterator[None]:
    """Each test starts with a first invocation pending and no configuration from earlier Tracers."""
    from lambda_tracer import coldstart, endpoints, tracer

    tracer.reset_shared_config()
    coldstart.reset()
    endpoints.clear()
    yield
