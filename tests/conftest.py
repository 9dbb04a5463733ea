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
    """Each test starts with a first invocation pending, no configuration from earlier Tracers and no warning reported
    yet: ``config.report_once`` logs a key once per process (and at most ``MAX_REPORTS`` keys), so a test expecting a
    warning would otherwise pass or fail with the tests run before it in its process (test_instrumentation.py's two
    fault tests both inject an ``Injected_end`` into ``XRaySpan.end``: with the AWS call's first, the other saw no
    warning; mutmut runs a function's tests in its set's hash order, so that killed all of a function's mutants in
    some runs and none in others)."""
    from lambda_tracer import coldstart, config, endpoints, tracer

    tracer.reset_shared_config()
    coldstart.reset()
    endpoints.clear()
    config._reported.clear()
    config.suppressed = 0
    yield
