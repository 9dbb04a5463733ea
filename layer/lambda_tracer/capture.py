"""Turn responses and errors into metadata that is safe to record.

Three promises, because the value belongs to the user and goes back to them after we look at it:

* **Non-consuming.** Generators, iterators, file-like objects and botocore ``StreamingBody`` are
  described (``"<generator>"``), never iterated or read. We only walk dict/list/tuple/set values.
* **Bounded.** The JSON form of a captured value is at most ``LAMBDA_TRACER_MAX_CAPTURE_BYTES``;
  a bigger one is replaced by a preview plus ``truncated``/``original_bytes`` markers, so the
  subsegment still fits in one X-Ray datagram instead of being dropped.
* **Redacted.** Values under keys such as ``password`` or ``authorization`` (case-insensitive,
  configurable) are replaced by ``"[REDACTED]"`` before anything leaves the process.

Nothing here raises: any failure while looking at a value becomes a short description of it.
"""

from __future__ import annotations

import decimal
import enum
import json
import math
import sys
from typing import Any

REDACTED = "[REDACTED]"
_MAX_DEPTH = 32
_MAX_ITEMS = 1000
_MAX_NODES = 10_000
_SAFE_INT = 2**53
_JSON_SCALARS = (str, bool, int)


def describe(value: object) -> str:
    """A short description of a value that must not be looked into."""
    try:
        cls = type(value)
        module = cls.__module__
        name = cls.__qualname__ if module in ("builtins", None) else f"{module}.{cls.__qualname__}"
        return f"<{name}>"
    except Exception:
        return "<object>"


def _loaded_types(module: str, names: tuple[str, ...]) -> tuple[type, ...]:
    """Types from ``module`` if something already imported it (no value can be of them otherwise).

    Saves importing datetime and uuid on the cold-start path of functions that never use them.
    """
    loaded = sys.modules.get(module)
    return tuple(getattr(loaded, name) for name in names) if loaded is not None else ()


def _is_stream_like(value: object) -> bool:
    """True for objects whose contents can only be seen by consuming them."""
    cls = type(value)
    return hasattr(cls, "__next__") or hasattr(cls, "read") or hasattr(cls, "__anext__")


class _Converter:
    """One conversion: JSON-ready, redacted, and cheap however big or tangled the value is.

    ``limit`` is the byte budget of the result: strings are cut to it, and containers stop growing once
    the converted value is certainly over it (``bound`` then keeps a preview and says it was cut), so a
    10 MB response costs about as much as a 16 KB one. At most ``_MAX_NODES`` values are looked at, and
    objects already on the path are not entered again, so no object graph can make it slow.
    """

    def __init__(self, redact: frozenset[str], limit: int) -> None:
        self.redact = redact
        self.limit = limit
        self.seen: set[int] = set()
        self.nodes = 0
        #: Something was left out (a long string cut, a container not walked to its end).
        self.cut = False
        #: Characters of strings met, before cutting: a lower bound of the original's JSON size.
        self.original_chars = 0
        #: Upper bound of the JSON size of what was converted (a character escapes to at most 6 bytes),
        #: so small values skip the json.dumps that measures them exactly.
        self.size_bound = 0

    @property
    def full(self) -> bool:
        return self.size_bound > 2 * self.limit or self.nodes > _MAX_NODES

    def convert(self, value: Any, depth: int = 0) -> Any:
        self.nodes += 1
        try:
            return self._convert(value, depth)
        except RecursionError:
            return "<too deep>"
        except Exception:
            return describe(value)

    def _text(self, text: str) -> str:
        self.original_chars += len(text) + 2
        if len(text) > self.limit:
            text = text[: self.limit]
            self.cut = True
        self.size_bound += 6 * len(text) + 2
        return text

    def _convert(self, value: Any, depth: int) -> Any:
        if isinstance(value, str) and not isinstance(value, enum.Enum):
            return self._text(value)
        self.size_bound += 24  # any other scalar, or the punctuation of a container entry
        if isinstance(value, enum.Enum):
            return self._convert(value.value, depth)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int):
            # JSON readers lose precision past 2**53, and huge ints cannot even be printed by default.
            return value if -_SAFE_INT <= value <= _SAFE_INT else self._text(str(value))
        if isinstance(value, float):
            return value if math.isfinite(value) else str(value)
        if depth >= _MAX_DEPTH:
            return "<too deep>"
        if isinstance(value, dict):
            return self._mapping(value, depth)
        if isinstance(value, (list, tuple, set, frozenset)):
            return self._sequence(value, depth)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return f"<bytes: {len(value)}>"
        if isinstance(value, decimal.Decimal):
            return self._text(str(value))
        if isinstance(value, _loaded_types("datetime", ("datetime", "date", "time"))):
            return str(value.isoformat())  # type: ignore[attr-defined]
        if isinstance(value, _loaded_types("datetime", ("timedelta",)) + _loaded_types("uuid", ("UUID",))):
            return str(value)
        if isinstance(value, BaseException):
            return self._mapping(exception_info(value), depth)
        if _is_stream_like(value):
            return describe(value)
        return self._object(value, depth)

    def _enter(self, value: object) -> bool:
        ident = id(value)
        if ident in self.seen:
            return False
        self.seen.add(ident)
        return True

    def _mapping(self, value: dict[Any, Any], depth: int) -> Any:
        if not self._enter(value):
            return "<cycle>"
        try:
            out: dict[str, Any] = {}
            for index, (key, item) in enumerate(value.items()):
                if index >= _MAX_ITEMS or self.full:
                    out["..."] = f"{len(value) - index} more items"
                    self.cut = True
                    break
                text = self._text(key if isinstance(key, str) else str(key))
                out[text] = REDACTED if text.lower() in self.redact else self.convert(item, depth + 1)
            return out
        finally:
            self.seen.discard(id(value))

    def _sequence(self, value: Any, depth: int) -> Any:
        if not self._enter(value):
            return "<cycle>"
        try:
            out = []
            for index, item in enumerate(value):
                if index >= _MAX_ITEMS or self.full:
                    out.append(f"... {len(value) - index} more items")
                    self.cut = True
                    break
                out.append(self.convert(item, depth + 1))
            return out
        finally:
            self.seen.discard(id(value))

    def _object(self, value: object, depth: int) -> Any:
        """Plain objects: their public, non-callable instance attributes, read without __getattr__."""
        try:
            attributes = object.__getattribute__(value, "__dict__")
        except Exception:
            return describe(value)
        if not isinstance(attributes, dict):
            return describe(value)
        public = {
            key: item
            for key, item in attributes.items()
            if isinstance(key, str) and not key.startswith("_") and not callable(item)
        }
        if not public:
            return describe(value)
        if not self._enter(value):
            return "<cycle>"
        try:
            return self._mapping(public, depth)
        finally:
            self.seen.discard(id(value))


def to_metadata(value: object, redact: frozenset[str], max_bytes: int) -> Any:
    """JSON-ready, redacted, bounded form of ``value``."""
    if _is_small_flat(value, redact, max_bytes):
        return value  # the common response: already JSON, nothing to redact, far under the cap
    converter = _Converter(redact, max_bytes)
    converted = converter.convert(value)
    return _finish(converter, converted, max_bytes)


def _is_small_flat(value: object, redact: frozenset[str], max_bytes: int) -> bool:
    """A plain str, or a dict of up to 32 str keys (none redacted) to JSON scalars, sure to fit ``max_bytes``.

    Such a value is recorded as it is: it is serialized before the subsegment's call returns, so the
    caller cannot change it in between, and converting it would only copy it.
    """
    if type(value) is str:
        return 6 * len(value) + 2 <= max_bytes
    if type(value) is not dict or len(value) > 32:
        return False
    budget = max_bytes
    for key, item in value.items():
        if type(key) is not str or key.lower() in redact:
            return False
        kind = type(item)
        if kind is str:
            budget -= 6 * (len(key) + len(item)) + 8
        elif item is None or kind is bool or kind is int or (kind is float and math.isfinite(item)):
            if kind is int and not -_SAFE_INT <= item <= _SAFE_INT:
                return False
            budget -= 6 * len(key) + 30
        else:
            return False
        if budget < 0:
            return False
    return True


def _finish(converter: _Converter, converted: Any, max_bytes: int) -> Any:
    if not converter.cut and converter.size_bound <= max_bytes:
        return converted
    return bound(converted, max_bytes, None if not converter.cut else converter.original_chars)


def bound(converted: Any, max_bytes: int, original_at_least: int | None = None) -> Any:
    """Keep a JSON-ready value under ``max_bytes`` of JSON (as the SDK will encode it), saying so when cut.

    ``original_at_least``: the value was already cut while converting, so its full size is unknown;
    this many bytes is what is known of it.
    """
    try:
        text = json.dumps(converted, separators=(",", ":"), default=str)
    except Exception:
        return {"truncated": True, "reason": "unserializable", "type": describe(converted)}
    if original_at_least is None and len(text) <= max_bytes:
        return converted
    size: dict[str, Any] = (
        {"original_bytes": len(text)}
        if original_at_least is None
        else {"original_bytes_at_least": max(original_at_least, len(text))}
    )
    return {"truncated": True, **size, "preview": text[: max(max_bytes - 200, 64)]}


def exception_info(error: BaseException) -> dict[str, Any]:
    """Type, message and module of an exception (the reference records ``{}`` for most)."""
    cls = type(error)
    try:
        message = str(error)
    except Exception:
        message = "<str() of the exception raised>"
    info: dict[str, Any] = {"type": cls.__qualname__, "message": message}
    if cls.__module__ not in ("builtins", None):
        info["module"] = cls.__module__
    cause = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    if cause is not None and cause is not error:
        try:
            info["cause"] = {"type": type(cause).__qualname__, "message": str(cause)}
        except Exception:
            info["cause"] = {"type": type(cause).__qualname__}
    return info


def error_metadata(error: BaseException, redact: frozenset[str], max_bytes: int) -> Any:
    """The ``"<name> error"`` metadata: exception info plus the exception's public attributes."""
    converter = _Converter(redact, max_bytes)
    info = converter.convert(exception_info(error))
    extra = converter._object(error, 0)
    if isinstance(extra, dict) and extra:
        info["attributes"] = extra
    return _finish(converter, info, max_bytes)
