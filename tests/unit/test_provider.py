"""A user's ``provider=`` (backends/provider.py): called exactly as the reference calls it, while disabled too."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from lambda_tracer import Tracer


class RecordingSegment:
    def __init__(self, calls: list[tuple[Any, ...]], name: str) -> None:
        self.calls, self.name = calls, name

    def put_annotation(self, key: str, value: Any) -> None:
        self.calls.append(("segment.put_annotation", self.name, key, value))

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.calls.append(("segment.put_metadata", self.name, key, value, namespace))


class RecordingProvider:
    """A duck-typed provider, as users write them to unit-test or to trace to another vendor."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    @contextlib.contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[RecordingSegment]:
        self.calls.append(("in_subsegment", name))
        try:
            yield RecordingSegment(self.calls, str(name))
        except BaseException as error:
            self.calls.append(("exit", name, type(error).__name__))
            raise
        self.calls.append(("exit", name, None))

    @contextlib.asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> AsyncIterator[RecordingSegment]:
        self.calls.append(("in_subsegment_async", name))
        yield RecordingSegment(self.calls, str(name))
        self.calls.append(("exit_async", name, None))

    def put_annotation(self, key: str, value: Any) -> None:
        self.calls.append(("put_annotation", key, value))

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.calls.append(("put_metadata", key, value, namespace))

    def patch(self, modules: Any) -> None:
        self.calls.append(("patch", list(modules)))

    def patch_all(self) -> None:
        self.calls.append(("patch_all",))


@pytest.mark.parametrize("disabled", [False, True])
def test_a_custom_provider_is_called_as_the_reference_calls_it(disabled: bool) -> None:
    provider = RecordingProvider()
    tracer = Tracer(service="booking", provider=provider, disabled=disabled, auto_patch=False)

    @tracer.capture_method
    async def fetch() -> str:
        return "fetched"

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        tracer.put_annotation("customer", "c-1")
        tracer.put_metadata("cart", {"items": 2})
        return asyncio.run(fetch())

    assert handler({}, None) == "fetched"
    calls = provider.calls
    assert calls[0] == ("in_subsegment", "## handler")  # called while disabled too: disabled stops X-Ray only
    assert ("segment.put_annotation", "## handler", "ColdStart", True) in calls
    assert ("segment.put_annotation", "## handler", "Service", "booking") in calls
    assert not any(call[2:3] == ("InitType",) for call in calls)  # exactly the reference's annotations
    assert (
        "in_subsegment_async",
        f"## {__name__}.test_a_custom_provider_is_called_as_the_reference_calls_it.locals.fetch",
    ) in calls
    assert ("segment.put_metadata", "## handler", "handler response", "fetched", "booking") in calls
    if disabled:  # the reference drops these when disabled
        assert not any(call[0] in ("put_annotation", "put_metadata") for call in calls)
    else:
        assert ("put_annotation", "customer", "c-1") in calls
        assert ("put_metadata", "cart", {"items": 2}, "booking") in calls
    assert calls[-1] == ("exit", "## handler", None)


def test_a_custom_provider_sees_exceptions_and_patching() -> None:
    provider = RecordingProvider()
    tracer = Tracer(service="booking", provider=provider)  # auto_patch: patch_all(), as the reference
    tracer.patch(["boto3", "requests"])

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError):
        handler({}, None)
    assert ("patch_all",) in provider.calls and ("patch", ["boto3", "requests"]) in provider.calls
    assert provider.calls[-1] == ("exit", "## handler", "KeyError")
    errors = [call for call in provider.calls if call[0] == "segment.put_metadata" and call[2] == "handler error"]
    assert errors and errors[0][3]["type"] == "KeyError"


def test_a_provider_made_on_every_invocation_is_freed_with_its_tracer() -> None:
    """The backend of each provider was kept in a process-wide dict by ``id(provider)``, holding the provider: a
    function making its Tracer (and provider) inside the handler kept every one it ever made, for the sandbox's life.
    Each invocation's spans still reach its own provider; once its Tracer is gone, only the last provider (kept
    for later Tracers, as the reference keeps it) is alive."""
    import gc
    import weakref

    made: list[weakref.ref[RecordingProvider]] = []
    for index in range(1000):
        provider = RecordingProvider()
        tracer = Tracer(service="booking", provider=provider, auto_patch=False)

        @tracer.capture_lambda_handler
        def handler(event: dict[str, Any], context: object) -> Any:
            return event["n"]

        assert handler({"n": index}, None) == index
        assert provider.calls[0] == ("in_subsegment", "## handler") and provider.calls[-1][0] == "exit"
        made.append(weakref.ref(provider))
        del provider, tracer, handler
    gc.collect()
    assert [ref() is not None for ref in made] == [False] * 999 + [True]
