"""Wrappers for ``capture_method``, one named function per kind of callable, each keeping that kind.

A coroutine function stays a coroutine function, a generator stays a generator (delegated by hand so
that ``send``/``throw``/``close`` behave exactly as without tracing, and so that its subsegment is the
current one only while its own code runs), a context manager stays a context manager. ``wrap_method``
picks the wrapper from ``WRAPPERS`` by the kind ``tracer.kind_of`` gave (this module never imports the
Tracer: it sits below it).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Iterator

from .span import GuardedSpan

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

    from .tracer import Tracer

    Wrapper = Callable[[Tracer, Callable[..., Any], str, str, bool, bool], Callable[..., Any]]

__all__ = ["WRAPPERS", "wrap_method"]


def _code_of(factory: Callable[..., Any]) -> Any:
    def sample() -> Iterator[None]:
        yield

    return getattr(factory(sample), "__code__", None)


# contextlib.contextmanager/asynccontextmanager return a `helper` whose code object is shared by all
# uses; comparing code objects recognises them exactly (the reference guesses from `__wrapped__`).
_CONTEXTMANAGER_CODE = _code_of(contextlib.contextmanager)
_ASYNCCONTEXTMANAGER_CODE = _code_of(contextlib.asynccontextmanager)


def wrap_method(
    tracer: Tracer, method: Callable[..., Any], kind: str, title: str, name: str, response_on: bool, error_on: bool
) -> Callable[..., Any]:
    """The wrapper that keeps the method's kind: ``kind`` is ``tracer.kind_of(method)``, and a function made by
    ``contextlib.(async)contextmanager`` is recognised here, by its code."""
    code = getattr(method, "__code__", None)
    if code is not None and code is _CONTEXTMANAGER_CODE:
        kind = "context manager"
    elif code is not None and code is _ASYNCCONTEXTMANAGER_CODE:
        kind = "async context manager"
    return WRAPPERS[kind](tracer, method, title, name, response_on, error_on)


def wrap_function(
    tracer: Tracer, method: Callable[..., Any], title: str, name: str, response_on: bool, error_on: bool
) -> Callable[..., Any]:
    @functools.wraps(method)
    def traced(*args: Any, **kwargs: Any) -> Any:
        if not tracer._traces():
            return method(*args, **kwargs)
        span = GuardedSpan.start(tracer, title, name, response_on, error_on)
        try:
            result = method(*args, **kwargs)
        except BaseException as error:
            span.close(None, error)
            raise
        span.close(result, None)
        return result

    return traced


def wrap_coroutine(
    tracer: Tracer, method: Callable[..., Any], title: str, name: str, response_on: bool, error_on: bool
) -> Callable[..., Any]:
    @functools.wraps(method)
    async def traced_async(*args: Any, **kwargs: Any) -> Any:
        if not tracer._traces():
            return await method(*args, **kwargs)
        span = await GuardedSpan.start_async(tracer, title, name, response_on, error_on)
        try:
            result = await method(*args, **kwargs)
        except BaseException as error:
            await span.close_async(None, error)
            raise
        await span.close_async(result, None)
        return result

    return traced_async


def wrap_generator(
    tracer: Tracer, method: Callable[..., Any], title: str, name: str, response_on: bool, error_on: bool
) -> Callable[..., Any]:
    @functools.wraps(method)
    def traced_gen(*args: Any, **kwargs: Any) -> Any:
        # Like `yield from`, by hand (also when tracing is off): our subsegment is the current one only while the
        # generator's own code runs, not while its consumer runs between two items; and a GeneratorExit thrown in
        # reaches the generator as thrown (`yield from` would close() it instead: a generator that catches it and
        # yields, or returns, would then answer the caller with a RuntimeError, or a GeneratorExit).
        generator = method(*args, **kwargs)
        if tracer._traces():
            span = GuardedSpan.start(tracer, title, name, response_on, error_on)
        else:
            span = GuardedSpan(None, name, response_on, error_on, "")  # records nothing
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            try:
                if thrown is not None:
                    error, thrown = thrown, None
                    item = generator.throw(error)
                else:
                    item = generator.send(sent)
            except StopIteration as stop:
                span.close(stop.value, None)
                return stop.value
            except GeneratorExit:  # closed early by its consumer (e.g. `next(gen)` then dropped): not an error
                span.close(None, None)
                raise
            except BaseException as error:
                span.close(None, error)
                raise
            span.suspend()
            try:
                sent = yield item
            except BaseException as error:  # GeneratorExit too (close() throws it): passed on as it came
                thrown, sent = error, None
            span.resume()

    return traced_gen


def wrap_async_generator(
    tracer: Tracer, method: Callable[..., Any], title: str, name: str, response_on: bool, error_on: bool
) -> Callable[..., Any]:
    @functools.wraps(method)
    async def traced_async_gen(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        # Delegate by hand (there is no `yield from` for async generators) so that asend(),
        # athrow() and aclose() reach the user's generator exactly as without tracing (also when
        # tracing is off), and so that our subsegment is the current one only while the
        # generator's own code runs.
        generator = method(*args, **kwargs)
        span = GuardedSpan.start(tracer, title, name, response_on, error_on) if tracer._traces() else None

        def done(error: BaseException | None) -> None:
            if span is not None:
                span.close(None, error)

        sent: Any = None
        thrown: BaseException | None = None
        while True:
            try:
                if thrown is not None:
                    error, thrown = thrown, None
                    item = await generator.athrow(error)
                else:
                    item = await generator.asend(sent)
            except StopAsyncIteration:
                done(None)
                return
            except GeneratorExit:  # closed early by its consumer: not an error
                done(None)
                raise
            except BaseException as error:
                done(error)
                raise
            if span is not None:
                span.suspend()
            try:
                sent = yield item
            except BaseException as error:  # GeneratorExit too (aclose() throws it): passed on as it came
                thrown, sent = error, None
            if span is not None:
                span.resume()

    return traced_async_gen


def wrap_context_manager(
    tracer: Tracer, method: Callable[..., Any], title: str, name: str, response_on: bool, error_on: bool
) -> Callable[..., Any]:
    @functools.wraps(method)
    @contextlib.contextmanager
    def traced_cm(*args: Any, **kwargs: Any) -> Iterator[Any]:
        if not tracer._traces():
            with method(*args, **kwargs) as value:
                yield value
            return
        span = GuardedSpan.start(tracer, title, name, response_on, error_on)
        try:
            with method(*args, **kwargs) as value:
                yield value
        except BaseException as error:
            span.close(None, error)
            raise
        span.close(value, None)

    return traced_cm


def wrap_async_context_manager(
    tracer: Tracer, method: Callable[..., Any], title: str, name: str, response_on: bool, error_on: bool
) -> Callable[..., Any]:
    @functools.wraps(method)
    @contextlib.asynccontextmanager
    async def traced_acm(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        if not tracer._traces():
            async with method(*args, **kwargs) as value:
                yield value
            return
        span = GuardedSpan.start(tracer, title, name, response_on, error_on)
        try:
            async with method(*args, **kwargs) as value:
                yield value
        except BaseException as error:
            span.close(None, error)
            raise
        span.close(value, None)

    return traced_acm


#: The wrapper for each kind of callable (``tracer.kind_of``'s answers, and the two kinds of context manager).
WRAPPERS: dict[str, Wrapper] = {
    "plain": wrap_function,
    "coroutine": wrap_coroutine,
    "generator": wrap_generator,
    "async generator": wrap_async_generator,
    "context manager": wrap_context_manager,
    "async context manager": wrap_async_context_manager,
}
