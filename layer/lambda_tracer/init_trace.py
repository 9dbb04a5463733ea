"""Cold-start anatomy: what init spent its time on, import by import, sent as ``## init`` on the first invocation.

Zero-code only. The handler redirect calls ``start`` just before it resolves the user's handler and ``stop``
right after, so the hook sees the user's module and everything it imports, and warm invocations pay nothing:

* **The hook** stands in for the path finder on ``sys.meta_path`` (and any finder after it) until init ends: it
  finds what that finder finds, and gives the module a loader that times ``create_module`` (extension modules
  load there) through ``exec_module``. Imports nest as the calls nest, so each module's time includes its
  children's. Only the thread that runs init is timed. An import that raises keeps its exception (``fault`` and
  its type).
* **Tracebacks stay the runtime's own.** The import system cuts its own frames out of a traceback (it looks for
  the ``<frozen importlib._bootstrap...>`` file name): the hook's three functions carry that file name, so they
  are cut with the rest, and an exception raised by any module the function imports shows the same frames with
  and without the layer. The handler's module itself (and its packages) is timed here, around the runtime's
  resolver, never through the hook: the runtime imports it with ``importlib.import_module``, whose frames are
  not cut.
* **What is kept** is decided when init ends (off the first invocation's path): imports whose time is at least
  ``LAMBDA_TRACER_INIT_MIN_MS`` (default 1 ms) or that raised, at most ``MAX_SPANS`` spans with ``## init``, the
  slowest first (failures before them), each with its ancestors so the tree stays whole.
* **The first invocation** of the process (the handler wrapper, through ``coldstart.send_pending_init``, before
  its handler span opens) records ``## init`` with the same parent as the handler, through the Tracer's backend
  (``start_span_at``, then ``child_at`` for the imports: spans recorded after the fact, never current), with
  init's real times: from the tracer's start to the end of the handler's resolution. A SnapStart sandbox restored from
  the snapshot holds the init that ran before it: its first invocation sends it, with those times.
"""

from __future__ import annotations

import _frozen_importlib as _bootstrap  # the import system's own: always loaded
import _frozen_importlib_external as _bootstrap_external
import sys
from _thread import get_ident
from time import perf_counter

from . import capture, coldstart, config

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

    from .backends import Backend, BackendSpan

#: Spans in one init tree, ``## init`` included.
MAX_SPANS = 100
DEFAULT_MIN_MS = 1.0
INIT_NAME = "## init"
ANNOTATION = "InitImportsMs"
NAMESPACE = "init"
#: What the import system recognises as its own frames (Python/import.c, remove_importlib_frames).
_IMPORTLIB_FILE = "<frozen importlib._bootstrap>"

# A node: [name, start (perf_counter), end, children (a list, or () while there are none), the exception it raised
# or None].
NAME, START, END, CHILDREN, ERROR = range(5)

#: The recording in progress (between start and stop), read by the loaders.
_active: Recording | None = None


class Recording:
    """One init: its tree of imports, while the hook is in place."""

    def __init__(self, started_wall: float, started: float, handler_module: str) -> None:
        self.started_wall = started_wall
        self.started = started
        self.thread = get_ident()
        self.root: list[Any] = [INIT_NAME, started, started, [], None]
        #: The handler's module, timed around the resolver (see the module's docstring).
        self.handler_node: list[Any] = [handler_module, perf_counter(), 0.0, [], None]
        self.root[CHILDREN].append(self.handler_node)
        self.stack: list[list[Any]] = [self.root, self.handler_node]
        parts = handler_module.split(".")
        #: The handler's module and its packages: imported by the resolver, not through the hook.
        self.skip = frozenset(".".join(parts[: index + 1]) for index in range(len(parts)))


class _Finder:
    """The import system's path finder (and any finder after it), in its place while init is traced: finds what it
    finds, with a timed loader.

    In its place rather than one finder first that asks the others: a lookup costs one call more, not a second
    pass through the import system's loop, nor, for a module that is not there, a second search of every path
    (~3.5 M instructions of the boto3 function's init). Finders before it are left as they are: the interpreter's
    own (built in, frozen: loaded from memory) and ones that find a module by asking the import system again, as
    the tracer's own hooks do (instrumentation/), whose modules are then timed here. It compares equal to the
    finder it holds, so code that looks for that finder in ``sys.meta_path`` (``in``, ``remove``, ``index``) finds it.
    """

    __slots__ = ("finder",)

    def __init__(self, finder: Any) -> None:
        self.finder = finder

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        spec = self.finder.find_spec(fullname, path, target)
        if spec is not None:
            loader = spec.loader
            if loader is not None and fullname not in _skip and hasattr(loader, "exec_module"):
                spec.loader = _Loader(loader, fullname)
        return spec

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.finder, attribute)

    def __eq__(self, other: object) -> bool:
        return self is other or bool(self.finder == other)

    def __hash__(self) -> int:
        return hash(self.finder)


_BUILT_IN = (_bootstrap.BuiltinImporter, _bootstrap.FrozenImporter)
#: The handler's module and its packages (Recording.skip): timed around the resolver, not by the hook.
_skip: frozenset[str] = frozenset()


class _Loader:
    """A module's own loader, timed; the module sees its own loader, before its code runs."""

    __slots__ = ("_created", "_loader", "_name")

    def __init__(self, loader: Any, name: str) -> None:
        self._loader = loader
        self._name = name
        self._created = 0.0

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._loader, attribute)

    def create_module(self, spec: Any) -> Any:
        self._created = perf_counter()
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        loader = self._loader
        try:  # as the import system sets them: a module object that refuses attributes keeps what it has
            module.__loader__ = loader
            spec = module.__spec__
            if spec is not None and spec.loader is self:
                spec.loader = loader
        except AttributeError:
            pass
        recording = _active
        if recording is None or get_ident() != recording.thread:
            loader.exec_module(module)
            return
        node = [self._name, self._created or perf_counter(), 0.0, (), None]
        stack = recording.stack
        parent = stack[-1]
        if parent[CHILDREN]:
            parent[CHILDREN].append(node)
        else:  # its first child: most imports have none, so their node gets no list of its own
            parent[CHILDREN] = [node]
        stack.append(node)
        try:
            loader.exec_module(module)
        except BaseException as error:
            node[ERROR] = error
            raise
        finally:
            node[END] = perf_counter()
            stack.pop()


for _function in (_Finder.find_spec, _Loader.create_module, _Loader.exec_module):
    _function.__code__ = _function.__code__.replace(co_filename=_IMPORTLIB_FILE)


def start(started_wall: float, started: float, handler_name: str) -> Recording:
    """Put the hook in place: ``started_*`` is when the tracer started (time.time(), time.perf_counter())."""
    global _active, _skip
    module = handler_name.rsplit(".", 1)[0].replace("/", ".")
    recording = _active = Recording(started_wall, started, module)
    _skip = recording.skip
    finders = sys.meta_path
    at = next((i for i, finder in enumerate(finders) if finder is _bootstrap_external.PathFinder), None)
    if at is None:  # no path finder (an embedding that replaced it): every finder but the interpreter's own
        at = next((i for i, finder in enumerate(finders) if finder not in _BUILT_IN), len(finders))
    finders[at:] = [_Finder(f) if hasattr(f, "find_spec") and type(f) is not _Finder else f for f in finders[at:]]
    return recording


def stop(error: BaseException | None = None) -> None:
    """Init is over (the handler is resolved, or failed to): remove the hook and choose what the first
    invocation sends. Never raises."""
    global _active
    recording, _active = _active, None
    try:
        sys.meta_path[:] = [f.finder if type(f) is _Finder else f for f in sys.meta_path]
        if recording is None:
            return
        ended = perf_counter()
        recording.handler_node[END] = ended
        recording.handler_node[ERROR] = error
        recording.root[END] = ended
        if error is None:
            coldstart.pending["init"] = Pending(recording).send
    except Exception as failure:
        config.report_once(("init trace",), f"init not traced: {config.error_place(failure)}")


def min_seconds() -> float:
    """``LAMBDA_TRACER_INIT_MIN_MS`` in seconds (0 to 10 minutes; anything else: one warning, the default)."""
    return config.get_float(config.INIT_MIN_MS, DEFAULT_MIN_MS, 0.0, 600_000.0) / 1000


def select(root: list[Any], min_s: float, limit: int) -> tuple[set[int], dict[str, int]]:
    """Which nodes are sent (ids of the node lists, the root always) and the counts of the others.

    A node is worth sending when it took at least ``min_s`` or raised. At most ``limit`` nodes, the root
    included: failures first, then the slowest (earlier first on a tie), each with every ancestor not yet
    kept (a child never outlives its parent, so ancestors are as slow, unless their child raised).
    """
    # One pass, preorder, with no generator per node (the boto3 function's ~310 imports: 5 M instructions before).
    nodes: list[list[Any]] = []
    parents: list[int] = []  # the index in nodes of each node's parent (-1: the root)
    minus_took: list[float] = []  # each node's duration, negated: the sort key of "slowest first"
    failed: list[int] = []
    slow: list[int] = []
    pending: list[tuple[list[Any], int]] = [(child, -1) for child in reversed(root[CHILDREN])]
    pop, push = pending.pop, pending.append
    while pending:
        node, parent = pop()
        index = len(nodes)
        nodes.append(node)
        parents.append(parent)
        took = node[END] - node[START]
        minus_took.append(-took)
        if node[ERROR] is not None:
            failed.append(index)
        elif took >= min_s:
            slow.append(index)
        children = node[CHILDREN]
        if children:
            for child in reversed(children):
                push((child, index))
    # Failures first, then the slowest; sort is stable, so an earlier node first on a tie (float keys: C compares).
    failed.sort(key=minus_took.__getitem__)
    slow.sort(key=minus_took.__getitem__)
    worth = failed + slow
    kept = {id(root)}
    kept_indexes: set[int] = set()
    for index in worth:
        if len(kept) >= limit:
            break  # full: a node not kept yet cannot fit, and one kept already (an ancestor) adds nothing
        chain = []
        at = index
        while at >= 0 and at not in kept_indexes:
            chain.append(at)
            at = parents[at]
        if len(kept) + len(chain) > limit:
            continue
        kept_indexes.update(chain)
        for at in chain:
            kept.add(id(nodes[at]))
    over_limit = len(worth) - len(kept_indexes.intersection(worth))
    counts = {
        "modules": len(nodes),
        "too_small": len(nodes) - len(kept_indexes) - over_limit,  # an ancestor kept for a child is not
        "over_limit": over_limit,
    }
    return kept, counts


class Pending:
    """One init's spans, chosen when init ended, waiting for the first invocation."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.min_s = min_seconds()
        self.kept, self.counts = select(recording.root, self.min_s, MAX_SPANS)
        recording.stack = []
        self.imports_s = sum(child[END] - child[START] for child in recording.root[CHILDREN])

    def send(self, backend: Backend) -> None:
        """Record the tree through ``backend`` (called once, by the first invocation, before its handler span)."""
        root = self.recording.root
        try:
            span = backend.start_span_at(INIT_NAME, self.wall(root[START]))
            if span is None:
                return  # not sampled, or a backend that cannot place spans in the past
            self._describe(span)
            self._send(root, span)
        except Exception as error:
            config.report_once(("init trace send",), f"init not traced: {config.error_place(error)}")
        finally:
            root[CHILDREN] = []  # the exceptions, and their frames, go now

    def wall(self, at: float) -> float:
        """A perf_counter() reading as epoch seconds."""
        return self.recording.started_wall + (at - self.recording.started)

    def _send(self, node: list[Any], span: BackendSpan) -> None:
        """``node``'s kept children under ``span``, then ``span`` ends (times as ``wall`` gives them, inlined: this
        runs once per span sent, up to a hundred on the first invocation)."""
        kept = self.kept
        started_wall, started = self.recording.started_wall, self.recording.started
        for child in node[CHILDREN]:
            if id(child) in kept:
                child_span = span.child_at(_span_name(child[NAME]), started_wall + (child[START] - started))
                if child_span is not None:
                    self._send(child, child_span)
        if node[ERROR] is not None:
            span.record_exception(node[ERROR])
        span.end_at(started_wall + (node[END] - started), node[ERROR])

    def _describe(self, span: BackendSpan) -> None:
        span.annotate(ANNOTATION, round(self.imports_s * 1000, 3))
        root = self.recording.root
        span.add_metadata(
            NAMESPACE,
            "init",
            {
                "init_ms": round((root[END] - root[START]) * 1000, 3),
                "imports_ms": round(self.imports_s * 1000, 3),
                "modules_imported": self.counts["modules"],
                "too_small": self.counts["too_small"],
                "over_limit": self.counts["over_limit"],
                "min_ms": self.min_s * 1000,
                "init_type": coldstart.init_type(),
            },
        )


def _span_name(module: str) -> str:
    """``import <module>`` as X-Ray takes it (module names are identifiers: only the length can be wrong)."""
    name = f"import {module}"
    if len(name) <= capture.MAX_NAME_CHARS and module.replace(".", "_").isidentifier():
        return name  # the usual case, checked in C: no character X-Ray refuses, nothing to cut
    return capture.clean_name(name)
