"""The JSON form of a captured value: recorded as it is when a few passes in C show it may be, else bounded.

Most responses are plain JSON that nothing in redaction.py could change: ``_as_it_is_text`` finds that with
``marshal`` (exact JSON types only), a prebuilt C encoder and one ``Policy.needs_mask`` over the encoded text, and
hands back the text it encoded, so the value is neither walked nor encoded twice. What capture.py's converter made
of any other value is kept under the byte limit by ``bound``, which keeps a preview (written with its own JSON
text, which the document splices in) and says the value was cut. Also here: the JSON shapes the converter knows,
a value named by a sibling key (``_named_secret``) and a secret held as JSON (``_shape_only``).
"""

from __future__ import annotations

import gc
import json
import marshal
from operator import length_hint

from .redaction_text import REDACTED

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

    from .redaction import Policy


def describe(value: object) -> str:
    """A short description of a value that must not be looked into."""
    try:
        cls = type(value)
        module = cls.__module__
        name = cls.__qualname__ if module in ("builtins", None) else f"{module}.{cls.__qualname__}"
        return f"<{name}>"
    except Exception:
        return "<object>"


#: JSON readers lose precision past it: the converter records a larger integer as digits.
_SAFE_INT = 2**53
_MAX_DEPTH = 32
#: Items of a dict or list converted: past them, the converter records how many it left out (``"..."``).
MAX_ITEMS = 1000
_JSON_STARTS = ("{", "[")
#: Keys of a dict that hold a value named by a sibling key (``{"Name": "db_password", "Value": "…"}``).
_NAME_KEYS = ("Name", "name", "Key", "key", "ParameterKey", "ParameterName", "OptionName")
_VALUE_KEYS = ("Value", "value", "ParameterValue")
#: What ``_as_it_is`` returns for a value that needs converting.
_CONVERT: Any = object()
#: The exact types a value recorded as it is holds (those ``marshal`` and the JSON encoder both take, but sets).
_JSON_TYPES = frozenset({dict, list, tuple, str, int, float, bool, type(None)})
_STRICT_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _c_strict() -> Any:
    """The C encoder ``_STRICT_JSON.encode`` builds on every call, built once (~10,000 instructions less per
    response); None where the C accelerator is missing."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    return make({}, None, json.encoder.encode_basestring, None, ":", ",", False, False, False)


_strict = _c_strict()


def _strict_json(value: Any) -> str:
    """``_STRICT_JSON.encode(value)`` for the exact JSON types ``marshal`` let through, by the prebuilt encoder.

    Whatever it raises on (NaN, a cycle, too deep) is raised again by ``_STRICT_JSON``, and the encoder is built anew:
    one that stopped half-way keeps the containers it was inside as markers.
    """
    global _strict
    if _strict is not None and type(value) is not str:
        try:
            return "".join(_strict(value, 0))
        except Exception:
            _strict = _c_strict()
    return _STRICT_JSON.encode(value)


def _as_it_is(value: object, policy: Policy, max_bytes: int, copy: bool) -> Any:
    """``value`` (or a copy) when it would be recorded exactly as it is, else ``_CONVERT`` (``_as_it_is_text``)."""
    return _as_it_is_text(value, policy, max_bytes, copy)[0]


def _as_it_is_text(value: object, policy: Policy, max_bytes: int, copy: bool) -> tuple[Any, str]:
    """``value`` (or a copy) when it would be recorded exactly as it is, else ``_CONVERT``: a few passes in C; and
    its compact JSON text (ASCII when it is recorded as it is).

    That holds when ``marshal`` takes it (only exact dicts, lists, tuples, strings, numbers, booleans and None:
    no namedtuple, whose field names may say what is secret, no object, no subclass), it is strict JSON, its JSON
    fits ``max_bytes`` and is ASCII (keys are normalised before they are judged), and its JSON text holds nothing
    any redaction rule needs (``Policy.needs_mask``: every key and every string appears in it, JSON held in
    strings included). Most responses are such values. Unlike the converter, nothing in them is cut (they fit),
    and an integer past 2**53 stays a number.
    """
    if _surely_too_big(value, max_bytes):
        return _CONVERT, ""
    try:
        if type(value) is str:
            text = _strict_json(value)
        else:
            # Measured, and its types checked, first: marshal looks at all of a value and sorts sets, and only
            # copies what this let through (a response is not copied: recorded as its function returns).
            if _expands_past(value, max_bytes, typed=True):
                return _CONVERT, ""
            if not copy:
                text = _strict_json(value)
            else:  # the copy is what is checked: another thread may change the value meanwhile
                value = marshal.loads(marshal.dumps(value))  # type: ignore[arg-type]
                text = _strict_json(value)
    except Exception:  # not plain JSON types (or a subclass whose methods raise): converted
        return _CONVERT, ""
    if not _kept(text, policy, max_bytes):
        return _CONVERT, ""
    return value, text


def _kept(text: str, policy: Policy, max_bytes: int) -> bool:
    """Whether the compact JSON text of a value of exact JSON types says it is recorded as it is: it fits, it is
    ASCII (keys are normalised before they are judged), and it holds nothing any rule needs (every key and string
    is in it). A string with a backslash (``\\\\`` once encoded) may be JSON whose escapes hide a name
    (``tok\\ben``): the converter parses it."""
    return len(text) <= max_bytes and text.isascii() and "\\\\" not in text and not policy.needs_mask(text)


def _surely_too_big(value: object, max_bytes: int) -> bool:
    """Whether the JSON text of ``value`` cannot fit ``max_bytes``, from a cheap look at its top level, so that a value
    of megabytes is not encoded whole only to be converted.

    Exact for the shortest JSON text of each shape: a string takes its quotes more (``"…"``); a dict 6 characters an
    item at the least (``{"":0,"a":0}``), 7 more than a string value of its (``{"":"…"}``) and 6 more than a key
    (``{"…":0}``); a list or tuple 2 characters an item and 1 more (``[0,0]``).
    """
    kind = type(value)
    if kind is str:
        return len(value) + 2 > max_bytes  # type: ignore[arg-type]
    if kind is dict:
        items: Any = value
        if 6 * len(items) > max_bytes:
            return True
        value_room, key_room = max_bytes - 7, max_bytes - 6
        for key, item in items.items():  # a loop: any() over a generator costs twice as much here
            if (type(item) is str and len(item) > value_room) or (type(key) is str and len(key) > key_room):
                return True
        return False
    if kind is list or kind is tuple:
        return 2 * len(value) + 1 > max_bytes  # type: ignore[arg-type]
    return False


def _within_json(value: Any, max_bytes: int) -> str:
    """``_strict_json(value)`` for a value ``marshal`` took, unless ``_expands_past`` shows its text cannot fit
    ``max_bytes`` (ValueError), so that it is not written whole only to be converted."""
    if _expands_past(value, max_bytes):
        raise ValueError("longer than the limit")
    return _strict_json(value)


def _expands_past(value: Any, max_bytes: int, typed: bool = False) -> bool:
    """Whether the compact JSON text of ``value`` (of types ``marshal`` took: no code of the value's runs here)
    is surely longer than ``max_bytes``, counted level by level in C without writing it. ``typed``: of any types,
    refused (True) when it holds one other than JSON's exact ones, each level checked before it is measured, so
    that it is measured before ``marshal`` is given it, which looks at all of a value and sorts sets.

    Every item is counted as often as the value holds it: a string, dict or list held 200 times counts 200 times,
    as the encoder would write it, though ``marshal`` wrote it once. Each item counts one character, and a string
    or container one more per character or item (``length_hint``): less than its text takes (quotes, separators),
    so a value that fits is never refused. The walk stops once the count passes ``max_bytes``, so a level it expands
    holds at most twice ``max_bytes`` items (a dict's keys and values): the work is bounded by the limit, whatever
    the value shares or nests (a cycle included, which the encoder would refuse).
    """
    if typed and type(value) not in _JSON_TYPES:
        return True
    floor = 1 + length_hint(value)
    level = [value]
    try:
        while floor <= max_bytes:
            level = gc.get_referents(*level)  # the items, keys of str-keyed dicts left out (not containers)
            if not level:
                return False
            if typed and not _JSON_TYPES.issuperset(map(type, level)):
                return True
            floor += len(level) + sum(map(length_hint, level))
    except Exception:  # a bytes-like subclass whose __len__ raises: not JSON, converted
        pass
    return True


def bound(converted: Any, max_bytes: int, original_at_least: int | None = None) -> Any:
    """Keep a JSON-ready value under ``max_bytes`` of JSON (as the SDK will encode it), saying so when cut.

    ``original_at_least``: the value was already cut while converting, so its full size is unknown;
    this many bytes is what is known of it.
    """
    return bound_text(converted, max_bytes, original_at_least)[0]


def bound_text(converted: Any, max_bytes: int, original_at_least: int | None = None) -> tuple[Any, str | None]:
    """``bound(converted, max_bytes, original_at_least)``, and the JSON text of what it returns as the X-Ray
    document's encoder writes it (compact, ASCII escapes on) when that is a preview, else None.

    The preview's own JSON form is written here, where its escapes are counted anyway (``_preview``), so a response
    of megabytes is not encoded a second time, whole, by the document's encoder.
    """
    try:
        text = _json_text(converted)
    except Exception:
        return {"truncated": True, "reason": "unserializable", "type": describe(converted)}, None
    if original_at_least is None and len(text) <= max_bytes:
        return converted, None
    name, size = (
        ("original_bytes", len(text))
        if original_at_least is None
        else ("original_bytes_at_least", max(original_at_least, len(text)))
    )
    preview, escaped = _preview(text, max(max_bytes - 200, 64))
    bounded = {"truncated": True, name: size, "preview": preview}
    return bounded, f'{{"truncated":true,"{name}":{size},"preview":"{escaped}"}}'


#: What ``bound`` measures with: ``json.dumps(value, separators=(",", ":"), default=str)``, built once.
_BOUND_JSON = json.JSONEncoder(separators=(",", ":"), default=str)
#: The C encoder ``_BOUND_JSON.encode`` builds on every call, built at its first use (``_bound_json``); False until
#: then, None where the C accelerator is missing.
_bound: Any = False
#: A str as ``_BOUND_JSON`` writes one (quoted, ASCII escapes).
_json_string = json.encoder.encode_basestring_ascii


def _c_bound() -> Any:
    """The C encoder ``_BOUND_JSON.encode`` builds (json.encoder.iterencode), or None without the C accelerator."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    return make({}, str, _json_string, None, ":", ",", False, False, True)


def _bound_json(value: Any) -> str:
    """``_BOUND_JSON.encode(value)``, by an encoder built once rather than one per call.

    Whatever it raises on (a cycle, too deep, a failing ``str``) is raised again by ``_BOUND_JSON``, and the encoder
    is built anew: one that stopped half-way keeps the containers it was inside as markers.
    """
    global _bound
    if isinstance(value, str):  # as JSONEncoder.encode
        return _json_string(value)
    if _bound is False:
        _bound = _c_bound()
    if _bound is not None:
        try:
            return "".join(_bound(value, 0))
        except Exception:
            _bound = _c_bound()
    return _BOUND_JSON.encode(value)


#: A string at the top of a dict of at most ``_FEW_ITEMS`` items that ``_json_text`` escapes itself, from this long.
_LONG_TEXT, _FEW_ITEMS = 1024, 16
#: The characters that JSON with ASCII escapes writes as they are, except for quotes and backslashes.
_PRINTABLE = bytes(range(0x20, 0x7F))


def _json_text(converted: Any) -> str:
    """``json.dumps(converted, separators=(",", ":"), default=str)``, with a long printable ASCII string at the top
    of a small dict (an API Gateway ``body``) escaped by bytes' ``replace`` (its quotes and backslashes are all
    there is to escape) rather than by the encoder: the same text, at two thirds of the cost. The rest is written
    by one prebuilt encoder (``_bound_json``), item by item."""
    if (
        type(converted) is not dict
        or len(converted) > _FEW_ITEMS
        or not any(type(item) is str and len(item) >= _LONG_TEXT for item in converted.values())
    ):
        return _bound_json(converted)
    parts = []
    for key, item in converted.items():
        if type(key) is not str:
            return _bound_json(converted)
        if type(item) is str and len(item) >= _LONG_TEXT and _printable(item):
            parts.append(f'{_json_string(key)}:"{_escaped(item)}"')
        else:
            parts.append(f"{_json_string(key)}:{_bound_json(item)}")
    return "{" + ",".join(parts) + "}"


def _preview(text: str, room: int) -> tuple[str, str]:
    """The start of ``text`` whose own JSON form fits in ``room``, and that form without its quotes.

    ``text`` is what ``json.dumps`` wrote (ASCII escapes on), so it is printable ASCII: its JSON form escapes its
    quotes and backslashes only, each then two characters. Cutting as many characters as there are bytes in excess
    fits; when escapes make the excess longer than the text, the worst case (12 bytes a character) does. The form
    is escaped once, for the whole first ``room`` characters (bytes' ``replace``: in C, and twice as fast as the
    encoder); the cut's is its start, less what the characters cut off took.
    """
    preview = text[:room]
    escaped = _escaped(preview)
    excess = len(escaped) + 2 - room
    if excess <= 0:
        return preview, escaped
    keep = len(preview) - excess
    if keep <= 0:
        preview = preview[: (room - 2) // 12]
        return preview, _escaped(preview)
    cut = preview[keep:]
    return preview[:keep], escaped[: len(escaped) - len(cut) - cut.count('"') - cut.count("\\")]


def _printable(text: str) -> bool:
    """Whether ``text`` is printable ASCII (``isascii`` is a flag; the rest one pass in C)."""
    return text.isascii() and not text.encode("ascii").translate(None, _PRINTABLE)


def _escaped(text: str) -> str:
    """The inside of the JSON string of a printable ASCII ``text``: its backslashes and quotes escaped."""
    return text.encode("ascii").replace(b"\\", b"\\\\").replace(b'"', b'\\"').decode("ascii")


def _named_secret(value: dict[Any, Any], policy: Policy) -> object:
    """The key of a value that a sibling key names as a secret, or None.

    SSM parameters (``{"Name": "/prod/db/password", "Type": "SecureString", "Value": …}``), environment lists
    (``{"name": "DB_PASSWORD", "value": …}``) and CloudFormation parameters hold the name and the secret in
    two keys, neither of which is secret by itself.
    """
    if not policy.enabled:
        return None
    value_key = next((key for key in _VALUE_KEYS if key in value), None)
    if value_key is None:
        return None
    if value.get("Type") == "SecureString":
        return value_key
    for name_key in _NAME_KEYS:
        name = value.get(name_key)
        if isinstance(name, str):
            return value_key if policy.is_secret_name(name.rstrip("/").rsplit("/", 1)[-1]) else None
    return None


def _shape_only(text: str, limit: int) -> str:
    """A secret held as JSON (Secrets Manager's ``SecretString``): its keys kept, every value masked."""
    if text.lstrip()[:1] not in _JSON_STARTS or len(text) > limit:
        return REDACTED
    try:
        parsed = json.loads(text)
    except ValueError:
        return REDACTED
    if not isinstance(parsed, (dict, list)):
        return REDACTED
    return json.dumps(_mask_leaves(parsed, 0), separators=(",", ":"))


def _mask_leaves(value: Any, depth: int) -> Any:
    if isinstance(value, dict) and depth < _MAX_DEPTH:
        return {key: _mask_leaves(item, depth + 1) for key, item in list(value.items())[:MAX_ITEMS]}
    if isinstance(value, list) and depth < _MAX_DEPTH:
        return [_mask_leaves(item, depth + 1) for item in value[:MAX_ITEMS]]
    return value if value is None or isinstance(value, bool) else REDACTED
