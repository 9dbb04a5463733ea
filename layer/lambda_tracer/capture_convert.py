"""The general converter: a value made JSON-ready, redacted and bounded when it cannot be recorded as it is.

capture.py records most values as they are (capture_json.py: a few passes in C). A value that holds a secret under
a key or in a text, a type JSON does not know, or more than the limit comes here: ``_Converter`` walks it once,
masking and cutting as it goes, within the bounds capture.py's docstring promises. Loaded with the first such value
(``capture._converter``): most functions' responses never need it.
"""

from __future__ import annotations

import decimal
import enum
import json
import math
import sys

from .capture_json import (
    _JSON_STARTS,
    _MAX_DEPTH,
    _SAFE_INT,
    MAX_ITEMS,
    _named_secret,
    _shape_only,
    bound_text,
    describe,
)
from .redaction import COOKIE, COUNTS, QUERY, SECRET, exception_message, row_values_hidden
from .redaction_text import MASK_MARGIN, REDACTED

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

    from .redaction import Policy

#: Values looked at per conversion, at most.
_MAX_NODES = 10_000
#: How far past a cut a needle can start and still mask what is kept before it: a token's prefix (at most 24
#: characters) that straddles the cut, or the ``@`` that ends URL credentials (``//`` and 512 characters before it).
_GATE_REACH = 1024
#: Characters scanned (masked or parsed) per captured value, as a multiple of its byte limit.
_SCAN_FACTOR = 16
#: Modules whose credential objects are never recorded, whatever their attributes are called.
_CREDENTIAL_MODULES = ("botocore.credentials", "aiobotocore.credentials")


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

    def __init__(self, policy: Policy, limit: int) -> None:
        self.policy = policy
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
        #: Characters masked or parsed so far, against the work budget.
        self.scanned = 0
        self.budget = _SCAN_FACTOR * limit

    @property
    def full(self) -> bool:
        return self.size_bound > 2 * self.limit or self.nodes > _MAX_NODES or self.scanned > self.budget

    def convert(self, value: Any, depth: int = 0) -> Any:
        self.nodes += 1
        try:
            return self._convert(value, depth)
        except RecursionError:
            return "<too deep>"
        except Exception:
            return describe(value)

    def _text(self, text: str) -> str:
        """A string as recorded: its secrets masked, then cut to the limit (masking first, so that no
        secret is cut in two and left half visible)."""
        self.original_chars += len(text) + 2
        if self.policy.enabled:
            if len(text) > self.limit + MASK_MARGIN:
                self.cut = True  # only the window is masked and kept, however short masking makes it
            text = self._masked(text)
        return self._plain_text(text)

    def _masked(self, text: str) -> str:
        """The text with its secrets masked, at most ``limit + MASK_MARGIN`` characters of it.

        JSON objects and arrays held in a string are redacted inside and stay a string, byte for byte when
        nothing in them is secret. Every rule needs some substring to be present (``Policy.needs_mask``), so
        JSON without any is kept without being parsed. JSON that cannot be parsed and names a secret key is
        not recorded; JSON too long to parse within the budget is masked as text (names in it included).
        """
        window = text[: self.limit + MASK_MARGIN]
        self.scanned += len(window)
        start = text[:1] if text[:1] not in " \t\r\n" else text[:64].lstrip()[:1]
        looks_like_json = start in _JSON_STARTS or start == '"'
        # Of a text longer than the window only the first ``limit`` characters are kept, which a mask changes only
        # from a needle before the cut or at most ``_GATE_REACH`` past it: that far is looked at.
        gate = window if len(text) == len(window) else window[: self.limit + _GATE_REACH]
        if not self.policy.needs_mask(gate) and not (looks_like_json and "\\" in window):
            return window  # nothing any rule needs (JSON with escapes may hide names: it is parsed)
        parse = looks_like_json and len(text) == len(window) and self.scanned + len(text) <= self.budget
        if parse:
            self.scanned += len(text)
            try:
                parsed = json.loads(text)
            except (ValueError, RecursionError):
                pass
            else:
                if isinstance(parsed, str) and parsed != text:  # JSON held in a JSON string
                    masked = self._masked(parsed)
                    return text if masked == parsed else json.dumps(masked)
                if isinstance(parsed, (dict, list)):
                    inner = _Converter(self.policy, self.limit)
                    inner.scanned, inner.budget = self.scanned, self.budget
                    redacted = inner.convert(parsed)
                    self.scanned = inner.scanned
                    return text if redacted == parsed else json.dumps(redacted, separators=(",", ":"))
        return self.policy.mask_text(window)

    def _base64_body(self, text: str) -> str:
        """An ``isBase64Encoded`` body: decoded (as much as the limit needs) and redacted like any text.

        Kept as it is when nothing in it is secret; recorded decoded and masked when something was; a binary
        body is recorded as its size.
        """
        import binascii  # a C extension (0.57 M instructions to load): only for base64 bodies, not at every cold start

        window = (self.limit + MASK_MARGIN) // 3 * 4
        partial = len(text) > window
        try:
            decoded = _utf8(binascii.a2b_base64(text[:window]), cut=partial)
        except (binascii.Error, ValueError):
            self.size_bound += 40
            return f"<base64 body of {len(text)} characters, not text>"
        cut_before = self.cut
        masked = self._text(decoded)
        if masked == decoded[: self.limit]:
            self.cut = cut_before
            self.size_bound -= 6 * len(masked) + 2
            return self._plain_text(text)
        self.cut = self.cut or partial  # the body past the decoded window is not in the record
        return masked

    def _plain_text(self, text: str) -> str:
        """A string that needs no masking, cut to the limit."""
        if len(text) > self.limit:
            text = text[: self.limit]
            self.cut = True
        self.size_bound += 6 * len(text) + 2
        return text

    def _key(self, key: object) -> str:
        """A dict key as recorded: text (credentials in it masked, before cutting), cut to the limit.

        What masking took out of the window counts against the budget (what is kept counts in the size): a key masked
        down to a few characters (``password: …`` of 20 KB is ``password: [REDACTED]``) adds little to the size, and
        234 of them were masked in one value, 18 times the budget (2.3 s)."""
        text = key if isinstance(key, str) else str(key)
        self.original_chars += len(text) + 2
        if self.policy.key_needs_mask(text):
            window = min(len(text), self.limit + 1 + MASK_MARGIN)
            text = self.policy.mask_cut(text, self.limit + 1)
            self.scanned += max(0, window - len(text))
        return self._plain_text(text)

    def _under(self, key: object, item: Any, depth: int) -> Any:
        """``item`` as recorded under ``key``: redacted, masked or converted, as the key says."""
        verdict = self.policy.verdict(key)
        if item is None or isinstance(item, bool) or (verdict == COUNTS and isinstance(item, (int, float))):
            return self.convert(item, depth + 1)  # that a secret is absent or set, or a count, is not a secret
        if verdict in (SECRET, COUNTS):
            self.size_bound += len(REDACTED) + 2
            return _shape_only(item, self.limit) if isinstance(item, str) else REDACTED
        if verdict in (COOKIE, QUERY):
            self.scanned += _rough_size(item, self.limit)
            if self.scanned > self.budget:
                self.cut = True
                return REDACTED
            masked = self.policy.mask_under(verdict, item, self.limit)
            return masked if masked is REDACTED else self.convert(masked, depth + 1)
        return self.convert(item, depth + 1)

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
        if type(value).__module__ in _CREDENTIAL_MODULES:
            return REDACTED  # botocore Credentials, ReadOnlyCredentials: never recorded, whatever they hold
        if isinstance(value, tuple) and hasattr(type(value), "_fields"):
            return self._named_tuple(value, depth)
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
            # Never its attributes: they may hold payloads.
            return self._mapping(exception_info(value, self.policy), depth)
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
            named_secret = _named_secret(value, self.policy)
            base64_body = value.get("isBase64Encoded") is True and self.policy.enabled
            for index, (key, item) in enumerate(value.items()):
                if index >= MAX_ITEMS or self.full:
                    out["..."] = f"{len(value) - index} more items"
                    self.cut = True
                    break
                name = self._key(key)
                if type(key) is str and key == named_secret and item is not None and not isinstance(item, bool):
                    out[name] = REDACTED
                elif key == "body" and base64_body and isinstance(item, str):
                    out[name] = self._base64_body(item)
                elif self.policy.verdict(key):
                    out[name] = self._under(key, item, depth)
                else:
                    out[name] = self.convert(item, depth + 1)
            return out
        finally:
            self.seen.discard(id(value))

    def _sequence(self, value: Any, depth: int) -> Any:
        """Items in order; an item after a secret's name (``["--password", s]``, ``("api_key", k)``) is redacted."""
        if not self._enter(value):
            return "<cycle>"
        try:
            out = []
            pair = len(value) == 2
            after_name = False
            for index, item in enumerate(value):
                if index >= MAX_ITEMS or self.full:
                    out.append(f"... {len(value) - index} more items")
                    self.cut = True
                    break
                if after_name and item is not None and not isinstance(item, bool):
                    out.append(REDACTED)
                else:
                    out.append(self.convert(item, depth + 1))
                after_name = (
                    isinstance(item, str) and (item[:1] == "-" or (pair and index == 0)) and self._is_secret_flag(item)
                )
            return out
        finally:
            self.seen.discard(id(value))

    def _is_secret_flag(self, text: str) -> bool:
        return len(text) <= 64 and "=" not in text and not text.isspace() and self.policy.is_secret_name(text)

    def _named_tuple(self, value: Any, depth: int) -> Any:
        """A namedtuple is recorded as a list, each field judged by its name (``secret_key``)."""
        if not self._enter(value):
            return "<cycle>"
        try:
            fields = type(value)._fields
            return [
                self._under(fields[index], item, depth) if index < len(fields) else self.convert(item, depth + 1)
                for index, item in enumerate(value[:MAX_ITEMS])
            ]
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


def _rough_size(value: object, limit: int) -> int:
    """Characters a cookie or query-string value holds, as mask_under will look at them (cut to ``limit``)."""
    if isinstance(value, str):
        return min(len(value), limit)
    if isinstance(value, (list, tuple)):
        return sum(min(len(item), limit) for item in value[:1000] if isinstance(item, str))
    return 0


def _utf8(raw: bytes, cut: bool) -> str:
    """``raw`` as UTF-8 text (ValueError if it is not), forgiving a character split by the cut at its end."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        if cut and error.start >= len(raw) - 3:
            return raw[: error.start].decode("utf-8")
        raise


def converted(value: object, policy: Policy, max_bytes: int, secret_key: str | None = None) -> tuple[Any, str | None]:
    """``value`` converted (under ``secret_key``, a key that names a secret, when given) and bounded, and the JSON
    text of the result when ``bound_text`` wrote it (a preview)."""
    converter = _Converter(policy, max_bytes)
    result = converter._under(secret_key, value, -1) if secret_key is not None else converter.convert(value)
    return _finish_text(converter, result, max_bytes)


def _finish(converter: _Converter, value: Any, max_bytes: int) -> Any:
    return _finish_text(converter, value, max_bytes)[0]


def _finish_text(converter: _Converter, value: Any, max_bytes: int) -> tuple[Any, str | None]:
    """The converted value, bounded, and its JSON text when ``bound_text`` wrote it (a preview)."""
    if not converter.cut and converter.size_bound <= max_bytes:
        return value, None
    return bound_text(value, max_bytes, None if not converter.cut else converter.original_chars)


#: Exception attributes that hold the payload the exception is about, not facts about the error.
PAYLOAD_ATTRIBUTES = frozenset(
    {
        "doc", "request", "response", "body", "cmd", "args", "argv", "output", "stdout", "stderr",
        "input", "content", "data", "text", "payload", "headers", "params", "json", "form", "env",
        "environ", "kwargs", "raw", "object", "obj", "document", "source", "line", "record",
    }
)  # fmt: skip
#: Longest string attribute of an exception that is recorded.
MAX_ATTRIBUTE_CHARS = 200


def exception_info(error: BaseException, policy: Policy) -> dict[str, Any]:
    """Type, message and module of an exception, and its cause's type (the reference records ``{}``)."""
    cls = type(error)
    info: dict[str, Any] = {"type": cls.__qualname__, "message": exception_message(error, policy)}
    if cls.__module__ not in ("builtins", None):
        info["module"] = cls.__module__
    cause = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    if cause is not None and cause is not error:
        info["cause"] = {"type": type(cause).__qualname__}
    return info


def error_metadata(error: BaseException, policy: Policy, max_bytes: int) -> Any:
    """The ``"<name> error"`` metadata: exception info plus its short scalar attributes, redacted.

    Attributes that hold the payload an exception is about (``JSONDecodeError.doc``, ``HTTPError.request``,
    ``CalledProcessError.cmd``) are never recorded: they carry the event or the request, secrets and all.
    """
    converter = _Converter(policy, max_bytes)
    info = converter.convert(exception_info(error, policy))
    # Masked as the message is (every URL query value too, a failed row's values): an attribute often holds the URL
    # the message quotes, or the DETAIL it leaves out (asyncpg's ``detail``).
    attributes = {
        key: policy.mask_message(row_values_hidden(item, policy), MAX_ATTRIBUTE_CHARS)
        if isinstance(item, str)
        else item
        for key, item in _scalar_attributes(error).items()
    }
    extra = converter._mapping(attributes, 0)
    if isinstance(extra, dict) and extra:
        info["attributes"] = extra
    return _finish(converter, info, max_bytes)


def _scalar_attributes(error: BaseException) -> dict[str, Any]:
    """Public attributes that are facts about the error: short scalars, not payloads."""
    try:
        attributes = object.__getattribute__(error, "__dict__")
    except Exception:
        return {}
    found: dict[str, Any] = {}
    for key, item in list(attributes.items())[:MAX_ITEMS]:
        if type(key) is not str or key.startswith("_") or key.lower() in PAYLOAD_ATTRIBUTES:
            continue  # an exact str: its methods cannot be overridden to raise
        try:
            short_text = isinstance(item, str) and len(item) <= MAX_ATTRIBUTE_CHARS
            if item is None or isinstance(item, (bool, int, float)) or short_text:
                found[key] = item
        except Exception:  # its type cannot be read (a lazy proxy that fails to load): left out
            continue
    return found
