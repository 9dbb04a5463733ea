"""capture_json.py: what is recorded as it is (exactly, and a copy), the strict encoder, and the bound and preview of
a value too big to record whole."""

from __future__ import annotations

import collections
import datetime
import decimal
import json
import random
import tracemalloc
from typing import Any

import pytest
from paused import changed_at_call

from lambda_tracer import capture, capture_json
from lambda_tracer.redaction import Policy
from lambda_tracer.redaction_text import REDACTED

R = REDACTED


def test_bound() -> None:
    assert capture_json.bound({"a": "x" * 500}, 300) == {
        "truncated": True,
        "original_bytes": 508,
        "preview": '{"a":"' + "x" * 89,
    }
    assert capture_json.bound([1], 300) == [1]
    assert capture_json.bound([1], 3) == [1]
    assert capture_json.bound([1], 2) == {"truncated": True, "original_bytes": 3, "preview": "[1]"}
    assert capture_json.bound([1], 300, 7) == {"truncated": True, "original_bytes_at_least": 7, "preview": "[1]"}
    assert capture_json.bound([1, 2], 300, 1) == {"truncated": True, "original_bytes_at_least": 5, "preview": "[1,2]"}
    assert capture_json.bound(["x" * 1000], 1000)["preview"] == '["' + "x" * 795
    assert capture_json.bound({(1, 2): 1}, 300) == {"truncated": True, "reason": "unserializable", "type": "<dict>"}
    assert capture_json.bound({"d": datetime.date(2020, 1, 2)}, 300) == {"d": datetime.date(2020, 1, 2)}


def test_values_recorded_as_they_are_are_copies() -> None:
    value = {"a": 1, "b": "text", "c": None, "d": True, "e": 1.5, "f": [1, {"g": "h"}]}
    out = capture.to_metadata(value, Policy(), 16384)
    assert out == value and out is not value and out["f"][1] is not value["f"][1]
    assert capture.to_metadata(value, Policy(), 16384, copy=False) is value
    policy = Policy()
    assert capture_json._as_it_is(value, policy, 16384, True) == value
    for converted in (
        {"a": float("inf")},
        {"password": 1},
        {"a": "token=1"},
        {"https://u:p@h": 1},
        {1: b""},
        {"a": {1, 2}},
        ' {"a\\u0070"',
        "a:secret",
        "é",
        {"a": "x" * 100},
        collections.OrderedDict(a=1),
        collections.namedtuple("Pair", "user password")("ann", "hunter2"),
        {"isBase64Encoded": True, "body": "eA=="},
    ):
        assert capture_json._as_it_is(converted, policy, 64, True) is capture_json._CONVERT, converted
    for kept in ({"a": "x=1"}, "a:b", " {", {"isBase64Encoded": False, "body": "eA=="}, ("a", 1), 2**60):
        assert capture_json._as_it_is(kept, policy, 64, True) == kept
    assert capture_json._as_it_is({"ab": "cd"}, policy, 11, True) == {"ab": "cd"}  # {"ab":"cd"}: 11 bytes
    assert capture_json._as_it_is({"ab": "cd"}, policy, 10, True) is capture_json._CONVERT


def test_the_copy_recorded_is_the_value_that_was_checked_though_another_thread_changes_it() -> None:
    """put_metadata's value, changed by another thread while it is looked at: what is recorded is what was checked.

    Before, the copy was taken first (``marshal``) and the value checked after, so a dict that held a password when it
    was copied and none when it was checked was recorded with the password, unmasked."""
    shared: dict[str, Any] = {"db": {"password": "hunter2"}}
    recorded = changed_at_call(
        capture_json._strict_json.__code__,  # after the copy: written at once
        lambda: shared.update(db={"host": "db.internal"}),
        lambda: capture.to_metadata(shared, Policy(), 16384, key="state"),
    )
    assert recorded in ({"db": {"password": R}}, {"db": {"host": "db.internal"}})


@pytest.mark.parametrize(
    ("text", "room", "expected"),
    [
        ("a" * 10, 12, "a" * 10),
        ("a" * 10, 11, "a" * 9),  # one byte over: one character less
        ('a"b' * 10, 20, 'a"b' * 3 + 'a"'),  # 20 characters are 29 bytes: 9 characters fewer
        ("a\\b" * 10, 20, "a\\b" * 3 + "a\\"),  # backslashes count as quotes do
        ('a"b' * 10, 31, 'a"b' * 6 + "a"),  # the cut's form is the start of the whole's
        ('a"b' * 30, 40, 'a"b' * 8 + "a"),
        ('"' * 200, 62, '"' * 5),  # escapes longer than the text: the worst case, 12 bytes a character
        ('"' * 200, 64, '"' * 5),
        ('"' * 200, 74, '"' * 6),
        ('"' * 10, 12, ""),  # the excess equals the text: the worst case, none of it
        ('"' * 10, 13, '"'),  # one character left after the excess
        ("", 64, ""),
    ],
)
def test_preview_cuts_as_many_characters_as_bytes_in_excess(text: str, room: int, expected: str) -> None:
    preview, escaped = capture_json._preview(text, room)
    assert preview == expected
    assert f'"{escaped}"' == json.dumps(expected)  # its JSON form, quotes and backslashes escaped
    assert len(json.dumps(expected)) <= room


def test_describe_never_raises() -> None:
    class Meta(type):
        @property
        def __module__(cls) -> str:  # type: ignore[override]
            raise RuntimeError("no module")

    class Odd(metaclass=Meta):
        pass

    assert capture_json.describe(Odd()) == "<object>"
    assert capture_json.describe(decimal.Decimal(1)) == "<decimal.Decimal>"
    assert capture_json.describe(1) == "<int>"


@pytest.mark.parametrize(
    ("text", "room", "expected"),
    [
        ('"' * 62, 64, '"' * 5),  # the excess is the whole text: the worst case's prefix
        ("a" + '"' * 61, 64, "a"),  # one character left after the excess
        ('"' * 68, 70, '"' * 5),
    ],
)
def test_preview_at_the_edge_of_the_excess(text: str, room: int, expected: str) -> None:
    assert capture_json._preview(text, room) == (expected, json.dumps(expected)[1:-1])


_ODD_KEYS: dict[Any, Any] = {"b": 1, "a": [1.5, None, True, "\u00e9\u2028<>&'"], 3: {"z": {}, "y": []}}


def test_the_prebuilt_strict_encoder_writes_what_the_stdlib_writes() -> None:
    encode = capture_json._c_strict()
    assert encode is not None  # CPython's C accelerator: built once, not at every response
    expected = json.dumps(_ODD_KEYS, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    assert "".join(encode(_ODD_KEYS, 0)) == expected  # keys in their order, compact, not ASCII-escaped
    assert capture_json._strict_json(_ODD_KEYS) == expected
    assert capture_json._strict_json("plain") == '"plain"'
    for bad in (float("nan"), {(1, 2): 1}):  # NaN and keys JSON has no form for are refused, not written
        with pytest.raises((ValueError, TypeError)):
            "".join(capture_json._c_strict()(bad, 0))
        with pytest.raises((ValueError, TypeError)):
            capture_json._strict_json(bad)
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(ValueError):
        "".join(capture_json._c_strict()(cycle, 0))
    assert capture_json._strict_json(_ODD_KEYS) == expected  # the encoder still works after a refusal


def plain_preview(text: str, room: int) -> str:
    """``capture_json._preview``'s cut, with its length from ``json.dumps``."""
    preview = text[:room]
    excess = len(json.dumps(preview)) - room
    if excess <= 0:
        return preview
    keep = len(preview) - excess
    return preview[:keep] if keep > 0 else preview[: (room - 2) // 12]


def test_preview_is_the_encoded_one() -> None:
    rng = random.Random(3)
    for _ in range(1500):
        value = {"a": "".join(rng.choice('ab"\\\n\x7f\x01\u00e9\U0001f600 ') for _ in range(rng.randint(0, 2000)))}
        text = json.dumps(value, separators=(",", ":"), default=str)
        room = rng.randint(64, 3000)
        preview = plain_preview(text, room)
        assert capture_json._preview(text, room) == (preview, json.dumps(preview)[1:-1])


def test_a_preview_is_written_with_its_json_text() -> None:
    value = {"a": 'x"\\y' * 100}  # 608 bytes of JSON: x\"\\y a hundred times
    preview = '{"a":"' + 'x\\"\\\\y' * 4 + "x\\"  # 100 bytes of room: 32 characters and their 68 of escapes
    assert capture_json.bound_text(value, 300) == (
        {"truncated": True, "original_bytes": 608, "preview": preview},
        '{"truncated":true,"original_bytes":608,"preview":"{\\"a\\":\\"' + 'x\\\\\\"\\\\\\\\y' * 4 + 'x\\\\"}',
    )
    assert capture_json.bound_text([1, 2], 300, 9) == (
        {"truncated": True, "original_bytes_at_least": 9, "preview": "[1,2]"},
        '{"truncated":true,"original_bytes_at_least":9,"preview":"[1,2]"}',
    )
    assert capture_json.bound_text([1], 300) == ([1], None)  # fits: no preview, no text
    assert capture_json.bound_text({(1, 2): 1}, 300) == (
        {"truncated": True, "reason": "unserializable", "type": "<dict>"},
        None,
    )
    assert capture_json.bound([1, 2], 300, 9) == capture_json.bound_text([1, 2], 300, 9)[0]


@pytest.mark.parametrize("limit", [10, 64, 300, 1000, 16384])
def test_a_preview_text_is_what_the_document_encoder_writes(limit: int) -> None:
    from lambda_tracer.backends import xray_documents

    rng = random.Random(limit)
    for _ in range(40):
        text = "".join(rng.choice('ab"\\\n\x7f\x01\u00e9\U0001f600 {}[]:,') for _ in range(rng.randint(0, 3 * limit)))
        value = rng.choice([text, {"body": text, "n": 1}, [text, None, 2.5], {"k" * 20: [text]}])
        for at_least in (None, rng.randint(0, 5 * limit)):
            bounded, written = capture_json.bound_text(value, limit, at_least)
            if written is not None:
                assert written == xray_documents.dumps(bounded)
                assert len(bounded["preview"]) == 0 or len(json.dumps(bounded["preview"])) <= max(limit - 200, 64)


@pytest.mark.parametrize(
    "value",
    [
        {"statusCode": 200, "body": 'say "hi" \\ bye ' * 100},  # escaped by bytes' replace: the same text
        {"body": "a" * 1024, "b": "c" * 1023, "n": [1.5, None, True]},
        {"body": "line\n" * 300},  # a control character: the encoder writes it
        {"body": "caf\u00e9 " * 300},  # not ASCII: the encoder
        {"body": "del \x7f " * 300},  # DEL is escaped: the encoder
        {1: "a" * 2000},  # a key JSON turns into text: the encoder
        {f"k{i}": "a" * 2000 for i in range(17)},  # more items than the few: the encoder
        ["a" * 2000],
        "a" * 2000,
    ],
)
def test_json_text_is_what_the_encoder_writes(value: Any) -> None:
    assert capture_json._json_text(value) == json.dumps(value, separators=(",", ":"), default=str)


def test_json_text_on_random_dicts() -> None:
    rng = random.Random(5)
    alphabets = ['ab"\\ {}x', 'ab"\\\n\x7f\x01 {}:,\u00e9\U0001f600~', "abc"]
    for _ in range(300):
        value: dict[Any, Any] = {}
        for index in range(rng.randint(0, 18)):
            alphabet = rng.choice(alphabets)
            text = "".join(rng.choice(alphabet) for _ in range(rng.choice([5, 1023, 1024, 3000])))
            key = rng.choice([f"k{index}", f'q"{index}', f"\u00e9{index}"])
            value[key] = rng.choice([text, text, 2.5, None, [text]])
        assert capture_json._json_text(value) == json.dumps(value, separators=(",", ":"), default=str)
    with pytest.raises(TypeError):
        capture_json._json_text({"a": "x" * 2000, "b": {(1, 2): 1}})  # refused as the encoder refuses it


def test_shape_only() -> None:
    assert (
        capture_json._shape_only('{"a": {"b": [1, null, false, "x"]}}', 100)
        == f'{{"a":{{"b":["{R}",null,false,"{R}"]}}}}'
    )
    assert capture_json._shape_only("  [1]", 100) == f'["{R}"]'
    assert capture_json._shape_only("[1]", 2) == R
    assert capture_json._shape_only("[1]", 3) == f'["{R}"]'
    assert capture_json._shape_only("plain", 100) == R
    assert capture_json._shape_only("[1", 100) == R
    assert capture_json._shape_only('"s"', 100) == R
    deep: Any = "x"
    for _ in range(40):
        deep = [deep]
    masked = json.loads(capture_json._shape_only(json.dumps(deep), 10_000))
    for _ in range(32):
        masked = masked[0]
    assert masked == R
    wide = json.loads(capture_json._shape_only(json.dumps({str(n): n for n in range(1001)}), 100_000))
    assert len(wide) == 1000 and "1000" not in wide
    assert len(json.loads(capture_json._shape_only(json.dumps(list(range(1001))), 100_000))) == 1000


def _nested_dict(levels: int, leaf: Any) -> Any:
    for _ in range(levels):
        leaf = {"k": leaf}
    return leaf


def test_shape_only_dict_depth() -> None:
    masked = json.loads(capture_json._shape_only(json.dumps(_nested_dict(40, "x")), 10_000))
    assert masked == _nested_dict(32, R)
    assert json.loads(capture_json._shape_only(json.dumps(_nested_dict(31, "x")), 10_000)) == _nested_dict(31, R)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# The shortest JSON text of each shape, of exactly ``limit`` characters, and the same shape a character or an item more.
_FITS_EXACTLY = [
    ("a" * 62, "a" * 63, 64),  # "…": the string and its quotes
    (
        {key: 0 for key in ["", *"abcdefghi"]},
        {key: 0 for key in ["", *"abcdefghij"]},
        60,
    ),  # {"":0,"a":0,…}: 6 characters an item
    ({"": "a" * 57}, {"": "a" * 58}, 64),  # {"":"…"}: a string value and 7 characters
    ({"a" * 58: 0}, {"a" * 59: 0}, 64),  # {"…":0}: a key and 6 characters
    ([0] * 32, [0] * 33, 65),  # [0,0,…]: 2 characters an item and 1
    ((0,) * 32, (0,) * 33, 65),
    ({}, {"": 0}, 2),
    ([], [0], 2),
]
_SHAPES = ["string", "dict items", "dict value", "dict key", "list", "tuple", "empty dict", "empty list"]


@pytest.mark.parametrize(("fits", "too_big", "limit"), _FITS_EXACTLY, ids=_SHAPES)
def test_the_largest_value_of_each_shape_is_recorded_as_it_is_and_one_more_is_cut(
    fits: Any, too_big: Any, limit: int
) -> None:
    text = _compact(fits)
    assert len(text) == limit
    # Recorded as it is: the value itself (not converted) and the JSON text written on the way.
    assert capture.response_metadata(fits, Policy(), limit) == (fits, text)
    assert capture.to_metadata(fits, Policy(), limit, copy=False) is fits
    assert len(_compact(too_big)) > limit
    assert capture.to_metadata(too_big, Policy(), limit)["truncated"] is True


def _record_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[Any]:
    """The values given to ``capture_json.<name>`` (a function of one value) from now on, each still passed to it."""
    encoded: list[Any] = []
    real = getattr(capture_json, name)

    def recording(value: Any) -> Any:
        encoded.append(value)
        return real(value)

    monkeypatch.setattr(capture_json, name, recording)
    return encoded


@pytest.mark.parametrize(("fits", "too_big", "limit"), _FITS_EXACTLY, ids=_SHAPES)
def test_a_value_whose_json_text_cannot_fit_is_not_encoded_whole(
    fits: Any, too_big: Any, limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A response of megabytes is converted (and cut) without being encoded first: its top level shows it cannot
    fit, however short its shortest JSON text could be."""
    encoded = _record_calls(monkeypatch, "_strict_json")
    for value in (too_big, "x" * 1_000_000, {"body": "x" * 1_000_000}, [0] * 1_000_000):
        assert capture.response_metadata(value, Policy(), limit)[0]["truncated"] is True
    assert encoded == []
    capture.response_metadata(fits, Policy(), limit)
    assert encoded == [fits]


def _shared_shapes() -> dict[str, Any]:
    """Values that hold one 100 KB string (or a dict holding it) 200 times: 20 MB of JSON text from 100 KB."""
    text = "x" * 100_000
    template = {"template": text}
    return {
        "list": [text] * 200,
        "dicts": [{"template": text, "n": n} for n in range(200)],
        "shared dict": [template] * 200,
        "nested": [[text] * 20] * 10,
        "small dict": {"items": [text] * 200},  # recorded_response's path for small dicts (_judged)
        "tuple": (template, [template] * 199),
    }


@pytest.mark.parametrize("shape", list(_shared_shapes()))
def test_a_value_sharing_a_big_string_is_not_encoded_expanded(shape: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The encoder writes a string as often as a value holds it: one of 100 KB held 200 times is 20 MB of text, though
    ``marshal`` takes it (it writes the string once) and its top level is small. Such a value is converted (and cut)
    without being encoded: the work and the memory stay within a few times the limit, counted by tracemalloc."""
    encoded = _record_calls(monkeypatch, "_strict_json")
    value = _shared_shapes()[shape]
    calls = {
        "response_metadata": lambda: capture.response_metadata(value, Policy(), 16384)[0],
        "to_metadata": lambda: capture.to_metadata(value, Policy(), 16384),
        "recorded_response": lambda: capture.recorded_response(value)[0],
    }
    for name, call in calls.items():
        tracemalloc.start()
        try:
            recorded = call()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert recorded["truncated"] is True, name
        assert peak < 1_000_000, (name, peak)  # 20 MB of text and more before; the one string's copies now
    assert encoded == []


def _nested_frozensets(depth: int) -> frozenset[Any]:
    value: frozenset[Any] = frozenset()
    for level in range(depth):
        value = frozenset({value, level})
    return value


def _not_marshalled_shapes() -> dict[str, Any]:
    """Values ``marshal`` took, wrote whole and, for sets, sorted: frozensets nested 22 deep (44 values) took it 7 s,
    doubling at each level (a set's items are written once to be sorted by their bytes, then again); a set of 750,000
    ints 2 s; a list of 750,000 ints 10 ms, only to be converted and cut."""
    return {
        "nested frozensets": {"d": _nested_frozensets(12)},  # ~4,000 writes, not 4 million as 22 deep would be
        "frozensets in a list": [{"a": [_nested_frozensets(12)]}],
        "frozenset as a key": {_nested_frozensets(12): 1},
        "frozenset as a key, beside an empty list": {_nested_frozensets(12): [], "calls": []},
        "set beside an empty list": {"calls": [], "ids": set(range(20_000))},
        "set": {"ids": set(range(20_000))},
        "set deep in a small dict": {"a": {"b": [set(range(20_000))]}},
        "long list": {"ids": list(range(100_000))},
        "long list in a small dict": {"a": {"ids": list(range(100_000))}},
    }


@pytest.mark.parametrize("shape", list(_not_marshalled_shapes()))
def test_marshal_is_given_only_values_of_json_types_within_the_limit(
    shape: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``marshal`` looks at all of a value and sorts every set in it by its items' bytes (writing each item twice, so
    nested frozensets cost it twice as much per level): it is given no value that holds a set, nor one whose
    containers hold more than could be looked up or recorded, which a walk in C finds first, level by level and within
    its bound (``capture._without_sets``, ``capture_json._expands_past``). Such values are converted as before: a set
    recorded as a list."""
    value = _not_marshalled_shapes()[shape]
    marshalled: list[Any] = []
    real = capture_json.marshal.dumps
    monkeypatch.setattr(capture_json.marshal, "dumps", lambda item, *rest: marshalled.append(item) or real(item, *rest))
    calls = {
        "response_metadata": lambda: capture.response_metadata(value, Policy(), 16384)[0],
        "to_metadata": lambda: capture.to_metadata(value, Policy(), 16384),
        "recorded_response": lambda: capture.recorded_response(value)[0],
    }
    recorded = {name: call() for name, call in calls.items()}
    assert marshalled == []
    assert recorded["to_metadata"] == recorded["response_metadata"] == recorded["recorded_response"]
    assert recorded["to_metadata"] == capture._converted(value, Policy(), 16384)[0]  # converted, as before


@pytest.mark.parametrize("value", [{"table_name": "orders"}, {"status": 200, "headers": {"a": "b"}, "ids": [1, (2,)]}])
def test_a_copied_value_is_walked_once_as_a_response_is(value: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk that measures a value and checks its types runs before ``marshal`` copies it; the copy (equal, of types
    marshal writes) was then walked again to be measured, a second walk for every boto3 call's parameters and every
    ``put_metadata``: a copy is now written at once, as a response is (a copy changed meanwhile is still refused by
    its length or its types when written)."""
    walked: list[int] = []
    real = capture_json.gc.get_referents
    monkeypatch.setattr(capture_json.gc, "get_referents", lambda *items: walked.append(1) or real(*items))
    assert capture.to_metadata(value, Policy(), 16384, copy=False) == value
    as_response = len(walked)
    assert capture.to_metadata(value, Policy(), 16384) == value
    assert len(walked) - as_response == as_response > 0


_FLOOR_VALUES: list[Any] = [
    *(fits for fits, _, _ in _FITS_EXACTLY),
    {"a": [1, 2.5, None, True, ""], "b": {"c": ("d", [])}, "": {}},
    {1: "x", 2.5: [0], False: None, None: {"k": "v"}},  # keys the encoder writes as text: in a general dict table
    ['\u00e9\U0001f600\x01"\\', {"\u00e9": "\x7f"}],
    [[["deep"] * 3] * 3] * 3,
]


def _assert_the_floor_admits_its_text(value: Any) -> None:
    """``_expands_past`` does not refuse a value at its text's length (its compact JSON text, not ASCII-escaped)."""
    length = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    assert not capture_json._expands_past(value, length), value


@pytest.mark.parametrize("value", _FLOOR_VALUES)
def test_the_expansion_floor_never_refuses_a_value_that_fits(value: Any) -> None:
    """``_expands_past`` is a lower bound of the text's length: a value whose text is exactly the limit passes, and it
    is refused only past its text's length (the keys of a dict of strings are not counted)."""
    _assert_the_floor_admits_its_text(value)
    assert capture_json._expands_past(value, 0)


def test_the_expansion_floor_on_random_values() -> None:
    rng = random.Random(7)
    leaves: list[Any] = ["", "ab", "\u00e9" * 3, 0, -12345678901234567890, 2.5, None, True, False]

    def make(depth: int) -> Any:
        if depth > 3 or rng.random() < 0.3:
            return rng.choice(leaves)
        items = [make(depth + 1) for _ in range(rng.randint(0, 4))]
        kind = rng.choice([list, tuple, dict, dict])
        if kind is dict:
            return {rng.choice(["", "k", "key", 7]): item for item in items}
        return kind(items)

    for _ in range(500):
        value = make(0)
        shared = [value] * rng.randint(1, 3)
        for each in (value, shared):
            _assert_the_floor_admits_its_text(each)


def test_a_string_is_recorded_without_a_copy() -> None:
    """A copy protects what is recorded from its caller's later changes; a string cannot change, so it is not
    copied (``marshal`` would write and read it whole)."""
    text = " ".join(["plain", "text"] * 10)  # made at run time: not interned
    assert capture.to_metadata(text, Policy(), 1000) is text
    assert capture_json._as_it_is(text, Policy(), 1000, True) is text
    value = {"a": text}
    assert capture.to_metadata(value, Policy(), 1000) is not value  # a dict is copied


def _record_stdlib_encodes(monkeypatch: pytest.MonkeyPatch, name: str) -> list[Any]:
    """The values given to ``capture_json.<name>`` (a stdlib ``JSONEncoder``) from now on, each still encoded by it."""
    stdlib: list[Any] = []
    real = getattr(capture_json, name)

    class Recording:
        def encode(self, value: Any) -> str:
            stdlib.append(value)
            return str(real.encode(value))

    monkeypatch.setattr(capture_json, name, Recording())
    return stdlib


def test_containers_are_encoded_by_the_prebuilt_encoder_and_a_string_by_the_stdlib_in_one_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``_STRICT_JSON.encode`` builds a C encoder at every call of a container (~10,000 instructions): containers
    go to the one built once, which is built anew, not dropped, after it refused a value; a string goes to the
    stdlib's ``encode_basestring``, one C call and cheaper than the encoder."""
    stdlib = _record_stdlib_encodes(monkeypatch, "_STRICT_JSON")
    monkeypatch.setattr(capture_json, "_strict", capture_json._c_strict())
    for value in ({"a": [1, "b"]}, [1.5, None], (True,), 7):
        assert capture_json._strict_json(value) == _compact(value)
    assert stdlib == []
    assert capture_json._strict_json("plain") == '"plain"'
    assert stdlib == ["plain"]
    with pytest.raises(ValueError):
        capture_json._strict_json([float("inf")])  # refused by the prebuilt encoder, then by the stdlib's
    assert len(stdlib) == 2 and capture_json._strict is not None
    assert capture_json._strict_json({"a": 1}) == '{"a":1}'
    assert len(stdlib) == 2  # the encoder built anew serves the next one


def test_without_the_c_accelerator_the_stdlib_encoder_writes_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json.encoder, "c_make_encoder", None)  # what json.encoder holds when _json is missing
    assert capture_json._c_strict() is None
    monkeypatch.setattr(capture_json, "_strict", None)
    expected = json.dumps(_ODD_KEYS, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    assert capture_json._strict_json(_ODD_KEYS) == expected
    assert capture.response_metadata({"a": [1, None]}, Policy(), 100) == ({"a": [1, None]}, '{"a":[1,null]}')


def test_a_long_printable_body_is_escaped_by_bytes_replace_not_by_the_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """An API Gateway body too big to record whole is escaped by bytes' ``replace`` (two thirds of the encoder's
    cost); a dict without such a string is encoded in one call."""
    encoded = _record_calls(monkeypatch, "_bound_json")
    body = 'say "hi" \\ bye ' * 100
    response = {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": body}
    assert capture_json._json_text(response) == json.dumps(response, separators=(",", ":"))
    assert body not in encoded and response not in encoded
    encoded.clear()
    small = {"statusCode": 200, "body": "short"}
    assert capture_json._json_text(small) == _compact(small)
    assert encoded == [small]


class _Odd:
    def __str__(self) -> str:
        return "odd \u00e9"


class _Failing:
    def __str__(self) -> str:
        raise RuntimeError("no text")


def test_the_bound_encoder_is_built_once_not_per_item(monkeypatch: pytest.MonkeyPatch) -> None:
    """``JSONEncoder.encode`` builds a C encoder at each call of a container or number: the items beside a long body,
    and a whole value over the limit, are written by one built at the first use, the same text as json.dumps."""
    values = [
        {"statusCode": 200, "headers": {"a": "b"}, "multi": [1, 2.5, None], "n": 3, "f": 1e300, "o": _Odd(),
         "nan": float("nan"), "t": True, "body": 'say "hi" \\ bye ' * 100},
        {"a": [1, {"b": _Odd()}], "c": -0.0, "d": float("inf")},
        [1, "x" * 2000, {"k": (1, 2)}],
        7,
        2.5,
        None,
    ]  # fmt: skip
    expected = [json.dumps(value, separators=(",", ":"), default=str) for value in values]
    built: list[Any] = []
    make = getattr(json.encoder, "c_make_encoder", None)
    assert make is not None

    def counting(*args: Any) -> Any:
        built.append(args)
        return make(*args)

    monkeypatch.setattr(json.encoder, "c_make_encoder", counting)
    monkeypatch.setattr(capture_json, "_bound", False, raising=False)  # not built yet
    assert [capture_json._json_text(value) for value in values] == expected
    assert [capture_json._json_text(value) for value in values] == expected
    assert len(built) == 1
    assert capture_json.bound_text(values[0], 300)[0]["original_bytes"] == len(expected[0])
    assert len(built) == 1


def test_the_bound_encoder_is_built_anew_after_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A value the encoder stops half-way in (a failing ``str``, a cycle) is refused as the stdlib refuses it, and the
    encoder is built anew: the old one still holds the containers it was inside as markers."""
    stdlib = _record_stdlib_encodes(monkeypatch, "_BOUND_JSON")
    monkeypatch.setattr(capture_json, "_bound", False)
    inner: dict[str, Any] = {"x": [1]}
    value: dict[str, Any] = {"a": inner, "b": _Failing()}
    with pytest.raises(RuntimeError):
        capture_json._json_text(value)
    assert stdlib == [value]  # refused by the prebuilt encoder, then by the stdlib's
    value["b"] = [inner]
    assert capture_json._json_text(value) == '{"a":{"x":[1]},"b":[{"x":[1]}]}'  # not taken for a cycle
    cycle: list[Any] = [inner]
    cycle.append(cycle)
    with pytest.raises(ValueError):
        capture_json._json_text({"body": "x" * 2000, "c": cycle})
    cycle.pop()
    assert capture_json._json_text({"body": "x" * 2000, "c": cycle}) == '{"body":"' + "x" * 2000 + '","c":[{"x":[1]}]}'
    assert len(stdlib) == 2  # the encoder built anew served the values after each refusal
    assert capture_json.bound_text({"a": _Failing()}, 300) == (
        {"truncated": True, "reason": "unserializable", "type": "<dict>"},
        None,
    )


class _Counted:
    def __init__(self) -> None:
        self.calls = 0

    def __str__(self) -> str:
        self.calls += 1
        return "counted"


def test_a_cycle_is_refused_at_once_not_at_the_recursion_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The prebuilt encoder keeps markers: a cycle is refused when it comes round, so a value in it is written once
    by it and once by the stdlib encoder that refuses it again, not once per turn until the recursion limit."""
    monkeypatch.setattr(capture_json, "_bound", False)
    counted = _Counted()
    cycle: list[Any] = [counted]
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular reference"):
        capture_json._json_text({"body": "x" * 2000, "c": cycle})
    assert counted.calls == 2


def test_without_the_c_accelerator_the_bound_text_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json.encoder, "c_make_encoder", None)  # what json.encoder holds when _json is missing
    monkeypatch.setattr(capture_json, "_bound", False)
    value = {"n": [1, 2.5, _Odd()], "body": "y" * 2000}
    assert capture_json._json_text(value) == json.dumps(value, separators=(",", ":"), default=str)
    assert capture_json._bound is None
