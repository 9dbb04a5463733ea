"""The per-invocation fast paths give exactly what the general ones give.

A span's document is written with a prebuilt encoder and its times as text, and Lambda's own trace header is
read by its shape: each is checked here against the code it replaced (the one-shot ``json.JSONEncoder``, the
float's repr, the regexes), byte for byte and field for field, on many varied inputs.
"""

from __future__ import annotations

import json
import math
import random
import re
from typing import Any

import pytest

from lambda_tracer.backends import xray, xray_documents

# -- the replaced code, kept here as the reference ------------------------------------------------------------

_OLD_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=str)


def _old_finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _old_finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_old_finite(item) for item in value]
    return value


def _old_dumps(document: dict[str, Any]) -> str:
    try:
        return _OLD_ENCODER.encode(document)
    except ValueError:
        return _OLD_ENCODER.encode(_old_finite(document))


def old_encode(document: dict[str, Any]) -> bytes:
    body = _old_dumps(document).encode()
    if len(body) > xray_documents.MAX_DOCUMENT_BYTES:
        body = xray_documents.shrink(document, len(body)).encode()
    return body


_OLD_LAMBDA = re.compile(r"Root=(1-[0-9a-f]{8}-[0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=([01])")
_OLD_ROOT = re.compile(r"1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24}")
_OLD_PARENT = re.compile(r"[0-9a-fA-F]{16}")
_OLD_DATA_KEY = re.compile(r"[A-Za-z0-9_\-]{1,32}")


def old_parse(raw: str | None) -> tuple[Any, ...]:
    exact = _OLD_LAMBDA.fullmatch(raw) if raw else None
    if exact is not None:
        return exact.group(1), exact.group(2), exact.group(3), {}
    fields: dict[str, str] = {}
    data: dict[str, str] = {}
    for part in (raw or "").split(";"):
        key, _, value = part.strip().partition("=")
        value = value.strip()
        if key in ("Root", "Parent", "Sampled"):
            fields.setdefault(key, value)
        elif key != "Self" and len(data) < 8 and _OLD_DATA_KEY.fullmatch(key) and xray._header_safe(value):
            data[key] = value
    root = _OLD_ROOT.match(fields.get("Root", ""))
    parent = _OLD_PARENT.match(fields.get("Parent", ""))
    return (
        root.group(0).lower() if root else None,
        parent.group(0).lower() if parent else None,
        fields.get("Sampled", "")[:1] or None,
        data,
    )


# -- inputs -----------------------------------------------------------------------------------------------------

ODD_VALUES: list[Any] = [
    float("nan"),
    float("inf"),
    -float("inf"),
    1e308,
    -0.0,
    5e-324,
    0.1 + 0.2,
    10**40,
    -(10**19),
    True,
    None,
    "",
    "plain",
    "é ü ß 日本語 🙂",
    "\ud800 lone surrogate",
    '"quotes" \\ back\\slash \n\t\r\x00\x1f\x7f',
    "\u2028\u2029",
    ["a", 1, 2.5, None, [float("nan")]],
    ("tuple", 1),
    {"nested": {"deeper": {"nan": float("nan"), "list": [1, {"x": "y"}]}}},
    {1: "int key", 2.5: "float key", None: "none key", False: "bool key"},
    object(),
    b"bytes",
]


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    if depth > 3 or rng.random() < 0.4:
        return rng.choice([*ODD_VALUES, rng.random() * 10 ** rng.randint(-10, 20), rng.randint(-(10**12), 10**12)])
    if rng.random() < 0.5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    suffixes = ["", "é", "🙂", "\n"]
    return {f"k{i}{rng.choice(suffixes)}": _random_value(rng, depth + 1) for i in range(rng.randint(0, 4))}


def _span(rng: random.Random) -> xray.XRaySpan:
    trace = xray.Trace(
        root=rng.choice(["1-5759e988-bd862e3fe1be46a994272793", None]),
        parent="53995c3f42cd8ad8",
        sampled="1",
        data={},
    )
    name = rng.choice(["## handler", "## app.fn", 'é 🙂 "quoted" \\ \n', "x" * 300, "\ud800"])
    span = xray.XRaySpan(name, trace, rng.choice(["53995c3f42cd8ad8", ""]), rng.choice(["local", "aws", "remote"]))
    span.start_us = rng.choice([1_733_480_000_000_000, 1_733_480_000_123_456, rng.randint(0, 2**52)])
    for index in range(rng.randint(0, 3)):
        span.annotate(f"a{index}", rng.choice(["v", 1, 2.5, True, float("nan"), "🙂"]))
    for index in range(rng.randint(0, 3)):
        span.add_metadata(rng.choice(["svc", "ns é"]), f"m{index}", _random_value(rng))
    if rng.random() < 0.3:
        span.http = {"request": {"url": "https://example.com/é", "method": "GET"}, "response": {"status": 200}}
    if rng.random() < 0.3:
        span.aws = {"operation": "ListBuckets", "region": "us-east-1", "retries": 0}
    span.error, span.fault, span.throttle = (rng.random() < 0.3 for _ in range(3))
    if rng.random() < 0.3:
        span.cause = rng.choice(["0123456789abcdef", {"working_directory": "/var/task", "exceptions": []}])
    if rng.random() < 0.05:  # too large: the general path shrinks it
        span.add_metadata("svc", "big", "x" * 70_000)
    return span


# -- the tests --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(400))
def test_a_span_is_sent_as_the_old_encoder_wrote_its_document(seed: int) -> None:
    rng = random.Random(seed)
    span = _span(rng)
    end_us = span.start_us + rng.choice([0, 1, 999_999, 1_000_000, rng.randint(0, 10**9)])
    expected = old_encode(span.document(end_us))
    assert span.encoded(end_us) == expected
    assert xray_documents.encode(span.document(end_us)) == expected


@pytest.mark.parametrize("seed", range(200))
def test_any_document_is_encoded_as_before(seed: int) -> None:
    rng = random.Random(seed)
    document = {f"key{i}": _random_value(rng) for i in range(rng.randint(1, 6))}
    assert xray_documents.encode(document) == old_encode(document)
    assert xray_documents.dumps(document) == _old_dumps(document)


def test_the_prebuilt_encoder_recovers_from_a_document_it_stopped_in() -> None:
    shared: dict[str, Any] = {"inner": [1, 2]}
    failing = {"shared": shared, "bad": float("nan")}
    assert xray_documents.dumps(failing) == _old_dumps(failing)
    cyclic: list[Any] = [shared]
    cyclic.append(cyclic)
    with pytest.raises(RecursionError):  # as before: the cycle is reported by the caller, nothing is sent
        xray_documents.dumps({"cycle": cyclic})
    assert xray_documents.dumps({"again": shared}) == '{"again":{"inner":[1,2]}}'


def test_times_are_written_as_the_floats_repr() -> None:
    rng = random.Random(0)
    year_2242 = 8_589_934_592_000_000  # 2**33 seconds, and beyond
    beyond = year_2242 * 2
    samples = [0, 1, 10, 999_999, 1_000_000, 1_100_000, 1_733_480_000_000_000, 1_733_480_000_000_001, year_2242]
    samples += [rng.randint(0, beyond) for _ in range(20_000)] + [-1, 99, 100, year_2242 - 1]
    samples += [1_733_480_000_000_000 + rng.randint(0, 10**6) for _ in range(20_000)]
    for us in samples:
        assert xray.seconds(us) == repr(us / 1_000_000), us
    for start, end in zip(samples, samples[1:] + samples[:1], strict=True):  # ordered, reversed, out of range
        assert xray.times(start, end) == f'"start_time":{start / 1_000_000!r},"end_time":{end / 1_000_000!r}'


LAMBDA_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
HEADER_CHARS = "0123456789abcdefABCDEFxg-;= \x00\x01é"


def _header_variants() -> list[str]:
    rng = random.Random(1)
    variants = [LAMBDA_HEADER, LAMBDA_HEADER[:-1] + "0", LAMBDA_HEADER + ";Lineage=a:1", LAMBDA_HEADER.upper()]
    variants += [LAMBDA_HEADER[:-1] + "2", LAMBDA_HEADER[:-1], " " + LAMBDA_HEADER[1:], "", "Root=", "Sampled=1"]
    for _ in range(3000):
        chars = list(LAMBDA_HEADER)
        for _ in range(rng.randint(1, 3)):
            chars[rng.randrange(len(chars))] = rng.choice(HEADER_CHARS)
        variants.append("".join(chars))
    return variants


def test_lambdas_header_is_read_by_its_shape_as_the_regexes_read_it() -> None:
    for raw in _header_variants():
        trace = xray.parse_header(raw)
        assert (trace.root, trace.parent, trace.sampled, trace.data) == old_parse(raw), raw
        fast = xray._lambda_trace(raw.encode("utf-8", "surrogateescape"))
        if fast is not None:
            assert (fast.root, fast.parent, fast.sampled, fast.data) == old_parse(raw), raw
        else:
            assert _OLD_LAMBDA.fullmatch(raw) is None, raw


@pytest.mark.parametrize("raw", [None, "", "4096", "100", "10000000", "junk", " 2048 "])
def test_the_capture_limit_is_the_settings(monkeypatch: pytest.MonkeyPatch, raw: str | None) -> None:
    from lambda_tracer import config, span

    if raw is None:
        monkeypatch.delenv(config.MAX_CAPTURE_BYTES, raising=False)
    else:
        monkeypatch.setenv(config.MAX_CAPTURE_BYTES, raw)
    assert span.capture_limit() == config.max_capture_bytes()
