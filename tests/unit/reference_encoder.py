"""The code the X-Ray encoder's fast paths replaced (the one-shot ``json.JSONEncoder``), kept as the reference that
test_xray.py (a span's document) and test_xray_documents.py (any document) compare them with, and the varied values
they are compared on."""

from __future__ import annotations

import json
import math
import random
from typing import Any

from lambda_tracer.backends import xray_documents

_OLD_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=str)


def _old_finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _old_finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_old_finite(item) for item in value]
    return value


def old_dumps(document: dict[str, Any]) -> str:
    try:
        return _OLD_ENCODER.encode(document)
    except ValueError:
        return _OLD_ENCODER.encode(_old_finite(document))


def old_encode(document: dict[str, Any]) -> bytes:
    body = old_dumps(document).encode()
    if len(body) > xray_documents.MAX_DOCUMENT_BYTES:
        body = xray_documents.shrink(document, len(body)).encode()
    return body


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


def random_value(rng: random.Random, depth: int = 0) -> Any:
    if depth > 3 or rng.random() < 0.4:
        return rng.choice([*ODD_VALUES, rng.random() * 10 ** rng.randint(-10, 20), rng.randint(-(10**12), 10**12)])
    if rng.random() < 0.5:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    suffixes = ["", "é", "🙂", "\n"]
    return {f"k{i}{rng.choice(suffixes)}": random_value(rng, depth + 1) for i in range(rng.randint(0, 4))}
