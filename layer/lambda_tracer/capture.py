"""Turn responses and errors into metadata that is safe to record.

Three promises, because the value belongs to the user and goes back to them after we look at it:

* **Non-consuming.** Generators, iterators, file-like objects and botocore ``StreamingBody`` are
  described (``"<generator>"``), never iterated or read. We only walk dict/list/tuple/set values.
* **Bounded.** The JSON form of a captured value is at most ``LAMBDA_TRACER_MAX_CAPTURE_BYTES``;
  a bigger one is replaced by a preview plus ``truncated``/``original_bytes`` markers, so the
  subsegment still fits in one X-Ray datagram instead of being dropped. The work is bounded too: at most
  ``_MAX_NODES`` values are looked at and ``_SCAN_FACTOR`` times the limit in characters is scanned or parsed
  per value; past either, what was not looked at is left out, with the same markers, never recorded unmasked.
* **Redacted.** Whatever the policy of redaction.py names a secret is masked before anything leaves the
  process: values under secret keys (in dicts, object attributes and namedtuple fields, and in key/value
  pairs of lists such as ``["--password", s]``), secrets inside strings, inside JSON held in strings (an
  API Gateway ``body``), inside base64 bodies (``isBase64Encoded``), and AWS credential objects as a whole.
  Every text is masked before it is cut, so no secret is cut in two and left half visible. Errors keep their
  type, message and short scalar attributes, never the payloads some exceptions carry (``JSONDecodeError.doc``).

Most values are recorded as they are (capture_json.py: a few passes in C). The general converter, which walks a value
that holds a secret, a type JSON does not know or more than the limit, and errors' metadata are in
capture_convert.py, imported with the first such value or error: most functions' cold starts never load it.

Nothing here raises: any failure while looking at a value becomes a short description of it.
"""

from __future__ import annotations

import marshal
import math
from gc import get_referents, is_tracked

from . import config, redaction
from .capture_json import (
    _CONVERT,
    _SAFE_INT,
    _as_it_is,
    _as_it_is_text,
    _kept,
    _within_json,
)
from .redaction import COUNTS, PLAIN, SECRET, Policy
from .redaction_text import MASK_MARGIN, REDACTED

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any


MAX_ANNOTATION_CHARS = 1000
#: Bits of the largest integer recorded as digits: its ~1,000 digits are the annotation limit.
_MAX_DIGIT_BITS = 3300
#: What annotation_value returns for a value it will not record.
DROPPED: Any = object()


def _converted(value: object, policy: Policy, max_bytes: int, secret_key: str | None = None) -> tuple[Any, str | None]:
    """``capture_convert.converted``: the general converter, loaded with the first value not recorded as it is."""
    from .capture_convert import converted

    return converted(value, policy, max_bytes, secret_key)


def to_metadata(
    value: object, policy: Policy, max_bytes: int, key: str | None = None, copy: bool = True, namespace: object = None
) -> Any:
    """JSON-ready, redacted, bounded form of ``value`` (recorded under ``key``, which may name a secret, in a metadata
    ``namespace`` its caller named, which may too: ``judged_key``).

    ``copy=False`` when the value cannot change before the document is sent (a response, recorded as its
    function returns); otherwise what is recorded is a copy, because put_metadata's caller may change its dict
    before the subsegment is sent.
    """
    if key is not None and namespace:
        key = judged_key(key, namespace, policy)
    secret_key = key is not None and policy.verdict(key) != PLAIN
    if not secret_key:
        unchanged = _as_it_is(value, policy, max_bytes, copy)
        if unchanged is not _CONVERT:
            return unchanged
    return _converted(value, policy, max_bytes, key if secret_key else None)[0]


def judged_key(key: str, namespace: object, policy: Policy) -> str:
    """The key a metadata value in ``namespace`` (one its caller named; None for the tracer's own) is judged by: its
    own, or the namespace when that names a secret and the key does not (``put_metadata("stripe", k, "secrets")`` is
    recorded as ``{"secrets": {"stripe": …}}``: a value under a key that names a secret)."""
    if not namespace or policy.verdict(key) != PLAIN:
        return key
    return str(namespace) if policy.verdict(str(namespace)) != PLAIN else key


def response_metadata(value: object, policy: Policy, max_bytes: int) -> tuple[Any, str | None]:
    """``to_metadata(value, policy, max_bytes, copy=False)``, and the JSON text of what it returns as the X-Ray
    document's encoder writes it (compact, ASCII escapes on), when that text was written on the way (a value
    recorded as it is, or a preview of a value too big); otherwise None."""
    unchanged, text = _as_it_is_text(value, policy, max_bytes, False)
    if unchanged is not _CONVERT:
        return unchanged, text if "\x7f" not in text else None  # DEL: the document's encoder writes ``\u007f``
    return _converted(value, policy, max_bytes)


#: Small dicts recorded as they are, by their ``marshal`` bytes (equal bytes: an equal value of exact JSON types; a
#: buffer is never recorded as it is): (the redaction setting and capture limit read, the text), kept if judged under
#: that setting's policy (``redaction._current``). At most ``_KNOWN_RESPONSES`` of ``_KNOWN_BYTES``, never cleared.
_known_responses: dict[bytes, tuple[tuple[Any, Any], str | None]] = {}
_KNOWN_RESPONSES, _KNOWN_BYTES, _KNOWN_ITEMS = 64, 1024, 16
#: The tracked containers ``_without_sets`` lets ``marshal`` see.
_CONTAINERS = frozenset({dict, list, tuple})
_REDACT_KEYS_KEY, _LIMIT_KEY = config.environ_key(config.REDACT_KEYS), config.environ_key(config.MAX_CAPTURE_BYTES)


def recorded_response(value: object) -> tuple[Any, str | None]:
    """``response_metadata(value, redaction.current(), config.max_capture_bytes())``: a small dict that came back
    under the same settings (``{"statusCode": 200}``) is one ``marshal`` call and one lookup (every invocation's)."""
    environ = config.ENVIRON
    if value.__class__ is dict and len(value) <= _KNOWN_ITEMS:
        nested = False  # an item holding something (only what one holds may be a set), or of a type not JSON's
        for item in value.values():
            if item.__class__ is str and len(item) > _KNOWN_BYTES:  # not a long text copied only to be measured
                break
            if is_tracked(item) and (item.__class__ not in _CONTAINERS or item):  # an empty list holds no set
                nested = True
        else:
            nested = nested or (is_tracked(value) and any(map(is_tracked, value)))  # a key holding something
            if nested and not _without_sets(value):
                return response_metadata(value, redaction.current(), _limit())
            try:
                packed = marshal.dumps(value)
            except Exception:  # not of exact JSON types: converted
                packed = b""
            settings = (environ.get(_REDACT_KEYS_KEY), environ.get(_LIMIT_KEY))
            known = _known_responses.get(packed) if len(packed) <= _KNOWN_BYTES else None
            if known is not None and known[0] == settings:
                return value, known[1]
            return _judged(value, packed, settings)
    return response_metadata(value, redaction.current(), _limit())


def _without_sets(value: object) -> bool:
    """Whether ``marshal`` may be given ``value``: none of its containers that the cyclic GC tracks is other than a
    dict, list or tuple, and they hold at most ``_KNOWN_BYTES`` items (counted as often as they are held).

    marshal sorts a set by its items' own marshal bytes, writing each item twice: a set of 750,000 ints took it 2 s,
    frozensets nested 22 deep (44 values) 7 s, doubling at each level. A set is always tracked, and so is whatever
    holds one (or any object of a class of Python code), so only tracked containers are looked at: a small response
    holds few (a dict of text and numbers is not tracked), and they are walked in C, level by level.
    """
    room, level = _KNOWN_BYTES, [value]
    while True:
        level = get_referents(*level)
        room -= len(level)
        if room < 0:
            return False
        level = [*filter(is_tracked, level)]
        if not level:
            return True
        if not _CONTAINERS.issuperset(map(type, level)):
            return False


def _limit() -> int:
    """``config.max_capture_bytes()``, without parsing the variable when it is not set."""
    return config.DEFAULT_MAX_CAPTURE_BYTES if config.ENVIRON.get(_LIMIT_KEY) is None else config.max_capture_bytes()


def _judged(value: object, packed: bytes, settings: tuple[Any, Any]) -> tuple[Any, str | None]:
    """``response_metadata`` of a dict ``marshal`` wrote as ``packed`` (empty: refused), not marshalled again."""
    policy = redaction.current()
    limit = config.DEFAULT_MAX_CAPTURE_BYTES if settings[1] is None else config.max_capture_bytes()
    try:
        text = _within_json(value, limit) if packed else None
    except Exception:  # NaN, too deep: converted
        text = None
    if text is None or not _kept(text, policy, limit):
        return _converted(value, policy, limit)
    kept, made = (text if "\x7f" not in text else None), redaction._current  # DEL: as response_metadata
    if (
        len(packed) <= _KNOWN_BYTES
        and len(_known_responses) < _KNOWN_RESPONSES
        and made == (settings[0], policy)
        and _within_json(marshal.loads(packed), limit) == text  # not changed by another thread since it was packed
    ):
        _known_responses[packed] = (settings, kept)
    return value, kept


def _is_annotation_key(key: str) -> bool:
    """1 to 500 of ``[A-Za-z0-9_]`` (without a regex: compiling one costs more than a cold start should)."""
    return 0 < len(key) <= 500 and key.isascii() and key.replace("_", "a").isalnum()


NAME_DELETIONS = _NAME_DELETIONS = str.maketrans("", "", "?;*()!$~^<>")
#: The longest name looked into before it is masked and cut (a URL's length).
_MAX_NAME_WINDOW = 2048
#: X-Ray's limit on (sub)segment names, metadata namespaces and metadata keys.
MAX_NAME_CHARS = 250


def masked_name(name: str, policy: Policy) -> str:
    """A name someone else gave (the escape hatch, a library patch), masked and made valid for X-Ray.

    Masked as given, then again once the characters X-Ray rejects are gone, so that what is sent is what was
    masked: ``x?(api_key)=S`` is sent as ``xapi_key=[REDACTED]``, ``x?sig=S`` as ``xsig=[REDACTED]``.
    """
    masked = policy.mask_cut(name, _MAX_NAME_WINDOW)
    return clean_name(policy.mask_text(masked.translate(_NAME_DELETIONS)))


def clean_name(name: str) -> str:
    """A (sub)segment name X-Ray accepts: none of ``?;*()!$~^<>`` (so ``<locals>`` becomes ``locals``),
    at most 250 characters, never empty."""
    return name.translate(_NAME_DELETIONS)[:MAX_NAME_CHARS] or "unnamed"


def annotation_value(key: object, value: object, policy: Policy) -> Any:
    """The value X-Ray will accept for this annotation, redacted; ``DROPPED`` (reported once) if none.

    X-Ray takes keys of 1 to 500 ``[A-Za-z0-9_]`` and values that are strings of at most 1,000 characters,
    finite numbers or booleans. Integers past 2**53 lose precision as JSON numbers, so they are recorded as
    digits; one too long even for that is dropped (``str()`` of it could raise).
    """
    if not isinstance(key, str) or not _is_annotation_key(key):
        named = config.shown(key, mask=policy.mask_text) if isinstance(key, str) else f"of type {type(key).__name__}"
        config.report_once(("annotation key", named), f"annotation {named} dropped (keys are 1 to 500 of [A-Za-z0-9_])")
        return DROPPED
    if isinstance(value, bool):
        return value
    verdict = policy.verdict(key)
    if verdict == SECRET or (verdict != PLAIN and not (verdict == COUNTS and isinstance(value, (int, float)))):
        return REDACTED
    if isinstance(value, str):
        masked = policy.mask_text(value[: MAX_ANNOTATION_CHARS + MASK_MARGIN])  # masked, then cut
        if len(masked) > MAX_ANNOTATION_CHARS:
            config.report_once(
                ("annotation cut",), f"annotation string values are cut to {MAX_ANNOTATION_CHARS} characters"
            )
        return masked[:MAX_ANNOTATION_CHARS]
    if isinstance(value, int):
        if -_SAFE_INT <= value <= _SAFE_INT:
            return value
        if value.bit_length() <= _MAX_DIGIT_BITS:
            return str(value)
    elif isinstance(value, float) and math.isfinite(value):
        return value
    kind = type(value).__name__ if not isinstance(value, (int, float)) else f"out-of-range {type(value).__name__}"
    named = config.shown(key, mask=policy.mask_text)
    message = f"annotation {named} dropped: {kind} values are not recorded (str, int, bool, float only)"
    config.report_once(("annotation value", kind), message)
    return DROPPED
