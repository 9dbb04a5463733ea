"""Cold-start anatomy: what init spent its time on, import by import, sent as ``## init`` on the first invocation.

Zero-code only. The handler redirect calls ``start`` just before it resolves the user's handler and ``stop``
right after, so the hook sees the user's module and everything it imports, and warm invocations pay nothing:

* **The hook** stands in for the import system's ``_load_unlocked`` (``importlib._bootstrap``) until init ends:
  the function the import system calls once a module's spec is found, to create the module and run its code. One
  Python frame per module imported, and nothing made but the module's node: ``sys.meta_path``, the finders, the
  spec and the loader are left as they are. Imports nest as the calls nest, so each module's time includes its
  children's. Only the thread that runs init is timed; the interpreter's built-in and frozen modules are not. An
  import that raises keeps its exception (``fault`` and its type).
* **Tracebacks stay the runtime's own.** The import system cuts its own frames out of a traceback (it looks for
  the ``<frozen importlib._bootstrap...>`` file name): the hook carries that file name, so it is cut with the
  rest, and an exception raised by any module the function imports shows the same frames with and without the
  layer. The handler's module itself (and its packages) is timed here, around the runtime's resolver, never
  through the hook: the runtime imports it with ``importlib.import_module``, whose frames are not cut.
* **What is kept** is decided when init ends (off the first invocation's path): imports whose time is at least
  ``LAMBDA_TRACER_INIT_MIN_MS`` (default 1 ms) or that raised, at most ``MAX_SPANS`` spans with ``## init``, the
  slowest first (failures before them), each with its ancestors so the tree stays whole.
* **The first invocation** of the process (the handler wrapper, through ``coldstart.send_pending_init``, before
  its handler span opens) records ``## init`` with the same parent as the handler, through the Tracer's backend
  (``start_span_at``, then ``add_finished`` for the imports: spans recorded after the fact, never current), with
  init's real times: from the tracer's start to the end of the handler's resolution. A SnapStart sandbox restored from
  the snapshot holds the init that ran before it: its first invocation sends it, with those times.
"""

from __future__ import annotations

import _frozen_importlib as _bootstrap  # the import system's own: always loaded
import sys
from _thread import get_ident
from time import perf_counter

from . import capture, coldstart, config

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

    from .backends import Backend, BackendSpan, Finished

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

#: The recording in progress (between start and stop).
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
        parts = handler_module.split(".")
        #: The handler's module and its packages: imported by the resolver, not through the hook.
        self.skip = frozenset(".".join(parts[: index + 1]) for index in range(len(parts)))


#: The import system's own ``_load_unlocked`` (module_from_spec, then the loader's exec_module), which the hook
#: stands in for while init is traced.
_load = _bootstrap._load_unlocked  # type: ignore[attr-defined]
#: What the hook reads on every import, as globals (one lookup each): the recording's thread (None: nothing is
#: traced), the innermost import open (the handler's node when none is), and the names it leaves to the resolver
#: (Recording.skip).
_thread: int | None = None
_current: list[Any] = []
_skip: frozenset[str] = frozenset()
#: The loaders of the interpreter's own modules (built in, frozen: loaded from memory), which are not timed.
_BUILT_IN, _FROZEN = _bootstrap.BuiltinImporter, _bootstrap.FrozenImporter


def _load_unlocked(spec: Any) -> Any:
    """The import system's ``_load_unlocked``, timed: one Python frame per module imported (the import system
    calls it by its global name, from ``_find_and_load_unlocked``, once the module's spec is found), and nothing
    made per module but its node. The module, its spec and its loader are left as they are."""
    global _current
    name = spec.name
    loader = spec.loader
    if get_ident() != _thread or loader is _BUILT_IN or loader is _FROZEN or name in _skip:
        try:
            return _load(spec)
        except BaseException as error:
            _drop_own_frame(error)
            raise
    parent = _current
    node = [name, perf_counter(), 0.0, (), None]
    if parent[3]:  # CHILDREN
        parent[3].append(node)
    else:  # its first child: most imports have none, so their node gets no list of its own
        parent[3] = [node]
    _current = node
    try:
        return _load(spec)
    except BaseException as error:
        node[4] = error  # ERROR
        _drop_own_frame(error)
        raise
    finally:
        node[2] = perf_counter()  # END
        _current = parent


#: The import system's own ``module_from_spec``, which ``_arm`` stands in for until the hook is in place.
_module_from_spec = _bootstrap.module_from_spec
#: The modules whose creation puts the hook in place (Recording.skip, or the handler's module alone: see start).
_arm_at: frozenset[str] = frozenset()


def _arm(spec: Any) -> Any:
    """The import system's ``module_from_spec`` from ``start`` until the handler's module (or its first package not
    imported yet) is created: the hook goes in place then, right after the import system looked up the function it
    stands in for, so that the handler's own import never runs through it (``importlib.import_module`` shows every
    frame of a traceback), and this frame is gone before the module's code runs."""
    if spec.name in _arm_at and get_ident() == _thread:
        _bootstrap.module_from_spec = _module_from_spec
        _bootstrap._load_unlocked = _load_unlocked  # type: ignore[attr-defined]
    try:
        return _module_from_spec(spec)
    except BaseException as error:
        _drop_own_frame(error)
        raise


def _drop_own_frame(error: BaseException) -> None:
    """Take the hook's frame out of the traceback of an exception passing through it, before it is re-raised (a
    bare ``raise`` adds no frame from Python 3.11 on): tracebacks stay as without the layer, also where the import
    system cuts none of its own frames (``importlib.import_module``)."""
    traceback = error.__traceback__
    if traceback is not None and traceback.tb_frame.f_code in _OWN_CODE:
        error.__traceback__ = traceback.tb_next


# The import system cuts its own frames (by file name) out of the traceback of an exception raised by a module's
# code: the hook's frames carry that name too, for an exception seen while they are still on the stack.
_load_unlocked.__code__ = _load_unlocked.__code__.replace(co_filename=_IMPORTLIB_FILE)
_arm.__code__ = _arm.__code__.replace(co_filename=_IMPORTLIB_FILE)
_OWN_CODE = (_load_unlocked.__code__, _arm.__code__)


def start(started_wall: float, started: float, handler_name: str) -> Recording:
    """Arm the hook: it goes in place when the handler's module is created (``_arm``). ``started_*`` is when the
    tracer started (time.time(), time.perf_counter()).

    Before Python 3.11 a re-raised exception keeps every frame it went through, the hook's too: there the hook goes in
    place with the handler's module itself, so the imports of its packages' ``__init__`` are not timed; from 3.11 on
    with the first of them, and its frame is taken out of what passes through it (``_drop_own_frame``)."""
    global _active, _skip, _current, _thread, _arm_at
    module = handler_name.rsplit(".", 1)[0].replace("/", ".")
    recording = _active = Recording(started_wall, started, module)
    _skip, _current, _thread = recording.skip, recording.handler_node, recording.thread
    _arm_at = recording.skip if sys.version_info >= (3, 11) else frozenset((module,))
    _bootstrap.module_from_spec = _arm
    return recording


def stop(error: BaseException | None = None) -> None:
    """Init is over (the handler is resolved, or failed to): remove the hook and choose what the first
    invocation sends. Never raises."""
    global _active, _thread, _current
    recording, _active, _thread, _current = _active, None, None, []
    try:
        # Unless someone wrapped them since: then ours stay below theirs, passing every call on (no thread is _thread).
        if _bootstrap._load_unlocked is _load_unlocked:  # type: ignore[attr-defined]
            _bootstrap._load_unlocked = _load  # type: ignore[attr-defined]
        if _bootstrap.module_from_spec is _arm:  # the handler's module was never created (not found, or imported)
            _bootstrap.module_from_spec = _module_from_spec
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
    """Which nodes are sent (ids of the node lists, the root always) and the counts of the others (``_choose``)."""
    nodes, _, kept, counts = _choose(root, min_s, limit)
    return {id(root), *map(id, map(nodes.__getitem__, kept))}, counts


def _choose(root: list[Any], min_s: float, limit: int) -> tuple[list[list[Any]], list[int], set[int], dict[str, int]]:
    """(the nodes below the root in preorder, each one's parent's index (-1: the root), the indexes of those sent,
    the counts of the others).

    A node is worth sending when it took at least ``min_s`` or raised. At most ``limit`` nodes, the root
    included: failures first, then the slowest (earlier first on a tie), each with every ancestor not yet
    kept (a child never outlives its parent, so ancestors are as slow, unless their child raised).

    Times nest as the hook records them (a child within its parent), so an ancestor of a slow node is at least as
    slow and comes before it, slowest first: once the failures are placed, the slow nodes are kept in that order
    while there is room, with no ancestor walk (their ancestors are kept already; a failure whose ancestors did
    not fit leaves no room for its descendants either). tests/unit/test_init_trace.py holds it to the rule.
    """
    nodes: list[list[Any]] = []  # preorder
    parents: list[int] = []  # the index in nodes of each node's parent (-1: the root)
    failed: list[int] = []
    _preorder(root[CHILDREN], -1, nodes, parents, failed)
    minus_took = [node[START] - node[END] for node in nodes]  # each node's duration, negated: "slowest first"
    most = -min_s  # a node is slow when its minus_took is at most this
    room = limit - 1  # beside the root
    kept: set[int] = set()  # indexes in nodes
    kept_worth = 0  # of them, those worth sending for themselves (not only for a child)
    if failed:
        failed.sort(key=minus_took.__getitem__)  # stable: an earlier node first on a tie
        for index in failed:
            if len(kept) >= room:
                break
            chain = []
            at = index
            while at >= 0 and at not in kept:
                chain.append(at)
                at = parents[at]
            if len(kept) + len(chain) <= room:
                kept.update(chain)
        kept_worth = sum(1 for at in kept if nodes[at][ERROR] is not None or minus_took[at] <= most)
    ranked = sorted(range(len(nodes)), key=minus_took.__getitem__)  # C-compared float keys, stable
    count = len(ranked)
    low, high = 0, count  # where the slow ones end (a prefix of ranked), by bisection
    while low < high:
        middle = (low + high) // 2
        if minus_took[ranked[middle]] <= most:
            low = middle + 1
        else:
            high = middle
    left = room - len(kept)
    if left > 0:
        slowest = ranked[:low]
        if failed:  # neither a failure nor what is kept already is placed again
            placed = kept.union(failed)
            slowest = [index for index in slowest[: left + len(placed)] if index not in placed]
        taken = slowest[:left]
        kept.update(taken)
        kept_worth += len(taken)
    worth = len(failed) + low - sum(1 for at in failed if minus_took[at] <= most)
    over_limit = worth - kept_worth
    counts = {
        "modules": len(nodes),
        "too_small": len(nodes) - len(kept) - over_limit,  # an ancestor kept for a child is not
        "over_limit": over_limit,
    }
    return nodes, parents, kept, counts


def _preorder(
    children: list[list[Any]], parent: int, nodes: list[list[Any]], parents: list[int], failed: list[int]
) -> None:
    """``children`` and their descendants, preorder, into ``nodes``, with their parent's index and the failures'."""
    for node in children:
        if node[ERROR] is not None:
            failed.append(len(nodes))
        parents.append(parent)
        nodes.append(node)
        if node[CHILDREN]:
            _preorder(node[CHILDREN], len(nodes) - 1, nodes, parents, failed)


class Pending:
    """One init's spans, chosen when init ended, waiting for the first invocation."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.min_s = min_seconds()
        self.nodes, self.parents, self.kept, self.counts = _choose(recording.root, self.min_s, MAX_SPANS)
        self.imports_s = sum(child[END] - child[START] for child in recording.root[CHILDREN])

    def send(self, backend: Backend) -> None:
        """Record the tree through ``backend`` (called once, by the first invocation, before its handler span)."""
        root = self.recording.root
        try:
            span = backend.start_span_at(INIT_NAME, self.wall(root[START]))
            if span is None:
                return  # not sampled, or a backend that cannot place spans in the past
            self._describe(span)
            span.add_finished(self._finished())
            if root[ERROR] is not None:
                span.record_exception(root[ERROR])
            span.end_at(self.wall(root[END]), root[ERROR])
        except Exception as error:
            config.report_once(("init trace send",), f"init not traced: {config.error_place(error)}")
        finally:
            # The tree goes now; its exceptions, with their frames, by the next full collection (each holds its
            # traceback's frames, and they the hook's, whose locals hold nodes: a cycle). Freeing them here, by
            # reference counts, moved the first invocations' collections and cost more than it saved (measured:
            # docs/performance.md, the garbage collector on a cold start).
            root[CHILDREN] = self.nodes = []

    def wall(self, at: float) -> float:
        """A perf_counter() reading as epoch seconds."""
        return self.recording.started_wall + (at - self.recording.started)

    def _finished(self) -> list[Finished]:
        """The kept imports as ``BackendSpan.add_finished`` takes them, nested, built in one pass over them in
        preorder (a kept import's parent is kept, and placed before it). Their span names are checked all at once:
        module names of none of the characters ``capture.clean_name`` deletes, none too long, are ``import <name>``
        as they are (``_span_name`` for each otherwise)."""
        nodes, parents = self.nodes, self.parents
        order = sorted(self.kept)
        modules = [nodes[index][NAME] for index in order]
        plain = not modules or (
            max(map(len, modules)) <= _MAX_PLAIN_MODULE
            and len(text := "".join(modules)) == len(text.translate(capture.NAME_DELETIONS))
        )
        started_wall, started = self.recording.started_wall, self.recording.started
        found: list[Finished] = []
        below: dict[int, list[Finished]] = {-1: found}  # each kept node's children, by its index
        for index, module in zip(order, modules, strict=True):
            node = nodes[index]
            children: list[Finished] = []
            below[index] = children
            below[parents[index]].append(
                (
                    "import " + module if plain else _span_name(module),
                    started_wall + (node[START] - started),
                    started_wall + (node[END] - started),
                    node[ERROR],
                    children,
                )
            )
        return found

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


#: The longest module name whose span name needs no cut.
_MAX_PLAIN_MODULE = capture.MAX_NAME_CHARS - len("import ")


def _span_name(module: str) -> str:
    """``import <module>`` as X-Ray takes it (module names are identifiers: only the length can be wrong)."""
    name = f"import {module}"
    if len(name) <= capture.MAX_NAME_CHARS and module.replace(".", "_").isidentifier():
        return name  # the usual case, checked in C: no character X-Ray refuses, nothing to cut
    return capture.clean_name(name)
