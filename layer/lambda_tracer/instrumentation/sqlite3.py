"""sqlite3, traced without a proxy: connections and cursors stay real sqlite3 objects.

The X-Ray SDK's patch (and OpenTelemetry's dbapi instrumentation) hand out ``wrapt`` proxies, which sqlite3's C
code refuses: ``Connection.backup(target)`` and ``sqlite3.Cursor(connection)`` raise ``TypeError`` with them.
Here ``sqlite3.connect`` passes a ``factory`` that is a subclass of the one asked for (``sqlite3.Connection``
by default), and its ``cursor()`` a subclass of the cursor class asked for: every C API accepts them, ``isinstance``
and ``repr`` are unchanged (the subclasses carry the base's name and module), and only their ``execute``,
``executemany`` and ``executescript`` are ours.

Each statement is one ``remote`` subsegment named after the database (as the SDK names it), with X-Ray's ``sql``
block: ``database_type`` ``sqlite3`` and the SQLite version; the statement itself is not recorded (it may hold
values). A statement run under a call already recorded (an OTel CLIENT span) is not recorded again. A cursor made
directly with ``sqlite3.Cursor(connection)`` works and is not traced.

With ``LAMBDA_TRACER_OTEL_INSTRUMENTATIONS`` listing ``sqlite3`` the contrib instrumentation traces sqlite3
instead, with its own behaviour (its proxy included), and this one stands aside.
"""

from __future__ import annotations

import functools
import sys
import threading
from types import ModuleType

from .. import capture, redaction
from ..backends import xray
from . import common

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

MARKER = "__lambda_tracer_instrumented__"
#: ``sqlite3.connect``'s ``factory`` when passed by position (database, timeout, detect_types, isolation_level,
#: check_same_thread, factory, ...).
_FACTORY_POSITION = 5
_lock = threading.Lock()
#: The user's factory class -> our subclass of it (connections and cursors alike).
_subclasses: dict[type, type] = {}


def instrument(name: str, module: ModuleType) -> None:
    connect = module.connect
    if getattr(connect, MARKER, False):
        return
    base_connection, base_cursor = module.Connection, module.Cursor
    version = str(getattr(module, "sqlite_version", ""))

    @functools.wraps(connect)
    def traced_connect(*args: Any, **kwargs: Any) -> Any:
        positional = len(args) > _FACTORY_POSITION
        factory = args[_FACTORY_POSITION] if positional else kwargs.get("factory", base_connection)
        traced = _traced_class(factory, base_connection, _connection_class, base_connection, base_cursor, version)
        if traced is None:
            return connect(*args, **kwargs)
        if positional:
            args = (*args[:_FACTORY_POSITION], traced, *args[_FACTORY_POSITION + 1 :])
        else:
            kwargs["factory"] = traced
        connection: Any = connect(*args, **kwargs)
        if isinstance(connection, traced):
            database = args[0] if args else kwargs.get("database", "")
            try:  # our slot, past a __setattr__ of the user's factory (one that refuses attributes)
                object.__setattr__(connection, "_lambda_tracer_database", _name_of(database))
            except Exception as error:
                common.report("naming a sqlite3 connection", error)
        return connection

    setattr(traced_connect, MARKER, True)
    setattr(module, "connect", traced_connect)  # noqa: B010
    dbapi2: Any = getattr(module, "dbapi2", None)
    if dbapi2 is not None and getattr(dbapi2, "connect", None) is connect:
        dbapi2.connect = traced_connect


def _name_of(database: object) -> str:
    """The subsegment name: the database as given (a path, ``:memory:``, a URI), masked and valid for X-Ray."""
    try:
        raw = database.decode("utf-8", "replace") if isinstance(database, bytes) else str(database)
    except Exception:
        raw = "sqlite3"
    return capture.clean_name(redaction.current().mask_text(common.recorded_url(raw) or "sqlite3")) or "sqlite3"


def _traced_class(factory: object, base: type, make: Any, *args: Any) -> type | None:
    """Our subclass of the class asked for, ``make(factory, *args)``, made once per class; the class itself when it
    is one of ours already; None (not traced) for a factory that is not a subclass of ``base``, or that cannot be
    subclassed (its ``__init_subclass__`` or metaclass refuses)."""
    if not isinstance(factory, type) or not issubclass(factory, base):
        return None
    if getattr(factory, MARKER, False):
        return factory
    with _lock:
        found = _subclasses.get(factory)
        if found is None:
            try:
                found = make(factory, *args)
                setattr(found, MARKER, True)
                for attribute in ("__name__", "__qualname__", "__module__"):  # isinstance and repr as the user's
                    setattr(found, attribute, getattr(factory, attribute))
            except Exception as error:
                common.report("subclassing a sqlite3 factory", error)
                return None
            if len(_subclasses) < 64:
                _subclasses[factory] = found
        return found


def _connection_class(base: type, root: Any, base_cursor: type, version: str) -> type:
    """A connection class whose cursors are traced, the statements it runs itself included. What the user's factory
    ``base`` defines itself (a ``cursor()`` with its own default cursor class, its own ``execute``) stays its own:
    ours only stands in for sqlite3's (``root``'s), so a statement run through an override of the user's may go
    untraced, never changed."""
    own = {name for name in ("cursor", *_STATEMENTS) if getattr(base, name, None) is not getattr(root, name, None)}

    class Connection(base):  # type: ignore[misc]
        __slots__ = ("_lambda_tracer_database",)

        def cursor(self, *args: Any, **kwargs: Any) -> Any:
            if not args and "factory" not in kwargs and "cursor" in own:  # the factory's own default cursor class
                return super().cursor(*args, **kwargs)
            asked = args[0] if args else kwargs.get("factory", base_cursor)
            traced = _traced_class(asked, base_cursor, _cursor_class, version)
            if traced is None:
                return super().cursor(*args, **kwargs)
            return super().cursor(traced)

    def statement_cursor(connection: Any) -> Any:
        """The cursor sqlite3's own ``Connection.execute*`` make: the connection's ``cursor()`` up to Python 3.10,
        sqlite3's default cursor from 3.11 (a ``cursor()`` of the user's is not called), traced."""
        if _STATEMENT_CURSOR_BY_METHOD:
            return connection.cursor()
        return root.cursor(connection, _traced_class(base_cursor, base_cursor, _cursor_class, version))

    # Connection.execute* make a cursor in C and run the statement without calling its execute: the same, through
    # that cursor, so the statement is traced once; not where the user's factory has its own.
    for name in _STATEMENTS:
        if name not in own:
            setattr(Connection, name, _through_cursor(name, statement_cursor))
    return Connection


#: The statements a connection runs itself (on a cursor it makes).
_STATEMENTS = ("execute", "executemany", "executescript")
#: Whether sqlite3's ``Connection.execute*`` get their cursor by calling the connection's ``cursor()`` (up to 3.10).
_STATEMENT_CURSOR_BY_METHOD = sys.version_info < (3, 11)


def _through_cursor(name: str, statement_cursor: Any) -> Any:
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(statement_cursor(self), name)(*args, **kwargs)

    run.__name__ = run.__qualname__ = name
    return run


def _cursor_class(base: type, version: str) -> type:
    """A cursor class whose statements are traced."""

    class Cursor(base):  # type: ignore[misc]
        __slots__ = ()

        def execute(self, *args: Any, **kwargs: Any) -> Any:
            return _traced(self, super().execute, args, kwargs, version)

        def executemany(self, *args: Any, **kwargs: Any) -> Any:
            return _traced(self, super().executemany, args, kwargs, version)

        def executescript(self, *args: Any, **kwargs: Any) -> Any:
            return _traced(self, super().executescript, args, kwargs, version)

    return Cursor


def _start(cursor: Any, version: str) -> Any:
    """The statement's span; None when nothing is recorded (no sampled trace, or under a call already recorded)."""
    try:
        trace, stack = xray.current()
        if not trace.recording or (stack and getattr(stack[-1], "namespace", None) in common.CALL_NAMESPACES):
            return None
        name = getattr(getattr(cursor, "connection", None), "_lambda_tracer_database", None) or "sqlite3"
        span = common.BACKEND.start_span(name, namespace="remote")
        if span is not None:
            span.sql = {"database_type": "sqlite3", "database_version": version}
        return span
    except Exception as error:
        common.report("starting a sqlite3 statement", error)
        return None


def _traced(cursor: Any, run: Any, args: Any, kwargs: Any, version: str) -> Any:
    span = _start(cursor, version)
    if span is None:
        return run(*args, **kwargs)
    try:
        result = run(*args, **kwargs)
    except BaseException as error:
        common.fail(span, error)
        raise
    common.end(span)
    return result
