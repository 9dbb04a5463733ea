"""sqlite3 traced by our own code, without a proxy: every outcome is the one without the layer (backup(),
sqlite3.Cursor(conn), factories, errors), and each statement is one ``remote`` subsegment with X-Ray's ``sql``."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from lambda_env import invoke
from lambda_tracer import Tracer
from lambda_tracer_local.daemon import subsegments

pytestmark = pytest.mark.usefixtures("memory_sender")  # what was sent, read in memory (tests/memory_sender.py)

tracer = Tracer(service="svc", patch_modules=["sqlite3"])


def _statements(call: Any) -> list[dict[str, Any]]:
    return [d for d in subsegments(call.documents) if "sql" in d]


def _uses_the_c_api(database: str) -> dict[str, Any]:
    source = sqlite3.connect(database)
    source.execute("create table t (x)")
    source.executemany("insert into t values (?)", [(1,), (2,)])
    target = sqlite3.connect(":memory:")
    source.commit()  # a backup waits for pending writes
    source.backup(target)  # TypeError with a proxy
    plain = sqlite3.Cursor(source)  # TypeError with a proxy
    plain.execute("select count(*) from t")
    with target:
        copied = target.execute("select sum(x) from t").fetchone()[0]
    cursor = source.cursor()
    cursor.executescript("create table u (y); insert into u values (3);")
    result = {
        "copied": copied,
        "plain": plain.fetchone()[0],
        "u": source.execute("select y from u").fetchall(),
        "isinstance": isinstance(source, sqlite3.Connection) and isinstance(cursor, sqlite3.Cursor),
        "repr": repr(source).split(" object at ")[0],
        "rows_via_cursor": cursor.execute("select x from t order by x").fetchall(),
    }
    source.close()
    target.close()
    return result


def test_the_c_api_works_and_statements_are_traced() -> None:
    untraced = _uses_the_c_api(":memory:")  # outside an invocation: nothing recorded, same outcome

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return _uses_the_c_api(":memory:")

    call = invoke(handler, expect=7)
    assert call.error is None, call.error
    assert (
        call.result
        == untraced
        == {
            "copied": 3,
            "plain": 2,
            "u": [(3,)],
            "isinstance": True,
            "repr": "<sqlite3.Connection",
            "rows_via_cursor": [(1,), (2,)],
        }
    )
    handler_doc = next(d for d in subsegments(call.documents) if d["name"] == "## handler")
    statements = _statements(call)
    # create, executemany, sum (target), executescript, select y, select x: sqlite3.Cursor(conn) is not traced
    assert len(statements) == 6
    for doc in statements:
        assert doc["namespace"] == "remote" and doc["parent_id"] == handler_doc["id"]
        assert doc["name"] == ":memory:" and doc["sql"] == {
            "database_type": "sqlite3",
            "database_version": sqlite3.sqlite_version,
        }


def test_errors_and_factories_are_as_without_the_layer(tmp_path: Path) -> None:
    class MyConnection(sqlite3.Connection):
        marker = "mine"

    class MyCursor(sqlite3.Cursor):
        pass

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> Any:
        connection = sqlite3.connect(str(tmp_path / "db.sqlite"), 5.0, 0, "DEFERRED", True, MyConnection)
        by_keyword = sqlite3.connect(database=":memory:", factory=MyConnection)
        cursor = connection.cursor(MyCursor)
        with pytest.raises(sqlite3.OperationalError):
            cursor.execute("select * from missing")
        connection.close()
        with pytest.raises(sqlite3.ProgrammingError):
            connection.execute("select 1")
        return [type(connection).marker, isinstance(cursor, MyCursor), by_keyword.execute("select 7").fetchone()]

    call = invoke(handler, expect=3)
    assert call.error is None and call.result == ["mine", True, (7,)]
    failed, ok = sorted(_statements(call), key=lambda d: "fault" not in d)
    assert failed["fault"] is True and failed["cause"]["exceptions"][0]["type"] == "OperationalError"
    assert failed["name"].endswith("db.sqlite") and ok["name"] == ":memory:"


def test_nothing_recorded_under_a_call_already_recorded() -> None:
    from lambda_tracer.backends import xray

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> Any:
        span = xray.BACKEND.start_span("db client", namespace="remote")
        try:
            return sqlite3.connect(":memory:").execute("select 1").fetchone()
        finally:
            assert span is not None
            span.end()

    call = invoke(handler, expect=2)
    assert call.result == (1,) and _statements(call) == []


class _DictCursor(sqlite3.Cursor):
    pass


class _OwnMethods(sqlite3.Connection):
    """A factory with its own cursor() default and its own execute* (rewriting the statement, counting calls)."""

    calls: list[str] = []  # noqa: RUF012 (the test's record)

    def cursor(self, factory: Any = _DictCursor) -> Any:
        return super().cursor(factory)

    def execute(self, sql: str, *args: Any) -> Any:
        _OwnMethods.calls.append("execute")
        return super().execute(sql.replace("41", "42"), *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        _OwnMethods.calls.append("executemany")
        return super().executemany(sql, *args)

    def executescript(self, script: str) -> Any:
        _OwnMethods.calls.append("executescript")
        return super().executescript(script)


class _OwnCursorOnly(sqlite3.Connection):
    def cursor(self, factory: Any = _DictCursor) -> Any:
        return super().cursor(factory)


def _uses_own_methods(connection: Any, other: Any) -> list[Any]:
    _OwnMethods.calls.clear()
    connection.execute("create table t (x)")
    found = [
        connection.execute("select 41").fetchone(),
        type(connection.cursor()).__name__,
        type(connection.execute("select 1")).__name__,
        type(connection.executemany("insert into t values (?)", [(1,)])).__name__,
        type(connection.executescript("select 1;")).__name__,
        list(_OwnMethods.calls),
        type(other.cursor()).__name__,
        type(other.execute("select 1")).__name__,  # Python 3.11+: the default cursor, not the factory's cursor()
        type(other.cursor(sqlite3.Cursor)).__name__,
    ]
    connection.close()
    other.close()
    return found


def test_a_factorys_own_cursor_and_execute_run_as_without_the_layer() -> None:
    """A connection factory's own ``cursor()`` default and ``execute*`` overrides are what the user's code gets,
    traced or not: the factory class called directly (as sqlite3.connect does without the layer) is the reference."""
    without_layer = _uses_own_methods(_OwnMethods(":memory:"), _OwnCursorOnly(":memory:"))

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> list[Any]:
        return _uses_own_methods(
            sqlite3.connect(":memory:", factory=_OwnMethods), sqlite3.connect(":memory:", factory=_OwnCursorOnly)
        )

    call = invoke(handler)
    assert call.error is None, call.error
    assert call.result == without_layer
    assert call.result[0] == (42,) and call.result[1] == "_DictCursor"


class _Frozen(sqlite3.Connection):
    """A factory whose instances take no attribute set from outside."""

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")


class _Sealed(sqlite3.Connection):
    """A factory that refuses to be subclassed (a sealed class, as some frameworks make them)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError("sealed")


class _SealedCursor(sqlite3.Cursor):
    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError("sealed")


def _uses_strict_factories() -> list[Any]:
    frozen = sqlite3.connect(":memory:", factory=_Frozen)
    sealed = sqlite3.connect(":memory:", factory=_Sealed)
    found = [
        type(frozen).__name__,
        frozen.execute("select 1").fetchone(),
        type(sealed).__name__,
        sealed.execute("select 2").fetchone(),
        type(sealed.cursor(_SealedCursor)).__name__,
        sealed.cursor(_SealedCursor).execute("select 3").fetchone(),
    ]
    frozen.close()
    sealed.close()
    return found


def test_a_factory_that_forbids_attributes_or_subclasses_works_as_without_the_layer() -> None:
    """sqlite3.connect raised into the user's code, with the layer only: AttributeError for a factory whose
    ``__setattr__`` refuses attributes (we named the connection's database on it), TypeError for one whose
    ``__init_subclass__`` refuses subclasses (ours is one). The first is traced, the second is left untraced."""
    without_layer = _uses_strict_factories()

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> list[Any]:
        return _uses_strict_factories()

    call = invoke(handler, expect=2)
    assert call.error is None, call.error
    assert call.result == without_layer == ["_Frozen", (1,), "_Sealed", (2,), "_SealedCursor", (3,)]
    assert [d["name"] for d in _statements(call)] == [":memory:"]
