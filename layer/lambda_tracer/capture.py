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
    def __init__(self, redact: frozenset[str]) -> None:
        self.redact = redact
        self.seen: set[int] = set()
        #: Upper bound of the JSON size of what was converted (a character escapes to at most 6 bytes),
        #: so small values skip the json.dumps that measures them exactly.
        self.size_bound = 0

    def convert(self, value: Any, depth: int = 0) -> Any:
        try:
            return self._convert(value, depth)
        except RecursionError:
            return "<too deep>"
        except Exception:
            return describe(value)

    def _convert(self, value: Any, depth: int) -> Any:
        if isinstance(value, str) and not isinstance(value, enum.Enum):
            self.size_bound += 6 * len(value) + 2
            return value
        self.size_bound += 24  # any other scalar, or the punctuation of a container entry
        if value is None or isinstance(value, _JSON_SCALARS):
            if isinstance(value, enum.Enum):
                return self._convert(value.value, depth)
            return value
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
            return str(value)
        if isinstance(value, _loaded_types("datetime", ("datetime", "date", "time"))):
            return str(value.isoformat())  # type: ignore[attr-defined]
        if isinstance(value, _loaded_types("datetime", ("timedelta",)) + _loaded_types("uuid", ("UUID",))):
            return str(value)
        if isinstance(value, enum.Enum):
            return self._convert(value.value, depth)
        if isinstance(value, BaseException):
            return exception_info(value)
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
                if index >= _MAX_ITEMS:
                    out["..."] = f"{len(value) - _MAX_ITEMS} more items"
                    break
                text = key if isinstance(key, str) else str(key)
                self.size_bound += 6 * len(text) + 4
                if text.lower() in self.redact:
                    out[text] = REDACTED
                else:
                    out[text] = self.convert(item, depth + 1)
            return out
        finally:
            self.seen.discard(id(value))

    def _sequence(self, value: Any, depth: int) -> Any:
        if not self._enter(value):
            return "<cycle>"
        try:
            out = []
            for index, item in enumerate(value):
                if index >= _MAX_ITEMS:
                    out.append(f"... {len(value) - _MAX_ITEMS} more items")
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
        return self._mapping(public, depth)


def to_metadata(value: object, redact: frozenset[str], max_bytes: int) -> Any:
    """JSON-ready, redacted, bounded form of ``value``."""
    converter = _Converter(redact)
    converted = converter.convert(value)
    if converter.size_bound <= max_bytes:
        return converted
    return bound(converted, max_bytes)


def bound(converted: Any, max_bytes: int) -> Any:
    """Keep a JSON-ready value under ``max_bytes`` of JSON (as the SDK will encode it), saying so when cut."""
    try:
        text = json.dumps(converted, separators=(",", ":"), default=str)
    except Exception:
        return {"truncated": True, "reason": "unserializable", "type": describe(converted)}
    size = len(text)
    if size <= max_bytes:
        return converted
    preview_chars = max(max_bytes - 200, 64)
    return {
        "truncated": True,
        "original_bytes": size,
        "preview": text[:preview_chars],
    }


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
    info = exception_info(error)
    extra = _Converter(redact)._object(error, 0)
    if isinstance(extra, dict) and extra:
        info["attributes"] = extra
    return bound(info, max_bytes)
