"""The init trace (init_trace.py): the import hook's tree, what is kept of it, and what the first invocation sends.

The hook runs here in this process, on modules written for each test; the end-to-end tests
(tests/e2e/test_e2e_init_trace.py) run it through the built layer and the real runtime.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambda_env import invoke
from lambda_tracer import Tracer, coldstart, config, init_trace
from lambda_tracer.backends import udp
from lambda_tracer.init_trace import CHILDREN, END, ERROR, NAME, START

pytestmark = pytest.mark.usefixtures("memory_sender")  # what was sent, read in memory (tests/memory_sender.py)

#: A name no other test imports: each test writes its own modules under it.
PACKAGE = "itrace_pkg"


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    """No hook, no pending init and none of the test modules left behind."""
    meta_path = list(sys.meta_path)
    yield
    init_trace._active = None
    coldstart.pending.clear()
    sys.meta_path[:] = meta_path
    for name in [name for name in sys.modules if name.split(".")[0] in (PACKAGE, "itrace_app")]:
        del sys.modules[name]


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A package of small modules: app imports a and b; a imports a.deep (which sleeps); b tries a failing one."""
    package = tmp_path / PACKAGE
    package.mkdir()
    files = {
        "__init__.py": "",
        "a.py": f"from {PACKAGE} import deep\n",
        "deep.py": "import time\ntime.sleep(0.005)\n",
        "b.py": f"try:\n    from {PACKAGE} import broken\nexcept ImportError:\n    broken = None\n",
        "broken.py": "import itrace_not_installed\n",
        "raises.py": "raise ValueError('at import')\n",
        "outer.py": f"from {PACKAGE} import raises\n",
    }
    for name, text in files.items():
        (package / name).write_text(text)
    (tmp_path / "itrace_app.py").write_text(
        f"from {PACKAGE} import a, b\n\ndef handler(event, context):\n    return {{'ok': 1}}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    return tmp_path


def flat(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every subsegment, embedded ones as their own (with the parent_id their nesting implies)."""
    found: list[dict[str, Any]] = []

    def walk(doc: dict[str, Any], parent: str | None) -> None:
        found.append({key: value for key, value in doc.items() if key != "subsegments"} | {"parent_id": parent})
        for child in doc.get("subsegments") or []:
            walk(child, doc["id"])

    for doc in documents:
        walk(doc, doc.get("parent_id"))
    return found


def node(name: str, start: float, end: float, *children: list[Any], error: BaseException | None = None) -> list[Any]:
    return [name, start, end, list(children), error]


def names(kept: set[int], tree: list[Any]) -> list[str]:
    """The names of the kept nodes, preorder."""
    found: list[str] = []

    def walk(at: list[Any]) -> None:
        if id(at) in kept:
            found.append(at[NAME])
            for child in at[CHILDREN]:
                walk(child)

    walk(tree)
    return found


# -- what is kept ---------------------------------------------------------------------------------------------


def test_imports_under_the_minimum_are_counted_not_kept() -> None:
    tree = node("## init", 0, 1, node("app", 0, 0.5, node("fast", 0.1, 0.1005), node("slow", 0.2, 0.3)))
    kept, counts = init_trace.select(tree, 0.001, 100)
    assert names(kept, tree) == ["## init", "app", "slow"]
    assert counts == {"modules": 3, "too_small": 1, "over_limit": 0}


def test_the_limit_keeps_the_slowest_with_their_ancestors() -> None:
    leaves = [node(f"leaf{i}", i, i + 0.01 * (i + 1)) for i in range(5)]
    middle = node("middle", 0, 5, *leaves)
    tree = node("## init", 0, 6, node("app", 0, 5.5, middle))
    kept, counts = init_trace.select(tree, 0.0, 5)  # init, app, middle, and the two slowest leaves
    assert names(kept, tree) == ["## init", "app", "middle", "leaf3", "leaf4"]
    assert counts == {"modules": 7, "too_small": 0, "over_limit": 3}


def test_a_slow_child_whose_ancestors_do_not_fit_is_left_out() -> None:
    deep = node("d3", 0, 1)
    tree = node("## init", 0, 3, node("d1", 0, 2, node("d2", 0, 1.5, deep)), node("other", 2, 2.9))
    kept, counts = init_trace.select(tree, 0.0, 3)  # init + d1 + d2 fit; d3 needs one more; other does not fit
    assert names(kept, tree) == ["## init", "d1", "d2"]
    assert counts["over_limit"] == 2


def test_a_failed_import_is_kept_however_fast_and_first() -> None:
    error = ImportError("nope")
    failing = node("failing", 0.1, 0.1001, error=error)
    tree = node("## init", 0, 1, node("app", 0, 0.9, node("fast_parent", 0.1, 0.1002, failing), node("slow", 0.2, 0.8)))
    kept, counts = init_trace.select(tree, 0.001, 4)  # room for init + three: the failure and its two ancestors
    assert names(kept, tree) == ["## init", "app", "fast_parent", "failing"]
    assert counts == {"modules": 4, "too_small": 0, "over_limit": 1}  # fast_parent is sent, for its child


def test_ties_keep_the_parent_before_its_child() -> None:
    child = node("child", 0, 1)
    tree = node("## init", 0, 1, node("parent", 0, 1, child))
    kept, _ = init_trace.select(tree, 0.0, 2)
    assert names(kept, tree) == ["## init", "parent"]


def test_an_empty_init_keeps_the_root_only() -> None:
    tree = node("## init", 0, 0.001)
    kept, counts = init_trace.select(tree, 0.001, 100)
    assert kept == {id(tree)} and counts == {"modules": 0, "too_small": 0, "over_limit": 0}


def _select_by_the_rule(root: list[Any], min_s: float, limit: int) -> tuple[set[int], dict[str, int]]:
    """The rule, written plainly (select's reference): each worth node in turn, failures first then slowest first
    (earlier first on a tie), kept with its ancestors not yet kept when they all fit."""
    nodes: list[tuple[list[Any], list[Any] | None]] = []

    def walk(node: list[Any], parent: list[Any] | None) -> None:
        nodes.append((node, parent))
        for child in node[CHILDREN]:
            walk(child, node)

    for child in root[CHILDREN]:
        walk(child, None)
    parent_of = {id(node): parent for node, parent in nodes}
    took = {id(node): node[END] - node[START] for node, _ in nodes}
    failed = [node for node, _ in nodes if node[ERROR] is not None]
    slow = [node for node, _ in nodes if node[ERROR] is None and took[id(node)] >= min_s]
    worth = sorted(failed, key=lambda node: -took[id(node)]) + sorted(slow, key=lambda node: -took[id(node)])
    kept = {id(root)}
    for node in worth:
        chain: list[list[Any]] = []
        at: list[Any] | None = node
        while at is not None and id(at) not in kept:
            chain.append(at)
            at = parent_of[id(at)]
        if len(kept) + len(chain) <= limit:
            kept.update(id(at) for at in chain)
    over_limit = sum(1 for node in worth if id(node) not in kept)
    counts = {"modules": len(nodes), "too_small": len(nodes) + 1 - len(kept) - over_limit, "over_limit": over_limit}
    return kept, counts


def _random_tree(rng: Any) -> list[Any]:
    """Times that nest as the hook records them, on a coarse clock (ties), a few failures."""

    def children(start: int, end: int, depth: int) -> list[list[Any]]:
        found: list[list[Any]] = []
        at = start
        while at < end and depth < 8 and rng.random() < 0.75:
            begin = rng.randint(at, end)
            finish = rng.randint(begin, end)
            error = ImportError("x") if rng.random() < 0.15 else None
            found.append(node(f"m{len(found)}", begin, finish, *children(begin, finish, depth + 1), error=error))
            at = finish
        return found

    return node("## init", 0, 60, node("app", 0, 60, *children(0, 60, 0)))


def test_select_keeps_what_the_rule_keeps_on_random_trees() -> None:
    import random

    rng = random.Random(21)
    for _ in range(3000):
        tree = _random_tree(rng)
        min_s, limit = rng.choice([0, 1, 3, 10]), rng.randint(1, 12)
        assert init_trace.select(tree, min_s, limit) == _select_by_the_rule(tree, min_s, limit)


def test_span_names_are_ones_x_ray_takes() -> None:
    assert init_trace._span_name("botocore.client") == "import botocore.client"
    assert init_trace._span_name("odd<name>!") == "import oddname"  # a finder may answer for any name
    assert init_trace._span_name("a" * 300) == ("import " + "a" * 300)[:250]
    assert init_trace._span_name("\u00e9t\u00e9.mod") == "import \u00e9t\u00e9.mod"


# -- the hook -------------------------------------------------------------------------------------------------


def _resolve(handler: str) -> Any:
    """What the redirect does: start, resolve (importing lambda_tracer.handler here would start its Tracer), stop."""
    module, name = handler.rsplit(".", 1)
    init_trace.start(time.time(), time.perf_counter(), handler)
    try:
        resolved = getattr(importlib.import_module(module), name)
    except BaseException as error:
        init_trace.stop(error)
        raise
    init_trace.stop()
    return resolved


def _recording() -> init_trace.Recording:
    pending = coldstart.pending.get("init")
    assert pending is not None
    recording: init_trace.Recording = pending.__self__.recording  # type: ignore[attr-defined]
    return recording


def test_the_tree_nests_as_the_imports_did(modules: Path) -> None:
    _resolve("itrace_app.handler")
    root = _recording().root
    (app,) = root[CHILDREN]
    assert app[NAME] == "itrace_app"
    # ``from itrace_pkg import a, b``: the package first, then each submodule, all imported by app.
    assert [child[NAME] for child in app[CHILDREN]] == [PACKAGE, f"{PACKAGE}.a", f"{PACKAGE}.b"]
    _, a, b = app[CHILDREN]
    (deep,) = a[CHILDREN]
    (broken,) = b[CHILDREN]
    assert deep[NAME] == f"{PACKAGE}.deep" and deep[END] - deep[START] >= 0.005  # it slept that long
    assert broken[NAME] == f"{PACKAGE}.broken" and isinstance(broken[ERROR], ModuleNotFoundError)
    assert b[ERROR] is None  # b caught it
    for parent, child in ((root, app), (app, a), (a, deep), (app, b), (b, broken)):
        assert parent[START] <= child[START] <= child[END] <= parent[END]


def test_the_hook_is_gone_when_init_ends_and_modules_keep_their_own_loaders(modules: Path) -> None:
    before = list(sys.meta_path)
    _resolve("itrace_app.handler")
    assert sys.meta_path == before and init_trace._active is None
    for name in ("itrace_app", PACKAGE, f"{PACKAGE}.a", f"{PACKAGE}.deep"):
        module = sys.modules[name]
        assert type(module.__loader__).__name__ == "SourceFileLoader", name
        assert module.__spec__ is not None and module.__spec__.loader is module.__loader__


def test_the_finders_and_loaders_are_left_as_they_are_while_init_is_traced(modules: Path) -> None:
    """The hook stands in for the import system's ``_load_unlocked``, not for a finder: code that looks for a
    finder in ``sys.meta_path`` (``in``, ``index``, ``remove``) finds the very same ones, and a module's code sees
    its own loader. It goes in place when the handler's module is created, and out when init ends."""
    from importlib.machinery import PathFinder

    bootstrap: Any = importlib._bootstrap  # type: ignore[attr-defined]
    before = list(sys.meta_path)
    init_trace.start(time.time(), time.perf_counter(), "itrace_app.handler")
    try:
        assert [id(f) for f in sys.meta_path] == [id(f) for f in before] and PathFinder in sys.meta_path
        assert bootstrap._load_unlocked is init_trace._load  # armed, not in place yet
        importlib.import_module("itrace_app")
        assert bootstrap._load_unlocked is init_trace._load_unlocked
        assert bootstrap.module_from_spec is init_trace._module_from_spec
        module = sys.modules[f"{PACKAGE}.a"]
        assert type(module.__loader__).__name__ == "SourceFileLoader" and module.__spec__.loader is module.__loader__
        assert init_trace._active is not None and init_trace._active.handler_node[CHILDREN]  # and it was timed
    finally:
        init_trace.stop(RuntimeError("not resolved"))
    assert [id(f) for f in sys.meta_path] == [id(f) for f in before]
    assert bootstrap._load_unlocked is init_trace._load


def test_a_handler_module_never_created_leaves_the_import_system_as_it_was() -> None:
    bootstrap: Any = importlib._bootstrap  # type: ignore[attr-defined]
    init_trace.start(time.time(), time.perf_counter(), "itrace_not_there.handler")
    assert bootstrap.module_from_spec is init_trace._arm
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("itrace_not_there")
    init_trace.stop(ModuleNotFoundError("itrace_not_there"))
    assert bootstrap.module_from_spec is init_trace._module_from_spec and bootstrap._load_unlocked is init_trace._load
    assert "init" not in coldstart.pending


def test_other_threads_imports_are_not_timed(modules: Path) -> None:
    init_trace.start(0.0, 0.0, "itrace_app.handler")
    worker = threading.Thread(target=importlib.import_module, args=(f"{PACKAGE}.a",))
    worker.start()
    worker.join()
    recording = init_trace._active
    init_trace.stop()
    assert recording is not None
    assert recording.root[CHILDREN][0][CHILDREN] == []
    assert f"{PACKAGE}.deep" in sys.modules


def _frames(error: BaseException) -> list[tuple[str, str]]:
    return [(Path(frame.filename).name, frame.name) for frame in traceback.extract_tb(error.__traceback__)]


def test_an_exception_raised_by_an_import_has_the_same_traceback_with_the_hook(modules: Path) -> None:
    def raise_it() -> list[tuple[str, str]]:
        with pytest.raises(ValueError) as raised:
            __import__(f"{PACKAGE}.outer")  # a statement: importlib.import_module's frames are never cut
        for name in (f"{PACKAGE}.outer", f"{PACKAGE}.raises"):
            sys.modules.pop(name, None)
        return _frames(raised.value)

    bare = raise_it()
    init_trace.start(0.0, 0.0, "itrace_app.handler")
    try:
        hooked = raise_it()
    finally:
        init_trace.stop()
    assert hooked == bare
    assert hooked == [("test_init_trace.py", "raise_it"), ("outer.py", "<module>"), ("raises.py", "<module>")]


@pytest.mark.parametrize("handler", ["itrace_app.handler", f"{PACKAGE}.raises.handler"])
def test_importlib_import_module_shows_the_same_frames_with_the_hook(modules: Path, handler: str) -> None:
    """``import_module``'s frames are never cut (the runtime imports the handler's module so): the hook takes its own
    frame out of what passes through it, timed (a module the function imports) or not (the handler's module)."""

    def raise_it() -> list[tuple[str, str]]:
        with pytest.raises(ValueError) as raised:
            importlib.import_module(f"{PACKAGE}.raises")
        sys.modules.pop(f"{PACKAGE}.raises", None)
        return _frames(raised.value)

    bare = raise_it()
    init_trace.start(0.0, 0.0, handler)
    try:
        if handler == "itrace_app.handler":
            importlib.import_module("itrace_app")  # the hook in place: the module is timed
        hooked = raise_it()
    finally:
        init_trace.stop()
    if sys.version_info < (3, 11) and handler == "itrace_app.handler":
        # 3.10 keeps every frame a re-raised exception went through: the hook's own (an importlib frame by its
        # name and file) stays, once, right above importlib's own _load_unlocked (docs/cold-start-anatomy.md).
        own = ("<frozen importlib._bootstrap>", "_load_unlocked")
        at = hooked.index(own)
        assert hooked[at + 1] == own
        hooked = hooked[:at] + hooked[at + 1 :]
    assert hooked == bare and hooked[-1] == ("raises.py", "<module>")


def test_a_failing_handler_module_leaves_nothing_pending(modules: Path) -> None:
    (modules / "itrace_app.py").write_text("raise RuntimeError('config')\n")
    with pytest.raises(RuntimeError):
        _resolve("itrace_app.handler")
    assert "init" not in coldstart.pending and init_trace._active is None


# -- what the first invocation sends ----------------------------------------------------------------------


def _expected(root: list[Any], min_s: float) -> set[str]:
    """The rule, from the recorded times: what took at least min_s or raised, with its ancestors."""
    found: set[str] = set()

    def walk(at: list[Any], ancestors: list[str]) -> None:
        if at[ERROR] is not None or at[END] - at[START] >= min_s:
            found.update([*ancestors, f"import {at[NAME]}"])
        for child in at[CHILDREN]:
            walk(child, [*ancestors, f"import {at[NAME]}"])

    for child in root[CHILDREN]:
        walk(child, [])
    return found


def test_the_first_invocation_sends_init_beside_the_handler(modules: Path) -> None:
    tracer = Tracer(service="svc", auto_patch=False)
    handler = tracer.capture_lambda_handler(_resolve("itrace_app.handler"))
    root = _recording().root
    expected = _expected(root, 0.001)
    for name in ("itrace_app", f"{PACKAGE}.a", f"{PACKAGE}.deep", f"{PACKAGE}.broken"):
        assert f"import {name}" in expected  # slept, or failed
    modules_imported = 6  # app, the package, a, deep, b, broken
    init_ms = (root[END] - root[START]) * 1000
    imports_ms = (root[CHILDREN][0][END] - root[CHILDREN][0][START]) * 1000

    first = invoke(handler, expect=2)  # ## init (its imports inside it: one datagram), ## handler
    by_name = {doc["name"]: doc for doc in flat(first.documents)}
    assert set(by_name) == expected | {"## init", "## handler"}
    init, app, handler_doc = by_name["## init"], by_name["import itrace_app"], by_name["## handler"]
    assert init["parent_id"] == handler_doc["parent_id"] == first.parent_id
    assert app["parent_id"] == init["id"]
    assert by_name[f"import {PACKAGE}.deep"]["parent_id"] == by_name[f"import {PACKAGE}.a"]["id"]
    assert by_name[f"import {PACKAGE}.broken"]["parent_id"] == by_name[f"import {PACKAGE}.b"]["id"]
    for doc in flat(first.documents):
        if doc["name"].startswith("import "):
            assert init["start_time"] <= doc["start_time"] <= doc["end_time"] <= init["end_time"]
    assert init["end_time"] <= handler_doc["start_time"]
    broken = by_name[f"import {PACKAGE}.broken"]
    assert broken["fault"] is True and broken["cause"]["exceptions"][0]["type"] == "ModuleNotFoundError"
    assert init["annotations"] == {"InitImportsMs": round(imports_ms, 3)}
    assert init["metadata"]["init"]["init"] == {
        "init_ms": round(init_ms, 3),
        "imports_ms": round(imports_ms, 3),
        "modules_imported": modules_imported,
        "too_small": modules_imported - len(expected),  # every ancestor of a kept one is kept for its own time
        "over_limit": 0,
        "min_ms": 1.0,
        "init_type": "on-demand",
    }
    assert root[CHILDREN] == []  # sent: the tree (and the exception it held) is gone

    second = invoke(handler)
    assert [doc["name"] for doc in flat(second.documents)] == ["## handler"]


def test_a_backend_that_cannot_place_past_spans_gets_nothing(modules: Path) -> None:
    calls: list[str] = []

    class Provider:
        def in_subsegment(self, name: str) -> Any:
            calls.append(name)
            raise RuntimeError("not here")

    _resolve("itrace_app.handler")
    Tracer(provider=Provider(), auto_patch=False)
    send = coldstart.pending.get("init")
    assert send is not None
    from lambda_tracer.backends.provider import ProviderBackend

    send(ProviderBackend(Provider()))
    assert calls == []


def test_a_bad_minimum_warns_once_and_uses_the_default(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config._reported.clear()
    for raw in ("fast", "-1", "nan", "inf"):
        monkeypatch.setenv(config.INIT_MIN_MS, raw)
        with caplog.at_level(logging.WARNING, logger="lambda_tracer"):
            assert init_trace.min_seconds() == 0.001
            assert init_trace.min_seconds() == 0.001
    warnings = [r.getMessage() for r in caplog.records if config.INIT_MIN_MS in r.getMessage()]
    assert len(warnings) == 4 and all("using the default, 1" in text for text in warnings)
    monkeypatch.setenv(config.INIT_MIN_MS, " 0.5 ")
    assert init_trace.min_seconds() == 0.0005
    config._reported.clear()


def test_a_tree_too_big_for_one_datagram_is_sent_span_by_span() -> None:
    """Imports travel inside ## init, one datagram; when that would pass 64 KB, each is sent on its own."""
    now = time.perf_counter()
    recording = init_trace.Recording(time.time(), now, "app")
    recording.handler_node[END] = recording.root[END] = now + 1
    long = "m" * 240
    for index in range(120):  # failures are always kept: 99 of them, each with a long name and message
        try:
            raise ImportError(f"{index} " + "x" * 900)
        except ImportError as error:
            failed = node(f"{long}{index}", now + index / 1000, now + index / 1000 + 0.0001, error=error)
        recording.handler_node[CHILDREN].append(failed)
    coldstart.pending["init"] = init_trace.Pending(recording).send
    handler = Tracer(service="svc", auto_patch=False).capture_lambda_handler(lambda event, context: 1)
    first = invoke(handler, expect=101)  # ## init, import app, 98 of the failures (100 in all), ## handler
    names = [doc["name"] for doc in first.documents]
    assert len(names) == 101 and len(set(names)) == 101 and "## init" in names and "import app" in names
    assert all("subsegments" not in doc for doc in first.documents)
    init = next(doc for doc in first.documents if doc["name"] == "## init")
    assert init["metadata"]["init"]["init"]["over_limit"] == 120 - 98


# -- the hook's place, and the spans written in one pass ------------------------------------------------------


def test_a_hook_put_over_ours_during_init_stays_and_ours_passes_every_call_on(modules: Path) -> None:
    """stop() puts the import system's function back only if ours is still the one in place."""
    bootstrap: Any = importlib._bootstrap  # type: ignore[attr-defined]
    seen: list[str] = []
    init_trace.start(time.time(), time.perf_counter(), "itrace_app.handler")
    importlib.import_module("itrace_app")  # the hook goes in place
    ours = bootstrap._load_unlocked
    assert ours is init_trace._load_unlocked

    def theirs(spec: Any) -> Any:
        seen.append(spec.name)
        return ours(spec)

    bootstrap._load_unlocked = theirs
    try:
        init_trace.stop(RuntimeError("not resolved"))
        assert bootstrap._load_unlocked is theirs
        with pytest.raises(ValueError):  # after init: passed on, not timed, and its frames as they are
            importlib.import_module(f"{PACKAGE}.raises")
        assert seen == [f"{PACKAGE}.raises"]
    finally:
        bootstrap._load_unlocked = init_trace._load


def _raised(message: str) -> ImportError:
    try:
        raise ImportError(message)
    except ImportError as error:
        return error


def _tree_documents(write: Any) -> list[bytes]:
    """The datagrams of ``## init`` with a tree of finished spans written by ``write(span, spans)``."""
    from lambda_tracer.backends import xray

    inner = _raised("inner")
    try:
        raise inner
    except ImportError:
        pass
    now = 1_796_588_725.325146  # the same times in both runs
    spans: list[Any] = [
        ("import app", now, now + 0.5, None, [
            ("import pkg", now + 0.001, now + 0.2, inner, [  # re-raised what its child raised: one cause, by id
                ("import pkg.inner", now + 0.002, now + 0.1, inner, []),
            ]),
            ("import caf\u00e9", now + 0.2, now + 0.2000004, None, []),  # escaped as the encoder does; a time cut
            ("import later", now + 0.3, now + 0.29, None, []),  # ends before it starts: ends as it starts
            ("import slow", now + 0.31, now + 0.4, _raised("other"), []),
        ]),
    ]  # fmt: skip
    sender = udp._sender
    assert sender is not None
    first = len(sender.datagrams())
    os.environ["_X_AMZN_TRACE_ID"] = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8a01;Sampled=1"
    try:
        xray.clear()
        span = xray.XRayBackend().start_span_at("## init", now - 0.01)
        assert span is not None
        write(span, spans)
        span.end_at(now + 1)
    finally:
        del os.environ["_X_AMZN_TRACE_ID"]
        xray.clear()
    return sender.datagrams(first)


def _ids_in_order(data: bytes) -> bytes:
    """The datagram with each span and exception id replaced by its rank of first appearance (ids are random)."""
    import re

    ids: dict[bytes, bytes] = {}
    return re.sub(rb"[0-9a-f]{16}", lambda match: ids.setdefault(match.group(), b"%016d" % len(ids)), data)


def test_the_x_ray_backend_writes_finished_spans_as_the_span_api_would(memory_sender: Any) -> None:
    from lambda_tracer.backends import BackendSpan

    fast = _tree_documents(lambda span, spans: span.add_finished(spans))
    general = _tree_documents(lambda span, spans: BackendSpan.add_finished(span, spans))  # child_at, end_at
    assert len(fast) == len(general) == 1  # the tree embedded in ## init: one datagram
    assert _ids_in_order(fast[0]) == _ids_in_order(general[0])
    (init,) = flat([json.loads(fast[0].split(b"\n", 1)[1])])[:1]
    docs = {doc["name"]: doc for doc in flat([json.loads(fast[0].split(b"\n", 1)[1])])}
    assert docs["import pkg.inner"]["parent_id"] == docs["import pkg"]["id"]
    assert docs["import pkg"]["cause"] == docs["import pkg.inner"]["cause"]["exceptions"][0]["id"]  # the same one
    assert docs["import later"]["start_time"] == docs["import later"]["end_time"]
    assert init["name"] == "## init"
