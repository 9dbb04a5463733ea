"""Our own X-Ray backend (backends/xray.py): spans sent complete when they end, the trace from each invocation's
header, ids, and the fast paths checked against the code they replaced (the one-shot encoder, the float's repr, the
regexes), byte for byte and field for field, on many varied inputs.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Iterator
from typing import Any

import pytest
from reference_encoder import old_encode, random_value

from forked import in_forked_child
from lambda_env import invoke
from lambda_tracer import Tracer, capture, coldstart
from lambda_tracer.backends import xray, xray_documents, xray_header
from lambda_tracer.redaction import Policy
from lambda_tracer_local.daemon import by_name
from memory_sender import MemorySender


@pytest.mark.usefixtures("memory_sender")  # what was sent, read in memory (tests/memory_sender.py)
def test_a_span_whose_parent_ended_first_is_still_sent_complete() -> None:
    """A generator first advanced inside a traced function that returns it outlives that function's span."""
    tracer = Tracer(service="svc")

    @tracer.capture_method
    def numbers() -> Iterator[int]:
        yield 1
        yield 2

    @tracer.capture_method
    def start() -> Iterator[int]:
        generator = numbers()
        next(generator)
        return generator

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> list[int]:
        generator = start()
        return list(generator)

    call = invoke(handler, expect=3)
    assert call.result == [2]
    gen = by_name(
        call.documents, f"## {__name__}.test_a_span_whose_parent_ended_first_is_still_sent_complete.locals.numbers"
    )
    starter = by_name(
        call.documents, f"## {__name__}.test_a_span_whose_parent_ended_first_is_still_sent_complete.locals.start"
    )
    assert gen["parent_id"] == starter["id"] and "end_time" in gen and not gen.get("in_progress")
    assert gen["end_time"] > starter["end_time"]


def test_threads_adding_a_spans_first_metadata_at_once_both_keep_theirs() -> None:
    """Threads with a copied context (a pool's workers) calling put_metadata on the span they share, the handler's,
    before it has any metadata: each write is in the document. The first write gave the span a dict of its own, and a
    thread writing meanwhile gave it another: the dict the first one wrote into was dropped, with its metadata."""
    import threading

    trace = xray.Trace("1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8", "1", {})
    span = xray.XRaySpan("## handler", trace, "53995c3f42cd8ad8")
    during: list[threading.Thread] = []

    class Namespace(str):
        """The first thread's namespace: another thread writes its metadata while the first is storing its own."""

        __slots__ = ()

        def __hash__(self) -> int:
            if not during:
                during.append(threading.Thread(target=span.add_metadata, args=("svc", "other", 2)))
                during[0].start()
                during[0].join()
            return str.__hash__(self)

    span.add_metadata(Namespace("svc"), "mine", 1)
    assert during and span.metadata == {"svc": {"other": 2, "mine": 1}}
    assert json.loads(span.encoded(span.start_us + 1))["metadata"] == {"svc": {"other": 2, "mine": 1}}


def test_ids_are_fresh_in_a_forked_child() -> None:
    child = in_forked_child(lambda: xray.new_id().encode())
    assert len(child) == 16 and child.decode() != xray.new_id()


def test_each_invocation_gets_its_own_trace_even_if_the_root_repeats_or_the_header_goes(
    monkeypatch: pytest.MonkeyPatch, memory_sender: MemorySender
) -> None:
    """The SDK keeps the previous context for a repeated Root or a missing header; we never do."""
    tracer = Tracer(service="svc")
    handler = tracer.capture_lambda_handler(lambda event, context: 1)
    first = invoke(handler)
    same_root = f"Root={first.trace_id};Parent=1111111111111111;Sampled=1"
    monkeypatch.setenv("_X_AMZN_TRACE_ID", same_root)
    handler({}, None)
    monkeypatch.delenv("_X_AMZN_TRACE_ID")
    handler({}, None)  # no header (PassThrough without an incoming trace): nothing to record into
    docs = memory_sender.for_trace(first.trace_id)
    assert sorted(d["parent_id"] for d in docs) == sorted([first.parent_id, "1111111111111111"])


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
        elif key != "Self" and len(data) < 8 and _OLD_DATA_KEY.fullmatch(key) and xray_header.header_safe(value):
            data[key] = value
    root = _OLD_ROOT.match(fields.get("Root", ""))
    parent = _OLD_PARENT.match(fields.get("Parent", ""))
    return (
        root.group(0).lower() if root else None,
        parent.group(0).lower() if parent else None,
        fields.get("Sampled", "")[:1] or None,
        data,
    )


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
        span.add_metadata(rng.choice(["svc", "ns é"]), f"m{index}", random_value(rng))
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


@pytest.mark.parametrize("seed", range(400))
def test_a_span_is_sent_as_the_old_encoder_wrote_its_document(seed: int) -> None:
    rng = random.Random(seed)
    span = _span(rng)
    end_us = span.start_us + rng.choice([0, 1, 999_999, 1_000_000, rng.randint(0, 10**9)])
    expected = old_encode(span.document(end_us))
    assert span.encoded(end_us) == expected
    assert xray_documents.encode(span.document(end_us)) == expected


def test_times_are_written_as_the_floats_repr() -> None:
    rng = random.Random(0)
    year_2242 = 8_589_934_592_000_000  # 2**33 seconds, and beyond
    beyond = year_2242 * 2
    samples = [0, 1, 10, 999_999, 1_000_000, 1_100_000, 1_733_480_000_000_000, 1_733_480_000_000_001, year_2242]
    samples += [rng.randint(0, beyond) for _ in range(20_000)] + [-1, 99, 100, year_2242 - 1]
    samples += [1_733_480_000_000_000 + rng.randint(0, 10**6) for _ in range(20_000)]
    for us in samples:
        assert xray_documents.seconds(us) == repr(us / 1_000_000), us
    for start, end in zip(samples, samples[1:] + samples[:1], strict=True):  # ordered, reversed, out of range
        assert xray_documents.times(start, end) == f'"start_time":{start / 1_000_000!r},"end_time":{end / 1_000_000!r}'


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


def test_every_trace_root_is_written_by_json_as_it_is() -> None:
    """``XRaySpan.encoded`` quotes the Root without the encoder: every Root a header gives (by its shape or by the
    regexes, bytes or text) is None or needs no escape."""
    roots = set()
    for raw in [*_header_variants(), 'Root=1-5759e988-bd862e3fe1be46a994272793"\\é;Parent=53995c3f42cd8ad8;Sampled=1']:
        roots.add(xray.parse_header(raw).root)
        roots.add(xray._trace_of(raw.encode("utf-8", "surrogateescape")).root)
    assert None in roots and len(roots) > 2
    for root in roots - {None}:
        assert xray_documents.json_string(root) == f'"{root}"', root


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
    elif rng.random() < 0.8:  # the handler's own, with their text
        cold, extras, restored = (rng.random() < 0.5 for _ in range(3))
        service = rng.choice(["svc", 'svc \u00e9 \x7f"'])
        annotations, text = coldstart._written(cold, service, extras, rng.choice(["on-demand", "snap-start"]), restored)
        shared = annotations.copy()
        span.annotate_all(annotations, text)  # shared with other invocations (handler_annotations): never written
        if rng.random() < 0.3:  # a user's annotation, or one of the handler's written again: its text no longer holds
            span.annotate(rng.choice(["ColdStart", "Service", "user"]), rng.choice([0, 1, 1.0, -0.0, "x", False]))
        if rng.random() < 0.2:
            span.annotate_all({"more": 1})
        assert annotations == shared
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


def test_span_ids_are_drawn_ahead_and_forgotten_after_a_restore_and_in_a_forked_child(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One ``os.urandom`` call draws the ids of 64 spans; a restored sandbox and a forked child draw their own."""
    drawn: list[int] = []
    urandom = os.urandom
    monkeypatch.setattr(os, "urandom", lambda n: drawn.append(n) or urandom(n))
    xray_documents.ids.clear()
    trace = xray.Trace(root="1-5759e988-bd862e3fe1be46a994272793", parent="53995c3f42cd8ad8", sampled="1", data={})
    ids = [xray.XRaySpan("## s", trace, "53995c3f42cd8ad8").id for _ in range(130)]
    assert drawn == [512, 512, 512]
    assert len(set(ids)) == 130 and all(re.fullmatch("[0-9a-f]{16}", span_id) for span_id in ids)
    assert len(xray_documents.ids) == 3 * 64 - 130
    coldstart.restored()  # a SnapStart restore: the hooks run
    coldstart.reset()
    assert xray_documents.ids == []
    xray.XRaySpan("## s", trace, "53995c3f42cd8ad8")
    assert len(xray_documents.ids) == 63
    child = in_forked_child(lambda: b"%d" % len(xray_documents.ids))
    assert child == b"0" and len(xray_documents.ids) == 63  # the parent's are its own still
