"""What ``tracer.provider`` is while tracing is off: the escape hatch's shape, recording nothing.

Returning the real ``xray_recorder`` there would import the X-Ray SDK (outside Lambda that builds a
botocore session) and record subsegments although the Tracer is disabled.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any


class NoOpSubsegment:
    """Accepts what a subsegment accepts (annotations, metadata, exceptions, ...) and keeps nothing."""

    sampled = False

    def __getattr__(self, name: str) -> Callable[..., None]:
        return _nothing


class NoOpProvider:
    """``in_subsegment``, ``in_subsegment_async``, ``capture``, ... that run the code and record nothing."""

    @contextlib.contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[NoOpSubsegment]:
        yield NoOpSubsegment()

    @contextlib.asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> AsyncIterator[NoOpSubsegment]:
        yield NoOpSubsegment()

    def capture(self, name: str | None = None) -> Callable[[Any], Any]:
        return lambda function: function

    def capture_async(self, name: str | None = None) -> Callable[[Any], Any]:
        return lambda function: function

    # The entities the reference's disabled recorder hands out (its DummySubsegment/DummySegment) are never None:
    # ``tracer.provider.current_subsegment().put_annotation(...)`` must run while tracing is off.
    def current_subsegment(self) -> NoOpSubsegment:
        return _SUBSEGMENT

    def begin_subsegment(self, name: str, namespace: str = "local") -> NoOpSubsegment:
        return _SUBSEGMENT

    def current_segment(self) -> NoOpSubsegment:
        return _SUBSEGMENT

    def begin_segment(self, name: str | None = None, *args: Any, **kwargs: Any) -> NoOpSubsegment:
        return _SUBSEGMENT

    def get_trace_entity(self) -> NoOpSubsegment:
        return _SUBSEGMENT

    def is_sampled(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Callable[..., None]:
        return _nothing


def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


_SUBSEGMENT = NoOpSubsegment()
NOOP_PROVIDER = NoOpProvider()
