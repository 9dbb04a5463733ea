"""The fast gates give exactly what the plain ones give: redaction's sketch prefilter (``Policy.needs_mask``), and a
response recorded as it is spliced into the document as the document's encoder writes it.

Each is compared with a plain reimplementation of what it replaced, on texts made to be near misses: needles in
every case, hex and digits around them, commas inside them, and the same policy reused so that pieces remembered
as clean (``Policy._clean``) are in play.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from lambda_tracer import capture, redaction, redaction_text
from lambda_tracer.redaction import Policy, from_setting

ALPHABET = 'abcdefABCDEF0123456789,"\\:%_-. ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ@/{}[]\n\t'
EXTRA_NEEDLES = ["pin", "ssn", "account", "ab", "x9", "cred", "CrEd", "p1ss", "created", "aref"]


def plain_needs_mask(policy: Policy, text: str) -> bool:
    """``needs_mask`` as it was before the prefilter: every needle searched in the whole text."""
    return policy.enabled and (
        any(needle in text.lower() for needle in policy._needles)
        or any(needle in text for needle in redaction._FORM_NEEDLES)
        or ("@" in text and redaction_text.compiled(redaction_text._USERINFO_GATE).search(text) is not None)
    )


def records(rng: random.Random, count: int) -> str:
    """JSON like an API's: ids, times and URLs, which the sketch reads alike."""
    items = [
        {
            "id": f"{rng.getrandbits(128):032x}",
            "createdAt": f"2026-{rng.randint(1, 12):02d}-01T{rng.randint(0, 23):02d}:00:00.000Z",
            "url": f"https://api.example.com/v1/orders/{rng.getrandbits(64):016x}",
            "status": rng.choice(["paid", "ordered", "delivered", "Credited", "secretary"]),
        }
        for _ in range(count)
    ]
    return json.dumps({"statusCode": 200, "body": json.dumps({"items": items})}, separators=(",", ":"))


def texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    needles = [*redaction._NEEDLES, *redaction._FORM_NEEDLES, *EXTRA_NEEDLES]
    made = []
    for _ in range(count):
        if rng.random() < 0.6:
            text = records(rng, rng.randint(0, 12))
        else:
            text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 600)))
        for _ in range(rng.randint(0, 2)):
            needle = rng.choice(needles)
            needle = "".join(c.upper() if rng.random() < 0.4 else c for c in needle)
            at = rng.randint(0, len(text))
            text = text[:at] + needle + text[at:]
        made.append(text)
    return made


@pytest.mark.parametrize(
    "policy",
    [Policy(), from_setting(["pin", "ssn", "account_number", "ab", "x9"]), from_setting(["-token_count"])],
    ids=["default", "extra names", "allowed key"],
)
def test_needs_mask_is_the_plain_search(policy: Policy) -> None:
    found = 0
    for text in texts(18, 1500):
        expected = plain_needs_mask(policy, text)
        assert policy.needs_mask(text) is expected, text
        found += expected
    assert 0 < found < 1500  # both answers were exercised
    assert policy._clean  # and pieces were remembered, then reused


def test_a_needle_in_remembered_pieces_is_still_found() -> None:
    policy = Policy()
    assert policy.needs_mask('{"orderedAt":"2026-01-01","ref":"a1b2","note":"p1ss"}') is False
    # Every piece of these texts but the needle's own reads like one already seen.
    assert policy.needs_mask('{"orderedAt":"2026-01-01","ref":"a1b2","note":"pass"}') is True
    assert policy.needs_mask('{"orderedAt":"2026-01-01","ref":"cred","note":"p1ss"}') is True
    assert policy.needs_mask('{"orderedAt":"2026-01-01","ref":"a1b2","note":"p1ss","%":1}') is True
    assert policy.needs_mask('{"orderedAt":"2026-01-01","ref":"AKIA","note":"p1ss"}') is True
    # ``cred`` reads ``#r##`` in a sketch, as ``created`` does: each of its spellings is still found.
    assert policy.needs_mask('{"createdAt":"2026-01-01","ref":"a1b2","note":"p1ss"}') is False
    for spelling in ("cred", "Cred", "cRed", "crEd", "creD", "CRED", "cREd", "CrEd"):
        assert policy.needs_mask(f'{{"createdAt":"2026-01-01","ref":"{spelling}","note":"p1ss"}}') is True


def test_non_ascii_texts_take_the_plain_search() -> None:
    policy = Policy()
    assert policy.needs_mask("\u212aey=1, caf\u00e9") is True  # the Kelvin sign lower-cases to k
    assert policy.needs_mask("caf\u00e9, na\u00efve") is False
    assert not policy._clean


def test_remembered_pieces_are_bounded() -> None:
    policy = Policy()
    rng = random.Random(7)
    for _ in range(600):
        policy.needs_mask(",".join("".join(rng.choice("ghlmrvwz") for _ in range(12)) for _ in range(50)))
        policy.needs_mask("x" * 5000)
    assert redaction._CLEAN_CHARS <= sum(len(piece) + 1 for piece in policy._clean) < redaction._CLEAN_CHARS + 1100
    assert all(len(piece) <= redaction._CLEAN_PIECE_CHARS for piece in policy._clean)


RESPONSES: list[Any] = [
    {"statusCode": 200, "body": '{"items":[{"id":"a1","price":2.5}]}', "headers": {"Content-Type": "application/json"}},
    {"ok": 1, "calls": None, "ratio": -0.0, "big": 2**70, "small": 1e-7, "t": [True, False], "n": (1, 2)},
    {"text": 'quote " backslash \\ newline \n tab \t control \x01 del \x7f end'},
    {"accent": "caf\u00e9"},  # not ASCII: converted, no text
    {"password": "hunter2"},  # masked: converted, no text
    {1: "int key", 2.5: "float key", None: "none key", False: "bool key"},
    ["a", 1, 2.5, None],
    "a plain string",
    12345,
    {"statusCode": 200, "body": json.dumps({"items": [{"id": 'a"1\\', "n": 2}] * 3000})},  # cut: a preview
    ["\u00e9" * 20_000],  # cut, escapes in the preview
]


@pytest.mark.parametrize("seed", range(120))
def test_a_response_spliced_in_is_the_document_encoded(seed: int) -> None:
    from lambda_tracer.backends import xray, xray_documents

    rng = random.Random(seed)
    trace = xray.Trace(root="1-5759e988-bd862e3fe1be46a994272793", parent="53995c3f42cd8ad8", sampled="1", data={})
    span = xray.XRaySpan("## handler", trace, "53995c3f42cd8ad8")
    if rng.random() < 0.7:
        span.annotate_all({"ColdStart": rng.random() < 0.5, "Service": "svc \u00e9", "InitType": "on-demand"})
    value = rng.choice(RESPONSES)
    data, text = capture.response_metadata(value, Policy(), 16384)
    if text is not None:
        assert text == xray_documents.dumps(data)
        span.add_encoded_metadata("svc", "handler response", data, text)
    else:
        span.add_metadata("svc", "handler response", data)
    if rng.random() < 0.2:
        span.add_metadata(rng.choice(["svc", "other"]), "more", {"x": 1})  # more than the response: not spliced
    if rng.random() < 0.1:
        span.add_metadata("svc", "handler response", {"replaced": True})  # written again: not spliced
    if rng.random() < 0.3:
        span.http = {"request": {"url": "https://example.com/", "method": "GET"}, "response": {"status": 200}}
    span.error, span.fault, span.throttle = (rng.random() < 0.3 for _ in range(3))
    if rng.random() < 0.3:
        span.cause = rng.choice(["0123456789abcdef", {"working_directory": "/var/task", "exceptions": []}])
    if rng.random() < 0.05:
        span.add_encoded_metadata("svc", "handler response", "x" * 70_000, json.dumps("x" * 70_000))  # shrunk
    end_us = span.start_us + rng.randint(0, 10**7)
    assert span.encoded(end_us) == xray_documents.encode(span.document(end_us))


def test_a_response_with_del_is_not_spliced() -> None:
    value = {"text": "del \x7f"}
    data, text = capture.response_metadata(value, Policy(), 16384)
    assert data is value and text is None  # the document writes \u007f where the capture's text has it raw
    assert capture.response_metadata({"text": "plain"}, Policy(), 16384)[1] == '{"text":"plain"}'
