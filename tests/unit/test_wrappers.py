"""capture_method on every kind of callable (wrappers.py) keeps that kind, and traces it with the right parent."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from lambda_env import invoke
from lambda_tracer import Tracer
from lambda_tracer.tracer import kind_of
from lambda_tracer_local.daemon import by_name, subsegments

pytestmark = pytest.mark.usefixtures("memory_sender")  # what was sent, read in memory (tests/memory_sender.py)

PREFIX = "## test_wrappers"


def test_async_method() -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_method
    async def fetch(n: int) -> int:
        await asyncio.sleep(0)
        return n + 1

    assert inspect.iscoroutinefunction(fetch)

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> int:
        return asyncio.run(fetch(1))

    call = invoke(handler, expect=2)
    assert call.result == 2
    doc = by_name(call.documents, f"{PREFIX}.test_async_method.locals.fetch")
    assert doc["parent_id"] == by_name(call.documents, "## handler")["id"]
    assert doc["metadata"]["svc"]["test_wrappers.test_async_method.locals.fetch response"] == 2


def test_gather_gives_each_task_its_own_subsegment_under_the_right_parent() -> None:
    """The reference raises AlreadyEndedException here (aws-xray-sdk-python#164)."""
    tracer = Tracer(service="svc")

    @tracer.capture_method
    async def task(n: int, delay: float) -> int:
        tracer.put_annotation("task", n)
        await asyncio.sleep(delay)
        return n

    @tracer.capture_method
    async def gather_all() -> list[int]:
        # Finishing order differs from starting order on purpose.
        return list(await asyncio.gather(task(0, 0.03), task(1, 0.0), task(2, 0.015)))

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> list[int]:
        return asyncio.run(gather_all())

    call = invoke(handler, expect=5)
    assert call.error is None and call.result == [0, 1, 2]
    parent = by_name(
        call.documents,
        f"{PREFIX}.test_gather_gives_each_task_its_own_subsegment_under_the_right_parent.locals.gather_all",
    )
    tasks = [d for d in subsegments(call.documents) if d["name"].endswith("locals.task")]
    assert len(tasks) == 3
    assert {d["parent_id"] for d in tasks} == {parent["id"]}
    assert sorted(d["annotations"]["task"] for d in tasks) == [0, 1, 2]
    # Each subsegment ended when its own task did (not all at the gather's end): after its own sleep, in the
    # order the sleeps ran out, and within its parent's time.
    delays = {0: 0.03, 1: 0.0, 2: 0.015}
    for doc in tasks:
        assert doc["end_time"] - doc["start_time"] >= delays[doc["annotations"]["task"]] - 0.001
        assert parent["start_time"] <= doc["start_time"] <= doc["end_time"] <= parent["end_time"]
    assert [d["annotations"]["task"] for d in sorted(tasks, key=lambda d: d["end_time"])] == [1, 2, 0]
    slowest = next(d for d in tasks if d["annotations"]["task"] == 0)
    fastest = next(d for d in tasks if d["annotations"]["task"] == 1)
    assert slowest["end_time"] - slowest["start_time"] > fastest["end_time"] - fastest["start_time"]


def test_generator_records_return_value_and_passes_items() -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_method
    def numbers() -> Iterator[int]:
        yield 1
        yield 2
        return "finished"  # type: ignore[misc]

    assert inspect.isgeneratorfunction(numbers)

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> list[int]:
        return list(numbers())

    call = invoke(handler, expect=2)
    assert call.result == [1, 2]
    doc = by_name(call.documents, f"{PREFIX}.test_generator_records_return_value_and_passes_items.locals.numbers")
    assert (
        doc["metadata"]["svc"][
            "test_wrappers.test_generator_records_return_value_and_passes_items.locals.numbers response"
        ]
        == "finished"
    )


def test_generator_closed_early_is_not_an_error() -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_method
    def receipts() -> Iterator[str]:
        yield "r1"
        yield "r2"

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> str:
        return next(receipts())

    call = invoke(handler, expect=2)
    assert call.result == "r1"
    doc = by_name(call.documents, f"{PREFIX}.test_generator_closed_early_is_not_an_error.locals.receipts")
    assert "fault" not in doc and "error" not in doc


def test_context_manager_both_decorator_orders() -> None:
    tracer = Tracer(service="svc")

    @contextlib.contextmanager
    @tracer.capture_method
    def inner_first(charge: str) -> Iterator[str]:
        try:
            yield f"receipt-{charge}"
        finally:
            tracer.put_annotation(key="PaymentId", value=charge)

    @tracer.capture_method
    @contextlib.contextmanager
    def outer_first(charge: str) -> Iterator[str]:
        yield f"receipt-{charge}"

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> list[str]:
        with inner_first("a") as first, outer_first("b") as second:
            return [first, second]

    call = invoke(handler, expect=3)
    assert call.result == ["receipt-a", "receipt-b"]
    one = by_name(call.documents, f"{PREFIX}.test_context_manager_both_decorator_orders.locals.inner_first")
    assert one["annotations"] == {"PaymentId": "a"}
    two = by_name(call.documents, f"{PREFIX}.test_context_manager_both_decorator_orders.locals.outer_first")
    assert (
        two["metadata"]["svc"]["test_wrappers.test_context_manager_both_decorator_orders.locals.outer_first response"]
        == "receipt-b"
    )


def test_functools_wraps_around_generator_is_not_mistaken_for_a_context_manager() -> None:
    """The reference treats anything with __wrapped__ -> generator as a context manager."""
    import functools

    tracer = Tracer(service="svc")

    def gen() -> Iterator[int]:
        yield 7

    @functools.wraps(gen)
    def plain_wrapper() -> list[int]:
        return list(gen())

    traced = tracer.capture_method(plain_wrapper)

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> list[int]:
        return traced()

    assert invoke(handler, expect=2).result == [7]


def test_async_generator_and_async_context_manager() -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_method
    async def stream() -> AsyncIterator[int]:
        for n in range(3):
            yield n

    @tracer.capture_method
    @contextlib.asynccontextmanager
    async def session() -> AsyncIterator[str]:
        yield "conn"

    async def main() -> tuple[list[int], str]:
        items = [n async for n in stream()]
        async with session() as conn:
            return items, conn

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> list[object]:
        items, conn = asyncio.run(main())
        return [items, conn]

    call = invoke(handler, expect=3)
    assert call.result == [[0, 1, 2], "conn"]
    names = {d["name"] for d in subsegments(call.documents)}
    assert f"{PREFIX}.test_async_generator_and_async_context_manager.locals.stream" in names
    assert f"{PREFIX}.test_async_generator_and_async_context_manager.locals.session" in names


def test_async_handler_is_awaited() -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    async def handler(event: dict, context: object) -> str:
        await asyncio.sleep(0)
        return "async ok"

    call = invoke(lambda event, context: asyncio.run(handler(event, context)))
    assert call.result == "async ok"
    assert by_name(call.documents, "## handler")["metadata"]["svc"]["handler response"] == "async ok"


def test_threads_get_their_own_subsegments() -> None:
    from concurrent.futures import ThreadPoolExecutor

    tracer = Tracer(service="svc")

    @tracer.capture_method
    def work(n: int) -> int:
        return n * n

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> list[int]:
        with ThreadPoolExecutor(max_workers=3) as pool:
            return list(pool.map(work, range(3)))

    call = invoke(handler, expect=4)
    assert call.result == [0, 1, 4]
    works = [d for d in subsegments(call.documents) if d["name"].endswith("locals.work")]
    assert len(works) == 3
    assert all(d["trace_id"] == call.trace_id for d in works)


async def _accumulate() -> AsyncIterator[Any]:
    total = 0
    try:
        while True:
            got = yield total
            total += got or 0
    except KeyError:
        yield "handled KeyError"


async def _drive(make: Any) -> list[Any]:
    generator = make()
    out = [await generator.asend(None), await generator.asend(5), await generator.asend(7)]
    try:
        out.append(await generator.athrow(KeyError("k")))
    except BaseException as error:
        out.append(f"raised {error!r}")
    return out


@pytest.mark.parametrize("disabled", [False, True])
def test_async_generator_asend_and_athrow_reach_the_user_generator(disabled: bool) -> None:
    tracer = Tracer(service="svc", disabled=disabled)
    traced = tracer.capture_method(_accumulate)
    plain = asyncio.run(_drive(_accumulate))
    assert plain == [0, 5, 12, "handled KeyError"]
    assert asyncio.run(_drive(traced)) == plain


class _Thrown(Exception):
    """Thrown into a generator, which catches it and yields on."""


def _answers_everything() -> Iterator[Any]:
    """Yields what it is sent, and what it caught when something is thrown in (GeneratorExit too); sent "stop", it
    returns."""
    got: Any = None
    while got != "stop":
        try:
            got = yield got
        except BaseException as error:
            got = f"caught {error!r}"
    return "stopped"


def _returns_on_exit() -> Iterator[int]:
    try:
        yield 1
    except GeneratorExit:
        return "returned"  # type: ignore[misc]


async def _async_answers_everything() -> AsyncIterator[Any]:
    got: Any = None
    while got != "stop":
        try:
            got = yield got
        except BaseException as error:
            got = f"caught {error!r}"


async def _async_returns_on_exit() -> AsyncIterator[int]:
    try:
        yield 1
    except GeneratorExit:
        return


def _outcomes(steps: list[Callable[[], Any]]) -> list[str]:
    """Each step's answer to the caller: what it returned (awaited, for an awaitable), or what it raised."""

    async def run() -> list[str]:
        outcomes = []
        for step in steps:
            try:
                answer = step()
                outcomes.append(repr(await answer if inspect.isawaitable(answer) else answer))
            except BaseException as error:
                outcomes.append(f"raised {error!r}")
        return outcomes

    return asyncio.run(run())  # one loop for all the steps: its shutdown would aclose() a generator started in it


def _script(generator: Any) -> list[str]:
    """next, send, throw(GeneratorExit), throw(_Thrown), send("stop"), or the same on an async generator."""
    if inspect.isasyncgen(generator):
        send, throw = generator.asend, generator.athrow
    else:
        send, throw = generator.send, generator.throw
    steps = [(send, None), (send, "sent"), (throw, GeneratorExit), (throw, _Thrown("t")), (send, "stop")]
    return _outcomes([functools.partial(method, argument) for method, argument in steps])


def _exit_script(generator: Any) -> list[str]:
    """next, then throw(GeneratorExit)."""
    if inspect.isasyncgen(generator):
        return _outcomes([functools.partial(generator.asend, None), functools.partial(generator.athrow, GeneratorExit)])
    return _outcomes([functools.partial(next, generator), functools.partial(generator.throw, GeneratorExit)])


@pytest.mark.parametrize("disabled", [False, True])
@pytest.mark.parametrize(
    ("function", "script"),
    [
        (_answers_everything, _script),
        (_returns_on_exit, _exit_script),
        (_async_answers_everything, _script),
        (_async_returns_on_exit, _exit_script),
    ],
    ids=["generator", "generator returning on exit", "async generator", "async generator returning on exit"],
)
def test_throw_send_and_generator_exit_reach_the_user_generator_as_without_tracing(
    function: Callable[[], Any], script: Callable[[Any], list[str]], disabled: bool
) -> None:
    """A GeneratorExit thrown in (``gen.throw(GeneratorExit)``) reaches the user's generator as thrown, like any
    exception, and the caller gets its answer: the yielded value, its StopIteration. The wrapper (and ``yield from``,
    with tracing off) closed the generator instead: the caller got a RuntimeError ("generator ignored
    GeneratorExit"), or a GeneratorExit in place of the StopIteration."""
    tracer = Tracer(service="svc", disabled=disabled)
    traced = tracer.capture_method(function)
    plain = script(function())

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> list[str]:
        return script(traced())

    call = invoke(handler, expect=0 if disabled else 2)
    assert call.error is None and call.result == plain
    if not disabled:
        doc = by_name(call.documents, f"{PREFIX}.{function.__name__}")
        assert "fault" not in doc and "error" not in doc and not doc.get("in_progress")


def test_generator_subsegment_is_not_current_while_its_consumer_runs() -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_method
    def rows() -> Iterator[int]:
        yield 1
        yield 2

    @tracer.capture_method
    def between() -> str:
        return "consumer"

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> list[Any]:
        source = rows()
        first = next(source)
        middle = between()  # runs while the generator is suspended: a sibling, not its child
        with tracer.provider.in_subsegment("process"):
            rest = list(source)  # the generator finishes inside this block: "process" must survive
        return [first, middle, *rest]

    call = invoke(handler, expect=4)
    assert call.result == [1, "consumer", 2]
    handler_doc = by_name(call.documents, "## handler")
    assert (
        by_name(
            call.documents, f"{PREFIX}.test_generator_subsegment_is_not_current_while_its_consumer_runs.locals.between"
        )["parent_id"]
        == handler_doc["id"]
    )
    process = by_name(call.documents, "process")
    assert process["parent_id"] == handler_doc["id"] and not process.get("in_progress")
    assert handler_doc["metadata"]["svc"]["handler response"] == [1, "consumer", 2]


def test_a_generator_resumed_in_another_thread_keeps_its_children(
    generator_resumed_in_another_thread: Callable[[Tracer], Any],
) -> None:
    """A traced generator consumed by another thread (a pool's worker): what runs inside it there is its child. Its
    span was put on a stack the thread had not read the trace header for, and the thread's first read of the header
    emptied that stack: the child hung under Lambda's segment instead."""
    handler = generator_resumed_in_another_thread(Tracer(service="svc"))
    call = invoke(handler, expect=4)
    docs = subsegments(call.documents)
    [generator] = [doc for doc in docs if doc["name"].endswith(".rows")]
    steps = [doc for doc in docs if doc["name"].endswith(".step")]
    assert [doc["parent_id"] for doc in steps] == [generator["id"]] * 2


@pytest.mark.parametrize("kind", ["generator", "async generator"])
def test_a_generator_kept_from_an_earlier_invocation_never_parents_this_ones_spans(kind: str) -> None:
    """A traced generator made in one invocation and consumed in the next (a module-level cursor, read a page per
    invocation; an async one on an event loop kept across invocations): what runs inside it then goes under the
    running invocation's handler, in its trace. Resuming put the generator's span, of the earlier trace, on top of
    this invocation's stack: its children were sent in this invocation's trace under a parent that trace never has
    (X2), and X-Ray showed them orphaned."""
    tracer = Tracer(service="svc")

    @tracer.capture_method
    def step(n: int) -> int:
        return n

    @tracer.capture_method
    def rows() -> Iterator[int]:
        for n in range(4):
            yield step(n)

    @tracer.capture_method
    async def async_rows() -> AsyncIterator[int]:
        for n in range(4):
            yield step(n)

    loop = asyncio.new_event_loop()
    source: Any = rows() if kind == "generator" else async_rows()

    def take() -> int:
        return next(source) if kind == "generator" else loop.run_until_complete(source.__anext__())

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> list[int]:
        return [take(), take()]

    try:
        # The first invocation's steps are under the generator's span, which it leaves open: not checked here.
        assert invoke(handler, expect=3, check_rules=False).result == [0, 1]
        call = invoke(handler, expect=3)  # X-Ray's rules on what this one sent: every parent in its trace
        assert call.result == [2, 3]
        handler_doc = by_name(call.documents, "## handler")
        steps = [doc for doc in subsegments(call.documents) if doc["name"].endswith(".step")]
        assert [(doc["trace_id"], doc["parent_id"]) for doc in steps] == [(call.trace_id, handler_doc["id"])] * 2
    finally:
        if kind == "generator":
            source.close()
        else:
            loop.run_until_complete(source.aclose())
        loop.close()


# -- kind_of: inspect's answer, without importing inspect for a plain def --------------------------------------


async def _coroutine() -> None:
    pass


async def _coroutine_with_argument(self: object, n: int) -> int:
    return n


def _generator_with_argument(self: object, n: int) -> Iterator[int]:
    yield n


async def _async_generator_with_argument(self: object, n: int) -> AsyncIterator[int]:
    yield n


class _Callable:
    def __call__(self) -> None:
        pass

    partial_coroutine = functools.partialmethod(_coroutine_with_argument, 1)
    partial_generator = functools.partialmethod(_generator_with_argument, 1)
    partial_async_generator = functools.partialmethod(_async_generator_with_argument, 1)

    async def method(self) -> None:
        pass

    def gen_method(self) -> Iterator[int]:
        yield 1


async def _async_gen() -> AsyncIterator[int]:
    yield 1


def _gen() -> Iterator[int]:
    yield 1


def _plain() -> None:
    pass


def _marked() -> None:
    pass


if hasattr(inspect, "markcoroutinefunction"):  # 3.12+
    inspect.markcoroutinefunction(_marked)


def _inspect_kind(function: Any) -> str:
    if inspect.iscoroutinefunction(function):
        return "coroutine"
    if inspect.isasyncgenfunction(function):
        return "async generator"
    return "generator" if inspect.isgeneratorfunction(function) else "plain"


@pytest.mark.parametrize(
    "function",
    [
        _coroutine,
        _async_gen,
        _gen,
        _plain,
        _marked,
        lambda: None,
        functools.partial(_coroutine),
        functools.partial(_gen),
        _Callable(),
        _Callable().method,
        _Callable().gen_method,
        _Callable.method,
        len,
        staticmethod(_gen).__func__,
        functools.wraps(_plain)(lambda: None),
        contextlib.contextmanager(_gen),
        _Callable.partial_coroutine,  # 3.13+: inspect follows __partialmethod__
        _Callable.partial_generator,
        _Callable.partial_async_generator,
        _Callable().partial_coroutine,
        functools.wraps(_Callable.partial_coroutine)(lambda: None),
    ],
)
def test_kind_of_agrees_with_inspect(function: Any) -> None:
    assert kind_of(function) == _inspect_kind(function)


def test_kind_of_a_coroutine_function_whose_code_changed() -> None:
    """A plain def given a coroutine's code reads as a coroutine function, as inspect says."""

    def shell() -> None:
        pass

    shell.__code__ = _coroutine.__code__
    assert kind_of(shell) == _inspect_kind(shell) == "coroutine"
