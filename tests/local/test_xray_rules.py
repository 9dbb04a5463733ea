"""The checker of X-Ray's document rules (lambda_tracer_local.xray_rules), on hand-built datagrams and documents.

For every rule id: at least one example that keeps it and one that breaks it, so each check can fail. Every
test also holds the checker to moto's X-Ray model (rule M1): whatever moto refuses, the checker refuses too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pytest

import lambda_env
from lambda_tracer_local import xray_rules
from lambda_tracer_local.xray_rules import (
    check_datagram,
    check_document,
    check_invocation,
    check_trace,
    errors,
    trace_header,
)

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"
HEADER = f"Root={ROOT};Parent={PARENT};Sampled=1"
START = 1_700_000_000.25
DROP = object()
"""A ``doc(...)`` value: leave that field out."""


def doc(**fields: Any) -> dict[str, Any]:
    """A valid independently sent subsegment of the invocation ``HEADER``, with ``fields`` changed."""
    document: dict[str, Any] = {
        "type": "subsegment",
        "id": "70de5b6f19ff9a0b",
        "name": "## handler",
        "start_time": START,
        "end_time": START + 0.5,
        "trace_id": ROOT,
        "parent_id": PARENT,
        "namespace": "local",
    }
    document.update(fields)
    return {key: value for key, value in document.items() if value is not DROP}


def segment(**fields: Any) -> dict[str, Any]:
    """A valid segment (no ``type``)."""
    return doc(**{"type": DROP, "parent_id": DROP, "namespace": DROP, **fields})


def child(**fields: Any) -> dict[str, Any]:
    """A valid embedded subsegment: no trace_id, type or parent_id needed."""
    return doc(**{"type": DROP, "trace_id": DROP, "parent_id": DROP, "id": "0f910026178b71eb", **fields})


def exception(**fields: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": "a1b2c3d4e5f60718",
        "type": "ValueError",
        "message": "card declined",
        "remote": False,
        "stack": [{"path": "app.py", "line": 3, "label": "handler"}],
    }
    found.update(fields)
    return {key: value for key, value in found.items() if value is not DROP}


def datagram(document: Any, header: bytes = xray_rules.HEADER_LINE) -> bytes:
    return header + json.dumps(document, separators=(",", ":")).encode()


def padded(total: int) -> bytes:
    """A valid datagram of exactly ``total`` bytes (metadata makes up the size)."""
    empty = len(datagram(doc(metadata={"pad": {"x": ""}})))
    return datagram(doc(metadata={"pad": {"x": "a" * (total - empty)}}))


def rules(violations: Sequence[xray_rules.Violation]) -> set[str]:
    return {found.rule for found in violations}


def invocation(documents: Sequence[Mapping[str, Any]], **options: Any) -> set[str]:
    fields = {"root": ROOT, "parent": PARENT, "sampled": True, **options}
    return rules(check_invocation(documents, **fields))


# -- the baseline: what a well-behaved tracer sends is clean ------------------------------------------------------

FAULTED = doc(
    fault=True,
    cause={"working_directory": "/var/task", "paths": [], "exceptions": [exception()]},
    annotations={"ColdStart": True, "Service": "payment", "n": 3, "ratio": 0.5},
    metadata={"payment": {"handler error": {"type": "ValueError"}}},
    subsegments=[child(namespace="remote", http={"request": {"method": "GET", "url": "https://x"}})],
)
VALID_DOCUMENTS = [
    doc(),
    doc(end_time=DROP, in_progress=True),
    doc(in_progress=False),
    FAULTED,
    segment(service={"version": "1"}, user="ann", origin="AWS::EC2::Instance", resource_arn="arn:aws:x"),
    doc(
        id="0e58d2918e9038e8",
        name="DynamoDB",
        namespace="aws",
        http={"response": {"status": 200, "content_length": 60}},
        aws={"operation": "UpdateItem", "table_name": "t", "request_id": "R", "retries": 0, "resource_names": ["t"]},
        sql={"url": "postgresql://db/x", "sanitized_query": "SELECT 1"},
        precursor_ids=["0f910026178b71eb"],
        traced=False,
    ),
]


@pytest.mark.parametrize("document", VALID_DOCUMENTS)
def test_valid_documents_break_no_rule(document: dict[str, Any]) -> None:
    assert check_document(document) == []
    assert check_datagram(datagram(document)) == []


def test_a_clean_invocation_breaks_no_rule() -> None:
    inner = doc(id="1111111111111111", parent_id="70de5b6f19ff9a0b", start_time=START + 0.1, end_time=START + 0.2)
    outer_progress = doc(end_time=DROP, in_progress=True)
    datagrams = [datagram(document) for document in (outer_progress, inner, FAULTED | {"id": "2222222222222222"})]
    datagrams.append(datagram(doc()))
    violations, documents = check_trace(datagrams, HEADER)
    assert violations == [] and len(documents) == 4


# -- one datagram ------------------------------------------------------------------------------------------------

DATAGRAM_CASES = [
    # (rule, keeps it, breaks it)
    ("D1", padded(65_507), padded(65_508)),
    ("D1w", padded(64_000 + len(xray_rules.HEADER_LINE)), padded(64_001 + len(xray_rules.HEADER_LINE))),
    ("D2", datagram(doc()), datagram(doc(), header=b'{"format": "json", "version": 1}\n')),
    ("D2", datagram(doc()), datagram(doc(), header=b'{"format":"json","version":2}\n')),
    ("D2", datagram(doc()), json.dumps(doc()).encode()),
    ("D3", datagram(doc(name="## naïve 名前")), datagram(doc()).replace(b'"## handler"', b'"## handler\xff"')),
    ("D3", datagram(doc(annotations={"x": 1.5})), datagram(doc(annotations={"x": float("nan")}))),
    ("D3", datagram(doc()), datagram(doc(annotations={"x": float("inf")}))),
    ("D3", datagram(doc()), datagram(doc(annotations={"x": float("-inf")}))),
    ("D3", datagram(doc()), datagram(doc()).replace(b'"end_time":', b'"huge":1e999,"end_time":')),
    ("D3", datagram(doc()), datagram([doc()])),
    ("D3", datagram(doc()), datagram(doc())[:-1]),
    ("D3", datagram(doc()), xray_rules.HEADER_LINE + json.dumps(doc()).encode("utf-16")),
]


@pytest.mark.parametrize(("rule", "keeps", "breaks"), DATAGRAM_CASES, ids=[c[0] for c in DATAGRAM_CASES])
def test_datagram_rules(rule: str, keeps: bytes, breaks: bytes) -> None:
    assert rule not in rules(check_datagram(keeps))
    found = check_datagram(breaks)
    assert rule in rules(found), found
    assert [v.level for v in found if v.rule == rule] == [xray_rules.LEVELS[rule]] * len(
        [v for v in found if v.rule == rule]
    )


def test_exactly_the_size_limits() -> None:
    assert len(padded(65_507)) == 65_507 and len(padded(65_508)) == 65_508


# -- one document ------------------------------------------------------------------------------------------------

LONG_KEY, TOO_LONG_KEY = "k" * 500, "k" * 501
DOCUMENT_CASES = [
    # (rule, keeps it, breaks it)
    ("F1", doc(subsegments=[child()]), doc(name=DROP)),
    ("F1", doc(), doc(id=DROP)),
    ("F1", doc(), doc(start_time=DROP)),
    ("F1", doc(subsegments=[child()]), doc(trace_id=DROP)),
    ("F1", doc(end_time=DROP, in_progress=True), doc(end_time=DROP)),
    ("F1", doc(subsegments=[child()]), doc(subsegments=[child(end_time=DROP)])),
    ("F2", doc(), doc(type="segment")),
    ("F2", doc(), doc(parent_id=DROP)),
    ("F2", doc(), doc(trace_id=DROP)),
    # Uppercase hex is accepted: see xray_rules' docstring.
    ("F3", doc(id="70DE5B6F19FF9A0B"), doc(id="70de5b6f19ff9a0")),
    ("F3", doc(), doc(id="70de5b6f19ff9a0g")),
    ("F3", doc(), doc(parent_id=0x53995C3F42CD8AD8)),
    ("F3", doc(subsegments=[child()]), doc(subsegments=[child(id="x")])),
    ("F4", doc(trace_id=ROOT.upper()), doc(trace_id=ROOT[:-1])),
    ("F4", doc(), doc(trace_id="2" + ROOT[1:])),
    ("F4", doc(), doc(trace_id=ROOT + "0")),
    ("F4", doc(), doc(trace_id=None)),
    ("F5", doc(start_time=1_700_000_000, end_time=1_700_000_001), doc(start_time=str(START))),
    ("F5", doc(), doc(start_time=START * 1000, end_time=START * 1000 + 1)),
    ("F5", doc(start_time=946_684_800), doc(start_time=946_684_799.9)),
    ("F5", doc(end_time=START), doc(end_time=START - 0.001)),
    ("F5", doc(), doc(end_time=True)),
    ("F6", doc(end_time=DROP, in_progress=True), doc(in_progress=True)),
    ("F6", doc(in_progress=False), doc(end_time=DROP, in_progress=False)),
    ("F7", doc(name="n" * 250), doc(name="n" * 251)),
    ("F7", segment(name="n" * 200), segment(name="n" * 201)),
    ("F7", doc(), doc(name="")),
    ("F7", doc(), doc(name=7)),
    ("F7", doc(name="## app.handler"), doc(name="## <lambda>")),
    ("F7", doc(), doc(name="a?b")),
    ("F7w", doc(name="Ünïcødé 名前 _.:/%&#=+\\-@ 3"), doc(name="## handler, again")),
    ("F7w", doc(), doc(name="[x]")),
    ("F8", doc(namespace="remote"), doc(namespace="custom")),
    ("F8", doc(namespace="aws"), doc(namespace=None)),
    ("F9", doc(error=True, fault=False, throttle=False), doc(error="true")),
    ("F9", doc(), doc(fault=1)),
    ("F9", doc(end_time=DROP, in_progress=True), doc(end_time=DROP, in_progress="true")),
    ("F10", doc(annotations={LONG_KEY: 1, "A_b9": True, "f": 1.5, "s": "x"}), doc(annotations={TOO_LONG_KEY: 1})),
    ("F10", doc(), doc(annotations={"bad key": 1})),
    ("F10", doc(), doc(annotations={"": 1})),
    ("F10", doc(), doc(annotations={"ключ": 1})),
    ("F10", doc(), doc(annotations={"k\n": 1})),
    ("F10", doc(), doc(annotations={"k": None})),
    ("F10", doc(), doc(annotations={"k": [1]})),
    ("F10", doc(), doc(annotations={"k": {"a": 1}})),
    ("F10", doc(), doc(annotations={"k": float("nan")})),
    ("F10", doc(), doc(annotations=[["k", 1]])),
    ("F10b", doc(annotations={"k": "v" * 1000}), doc(annotations={"k": "v" * 1001})),
    ("F11", doc(metadata={"default": {"k": [1, None]}, "aws": {}}), doc(metadata=[{"default": {}}])),
    ("F11", doc(), doc(metadata={"default": "text"})),
    ("F11", doc(metadata={"AWSx": {}}), doc(metadata={"AWS.SDK": {}})),
    ("F12", doc(http={"request": {"method": "GET", "traced": True}}), doc(http={"request": {"url": 5}})),
    ("F12", doc(http={"response": {"status": 200}}), doc(http={"response": {"status": "200"}})),
    ("F12", doc(http={"response": {"content_length": -1}}), doc(http={"response": {"content_length": None}})),
    ("F12", doc(), doc(http={"request": {"traced": "yes"}})),
    ("F12", doc(), doc(http={"request": {"x_forwarded_for": 1}})),
    ("F12", doc(), doc(http=[])),
    ("F12", doc(), doc(http={"request": "GET /"})),
    ("F12b", doc(http={"request": {"url": "u" * 250}}), doc(http={"request": {"url": "u" * 251}})),
    ("F12b", doc(http={"request": {"user_agent": "a" * 250}}), doc(http={"request": {"user_agent": "a" * 251}})),
    ("F13", doc(aws={"operation": "GetItem", "region": "eu-west-1"}), doc(aws={"operation": None})),
    ("F13", doc(aws={"request_id": "abc"}), doc(aws={"request_id": None})),
    ("F13", doc(), doc(aws="us-east-1")),
    ("F14", doc(fault=True, cause="a1b2c3d4e5f60718"), doc(fault=True, cause="a1b2c3d4")),
    ("F14", doc(fault=True, cause={"exceptions": [exception()]}), doc(fault=True, cause=5)),
    ("F14", doc(), doc(fault=True, cause={"paths": ["a", 1]})),
    ("F14", doc(), doc(fault=True, cause={"working_directory": None})),
    ("F14", doc(), doc(fault=True, cause={"exceptions": {"id": "a1b2c3d4e5f60718"}})),
    ("F15", doc(fault=True, cause={"exceptions": [{"id": "a1b2c3d4e5f60718"}]}), doc(cause={"exceptions": [{}]})),
    ("F15", doc(), doc(fault=True, cause={"exceptions": [exception(id="a1b2")]})),
    ("F15", doc(), doc(fault=True, cause={"exceptions": [exception(message=None)]})),
    ("F15", doc(), doc(fault=True, cause={"exceptions": [exception(remote="no")]})),
    (
        "F15",
        doc(fault=True, cause={"exceptions": [exception(truncated=2, skipped=0, cause="a1b2c3d4e5f60719")]}),
        doc(fault=True, cause={"exceptions": [exception(truncated="2")]}),
    ),
    ("F15", doc(), doc(fault=True, cause={"exceptions": [exception(skipped=1.0)]})),
    ("F15", doc(), doc(fault=True, cause={"exceptions": [exception(stack=[{"line": "3"}])]})),
    ("F15", doc(), doc(fault=True, cause={"exceptions": [exception(stack={"path": "app.py"})]})),
    ("F15", doc(), doc(fault=True, cause={"exceptions": ["ValueError"]})),
    ("F16", doc(subsegments=[], precursor_ids=[]), doc(subsegments={"id": "0f910026178b71eb"})),
    ("F16", doc(subsegments=[child()]), doc(subsegments=["0f910026178b71eb"])),
    ("F16", doc(precursor_ids=["0f910026178b71eb"]), doc(precursor_ids=["0f91"])),
    ("F16", doc(), doc(precursor_ids="0f910026178b71eb")),
    ("F17", doc(sql={"url": "x"}, traced=True), doc(sampled=True)),
    ("F17", doc(), doc(parent_segment={"id": PARENT})),
    ("F17", segment(service={"version": "1"}), segment(namespace="local")),
    ("F17", doc(), doc(origin="AWS::Lambda")),
    ("F17", doc(subsegments=[child()]), doc(subsegments=[child(inferred=True)])),
    ("E1", doc(fault=True, http={"response": {"status": 502}}), doc(http={"response": {"status": 502}})),
    ("E1", doc(error=True, http={"response": {"status": 404}}), doc(http={"response": {"status": 404}})),
    (
        "E1",
        doc(error=True, throttle=True, http={"response": {"status": 429}}),
        doc(error=True, http={"response": {"status": 429}}),
    ),
    (
        "E1",
        doc(error=True, fault=True, cause={"exceptions": [exception()]}, http={"response": {"status": 403}}),
        doc(error=True, fault=True, http={"response": {"status": 403}}),
    ),
    ("E2", doc(error=True, cause={"exceptions": [exception()]}), doc(cause={"exceptions": [exception()]})),
    ("E2", doc(throttle=True, cause="a1b2c3d4e5f60718"), doc(error=False, cause="a1b2c3d4e5f60718")),
    (
        "E3",
        doc(fault=True, cause={"exceptions": [exception()]}),
        doc(fault=True, cause={"exceptions": [exception(stack=[])]}),
    ),
    ("E3", doc(), doc(fault=True, cause={"exceptions": [exception(message=DROP)]})),
    ("E3", doc(), doc(fault=True, cause={"exceptions": [exception(type=DROP)]})),
]


@pytest.mark.parametrize(("rule", "keeps", "breaks"), DOCUMENT_CASES, ids=[c[0] for c in DOCUMENT_CASES])
def test_document_rules(rule: str, keeps: dict[str, Any], breaks: dict[str, Any]) -> None:
    assert rule not in rules(check_document(keeps)), check_document(keeps)
    found = [v for v in check_document(breaks) if v.rule == rule]
    assert found and {v.level for v in found} == {xray_rules.LEVELS[rule]}


def test_embedded_subsegments_are_checked_where_they_are() -> None:
    found = check_document(doc(subsegments=[child(), child(subsegments=[child(annotations={"bad key": 1})])]))
    assert [(v.rule, v.path) for v in found] == [("F10", "$.subsegments[1].subsegments[0].annotations.bad key")]


def test_a_document_that_is_not_an_object() -> None:
    assert rules(check_document([doc()])) == {"D3"}  # type: ignore[arg-type]


def _chain(levels: int) -> dict[str, Any]:
    """``doc()`` with ``levels`` embedded subsegments, each the only child of the one before."""
    top = doc()
    node = top
    for level in range(1, levels + 1):
        node["subsegments"] = [child(id=f"{level:016x}")]
        node = node["subsegments"][0]
    return top


def test_json_nested_deeper_than_a_reader_goes_is_a_verdict_not_a_crash() -> None:
    """A datagram nesting 30,000 levels (two bytes a level fit in a datagram) or 3,500 embedded subsegments raised
    RecursionError out of the checker. It is refused (D3), as JSON no reader takes, and no document is read from it."""
    deep_metadata = datagram(doc(metadata={"pad": {"x": None}})).replace(b"null", b"[" * 30_000 + b"]" * 30_000)
    text = json.dumps(doc(), separators=(",", ":"))[:-1] + ',"subsegments":' + '[{"subsegments":' * 3_500 + "[]"
    deep_children = xray_rules.HEADER_LINE + (text + "}]" * 3_500 + "}").encode()  # 7,000 levels
    for data in (deep_metadata, deep_children):
        assert len(data) < xray_rules.MAX_DATAGRAM_BYTES
        found = check_datagram(data)
        assert [(v.rule, v.path) for v in found] == [("D3", "$")] and "nested deeper" in found[0].message
        violations, documents = check_trace([data], HEADER)
        assert rules(violations) == {"D3"} and documents == []


def test_subsegments_embedded_however_deep_are_checked_without_recursion() -> None:
    """Embedded subsegments were checked by recursion: a chain of a few hundred (as deep as a datagram's JSON
    goes) raised RecursionError. They are walked with a stack: a valid chain read from a datagram passes; one built
    in memory deeper than any JSON document nests is reported where the walk stops (F16), not walked further."""
    parsed = _chain(450)
    assert check_document(parsed) == [] and check_trace([datagram(parsed)], HEADER)[0] == []
    assert len(xray_rules.ids_of([parsed])) == 451
    deepest = _chain(450)
    node = deepest
    while "subsegments" in node:
        node = node["subsegments"][0]
    node["annotations"] = {"bad key": 1}
    [found] = check_document(deepest)
    assert (found.rule, found.path) == ("F10", "$" + ".subsegments[0]" * 450 + ".annotations.bad key")
    built = _chain(30_000)
    [found] = check_document(built)
    limit = xray_rules.MAX_EMBEDDED_DEPTH
    assert (found.rule, found.path) == ("F16", "$" + ".subsegments[0]" * (limit + 1))
    assert invocation([built]) == set() and len(xray_rules.ids_of([built])) == limit + 1
    report = xray_rules.describe([replace(found, path="documents[0]" + found.path[1:])], [built])
    assert report.startswith("F16 [error] documents[0].subsegments[0]") and "documents[0] = " in report


# -- the documents of one invocation ------------------------------------------------------------------------------

OTHER = "1111111111111111"
EXCEPTION_ID = "a1b2c3d4e5f60718"
FIFTY = {f"k{n}": n for n in range(50)}
INVOCATION_CASES = [
    # (rule, keeps it, breaks it); extra options of check_invocation in a dict at the end
    ("X1", [doc()], [doc(trace_id="1-5759e988-bd862e3fe1be46a994272794")], {}),
    (
        "X1",
        [doc(subsegments=[child()])],
        [doc(subsegments=[child(trace_id="1-5759e988-bd862e3fe1be46a99427279f")])],
        {},
    ),
    ("X2", [doc(), doc(id=OTHER, parent_id="70de5b6f19ff9a0b")], [doc(id=OTHER, parent_id="70de5b6f19ff9a0c")], {}),
    ("X2", [doc(subsegments=[child(parent_id="70de5b6f19ff9a0b")])], [doc(parent_id="70de5b6f19ff9a0b")], {}),
    ("X3", [doc(end_time=DROP, in_progress=True), doc()], [doc(id=PARENT)], {}),
    ("X3", [doc(), doc(id=OTHER, name="other")], [doc(), doc(name="other")], {}),
    ("X3", [doc(), doc(id=OTHER, start_time=START + 0.1)], [doc(), doc(start_time=START + 0.1)], {}),
    ("X3", [doc(id=OTHER)], [doc()], {"earlier_ids": {"70de5b6f19ff9a0b"}}),
    ("X4", [doc(end_time=DROP, in_progress=True), doc()], [doc(), doc()], {}),
    ("X4", [doc()], [doc(subsegments=[child()]), doc(id=child()["id"], parent_id="70de5b6f19ff9a0b")], {}),
    ("X4", [doc()], [doc(end_time=DROP, in_progress=True), doc(end_time=DROP, in_progress=True), doc()], {}),
    ("X5", [doc(end_time=DROP, in_progress=True), doc()], [doc(end_time=DROP, in_progress=True)], {}),
    ("X5", [doc(subsegments=[child()])], [doc(subsegments=[child(end_time=DROP, in_progress=True)])], {}),
    (
        "X6",
        [doc(subsegments=[child(start_time=START, end_time=START + 0.5)])],
        [doc(subsegments=[child(start_time=START - 0.1)])],
        {},
    ),
    (
        "X6",
        [doc(), doc(id=OTHER, parent_id="70de5b6f19ff9a0b", end_time=START + 0.5)],
        [doc(), doc(id=OTHER, parent_id="70de5b6f19ff9a0b", end_time=START + 0.6)],
        {},
    ),
    ("X7", [], [doc()], {"sampled": False}),
    ("X7", [], [doc()], {"parent": ""}),
    ("X7", [], [doc()], {"root": ""}),
    (
        "X8",
        [doc(fault=True, cause={"exceptions": [exception(id=EXCEPTION_ID)]}), doc(id=OTHER, cause=EXCEPTION_ID)],
        [doc(id=OTHER, fault=True, cause=EXCEPTION_ID)],
        {},
    ),
    (
        "F10w",
        [doc(end_time=DROP, in_progress=True, annotations=FIFTY), doc(annotations=FIFTY)],
        [doc(annotations=FIFTY), doc(id=OTHER, annotations={"k0": 1})],
        {},
    ),
    ("F2", [doc()], [segment()], {}),
]


@pytest.mark.parametrize(("rule", "keeps", "breaks", "options"), INVOCATION_CASES, ids=[c[0] for c in INVOCATION_CASES])
def test_invocation_rules(
    rule: str, keeps: list[dict[str, Any]], breaks: list[dict[str, Any]], options: dict[str, Any]
) -> None:
    assert rule not in invocation(keeps, **options), check_invocation(keeps, ROOT, PARENT, True)
    assert rule in invocation(breaks, **options)
    assert {
        v.level
        for v in check_invocation(breaks, **{"root": ROOT, "parent": PARENT, "sampled": True, **options})
        if v.rule == rule
    } == {xray_rules.LEVELS[rule]}


def test_the_invocation_rules_of_an_unsampled_invocation_are_only_x7() -> None:
    assert invocation([doc(trace_id="nope", parent_id="nope")], sampled=False) == {"X7"}


# -- whole invocations, the trace header, the helpers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (HEADER, (ROOT, PARENT, True)),
        (f"Root={ROOT};Parent={PARENT};Sampled=0", (ROOT, PARENT, False)),
        (f"Root={ROOT}; Parent={PARENT}; Sampled=1;Lineage=1:a:0", (ROOT, PARENT, True)),
        (f"Root={ROOT}x;Parent={PARENT};Sampled=1", ("", PARENT, True)),
        (f"Root={ROOT};Sampled=1", (ROOT, "", True)),
        ("garbage;;=", ("", "", False)),
        (None, ("", "", False)),
    ],
)
def test_trace_header(header: str | None, expected: tuple[str, str, bool]) -> None:
    fields = trace_header(header)
    assert (fields.root, fields.parent, fields.sampled) == expected


def test_check_trace_names_datagrams_and_documents() -> None:
    datagrams = [b"not a datagram", datagram(doc(name="")), datagram(doc(id=OTHER, parent_id="0000000000000000"))]
    violations, documents = check_trace(datagrams, HEADER)
    assert [(v.rule, v.path) for v in violations] == [
        ("D2", "datagrams[0]"),
        ("F7", "documents[0].name"),
        ("X2", "documents[1].parent_id"),
    ]
    assert len(documents) == 2
    report = xray_rules.describe(errors(violations), documents)
    assert (
        report.splitlines()[0]
        == "D2 [error] datagrams[0]: does not start with the header line "
        + repr(xray_rules.HEADER_LINE)
        + ": b'not a datagram'"
    )
    assert '"name":""' in report and "documents[1] = " in report


def test_check_trace_without_a_known_header_skips_the_invocation_rules() -> None:
    violations, _ = check_trace([datagram(doc(trace_id="1-5759e988-bd862e3fe1be46a994272794"))], None, invocation=False)
    assert violations == []
    violations, _ = check_trace([datagram(doc())], None)
    assert rules(violations) == {"X7"}


def test_errors_keeps_error_level_only() -> None:
    found = check_document(doc(name="a,b", annotations={"k": None}))
    assert rules(found) == {"F7w", "F10"} and rules(errors(found)) == {"F10"}


def test_ids_of_includes_embedded_subsegments() -> None:
    assert xray_rules.ids_of([doc(subsegments=[child()]), {"no": "id"}]) == {"70de5b6f19ff9a0b", "0f910026178b71eb"}


def test_every_rule_has_a_level_and_an_example() -> None:
    assert set(xray_rules.ERROR_RULES).isdisjoint(xray_rules.WARN_RULES)
    examples = {c[0] for c in DATAGRAM_CASES + DOCUMENT_CASES + INVOCATION_CASES}
    assert examples == set(xray_rules.LEVELS)


# -- M1: moto's X-Ray model refuses nothing that the checker lets through ----------------------------------------

MOTO_SCRIPT = """
import json, sys
from moto.xray.exceptions import BadSegmentException
from moto.xray.models import XRayBackend

verdicts = []
for body in json.load(sys.stdin):
    try:
        XRayBackend("us-east-1", "123456789012").process_segment(body)
        verdicts.append(True)
    except BadSegmentException:
        verdicts.append(False)
print(json.dumps(verdicts))
"""


def test_moto_refuses_only_what_the_checker_refuses() -> None:
    """M1: moto (a reference implementation of PutTraceSegments) in a subprocess, so that it does not import
    aws_xray_sdk into this process. Every document it refuses breaks an error-level rule here."""
    corpus = [*VALID_DOCUMENTS, *(breaks for _, _, breaks in DOCUMENT_CASES)]
    corpus += [doc(in_progress="false", end_time=DROP), doc(start_time="soon"), doc(trace_id=5)]
    bodies = [json.dumps(document) for document in corpus]
    done = subprocess.run(
        [sys.executable, "-c", MOTO_SCRIPT], input=json.dumps(bodies), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    verdicts = json.loads(done.stdout)
    refused = [document for document, accepted in zip(corpus, verdicts, strict=True) if not accepted]
    assert refused, "moto refused nothing: the corpus does not exercise M1"
    assert [document for document in refused if not errors(check_document(document))] == []
    assert all(verdicts[: len(VALID_DOCUMENTS)])


# -- the hooks: what the tests' invocations send is checked ----------------------------------------------------------

BAD_DATAGRAM = xray_rules.HEADER_LINE + b'{"name":"## handler","metadata":{"m":{"x":NaN}}}'


def _send(data: bytes) -> None:
    import socket

    host, port = lambda_env.install().address.rsplit(":", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(data, (host, int(port)))


def test_invoke_fails_on_what_x_ray_would_reject_unless_told_not_to_check() -> None:
    def handler(event: Any, context: Any) -> str:
        _send(BAD_DATAGRAM)
        return "ok"

    with pytest.raises(AssertionError, match=r"(?s)X-Ray would reject.*D3 \[error\] datagrams\[0\]: not strict JSON"):
        lambda_env.invoke(handler, expect=0)
    assert lambda_env.invoke(handler, expect=0, check_rules=False).result == "ok"


def test_datagrams_sent_outside_invoke_are_checked_too() -> None:
    daemon = lambda_env.install()
    first = len(daemon.datagrams())
    _send(BAD_DATAGRAM)
    with pytest.raises(AssertionError, match=r"D3 \[error\]"):
        lambda_env.assert_other_datagrams_follow_xray_rules(first)
    lambda_env._INVOKED.update(range(first, len(daemon.datagrams())))  # checked: the teardown check skips it
