"""Write invocations' X-Ray documents as one self-contained HTML page: a timeline per invocation.

OTLP spans (the daemon shows each as a document with an ``otlp`` entry, otlp.py) are drawn the same way, their
kind beside the name and their attributes in the side panel.

Each invocation is drawn like the X-Ray console's trace view: one row per subsegment, nested by
``parent_id`` (streamed documents) and by ``subsegments`` arrays (inline children), each with a bar
placed on a time axis that starts at the invocation's earliest ``start_time``. Faults are red, errors
orange, throttles purple. A click on a row shows its annotations, metadata, exceptions (type, message,
stack) and raw document in a side panel.

The page needs nothing from the network: CSS and JavaScript are inline, pinned by a Content Security
Policy that allows only those two blocks (by hash) and no connection at all. Document values come from
traced functions, so they are untrusted: the documents travel as JSON in a non-executable
``<script type="application/json">`` block with ``<``, ``>``, ``&`` and U+2028/2029 escaped, and the
script puts them on the page with ``textContent`` only.

    write_page("trace.html", [invocation_entry(inv, "invocation 1")], title="my-function")
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runtime import Invocation

#: Longest outcome (response payload or error) shown in an invocation's header line.
OUTCOME_WIDTH = 200
FLAGS = ("fault", "throttle", "error")  # by precedence: a throttle is also an error


def invocation_entry(inv: Invocation, label: str) -> dict[str, Any]:
    """What the page shows of one invocation: a label, what the caller got, and the trace's documents."""
    if inv.status == "response":
        payload = inv.payload.decode("utf-8", "replace") if isinstance(inv.payload, bytes) else inv.payload
        outcome = _compact(payload, OUTCOME_WIDTH)
    else:
        outcome = f"{inv.error_type or inv.status}: {inv.error_message or ''}".rstrip(": ")
    return {
        "label": label,
        "status": inv.status,
        "trace_id": inv.trace_id,
        "request_id": inv.request_id,
        "round_trip_ms": inv.round_trip_ms,
        "outcome": outcome,
        "documents": list(inv.documents),
    }


def timeline(documents: Iterable[Any]) -> dict[str, Any]:
    """The rows of one trace in display order (depth first, siblings by start time) with time offsets.

    Streamed subsegments are linked to their parent by ``parent_id``, inline ones by the array that
    holds them; a subsegment whose parent was not sent (the facade segment) is a root. Nothing is lost:
    a document whose parent chain loops is shown as a root too, and a duplicate id is shown once.
    """
    nodes = _flatten(documents)
    ids = {node["id"] for node in nodes if node["id"] is not None}
    children: dict[str, list[dict[str, Any]]] = {}
    roots: list[dict[str, Any]] = []
    for node in nodes:
        parent = node["parent"]
        if parent is not None and parent in ids and parent != node["id"]:
            children.setdefault(parent, []).append(node)
        else:
            roots.append(node)

    starts = [node["start"] for node in nodes if node["start"] is not None]
    origin = min(starts) if starts else None
    ends = [value for node in nodes for value in (node["start"], node["end"]) if value is not None]
    total_ms = (max(ends) - origin) * 1000 if origin is not None and ends else 0.0
    exceptions = _exceptions_by_id(nodes)

    ordered: list[tuple[dict[str, Any], int]] = []
    visited: set[int] = set()

    def order(key: dict[str, Any]) -> tuple[bool, float, int]:
        return (key["start"] is None, key["start"] or 0.0, key["index"])

    pending = sorted(roots, key=order)
    while True:
        stack = [(node, 0) for node in reversed(pending)]
        while stack:
            node, depth = stack.pop()
            if node["index"] in visited:
                continue
            visited.add(node["index"])
            ordered.append((node, depth))
            kids = sorted(children.get(node["id"] or "", []) if node["id"] is not None else [], key=order)
            stack.extend((kid, depth + 1) for kid in reversed(kids))
        left = sorted((node for node in nodes if node["index"] not in visited), key=order)
        if not left:
            break
        pending = left[:1]  # a loop of parent ids: show its earliest member as a root and go on

    spans = [_span(node, depth, origin, exceptions) for node, depth in ordered]
    return {"origin": origin, "total_ms": total_ms, "spans": spans}


def build_page(entries: Sequence[Mapping[str, Any]], title: str = "lambda-tracer traces") -> str:
    """The whole page as a string; ``entries`` as made by :func:`invocation_entry`."""
    invocations = []
    for number, entry in enumerate(entries, 1):
        trace = timeline(entry.get("documents") or [])
        invocations.append(
            {
                "label": str(entry.get("label") or f"invocation {number}"),
                "status": str(entry.get("status") or ""),
                "trace_id": _text(entry.get("trace_id")),
                "request_id": _text(entry.get("request_id")),
                "round_trip_ms": _number(entry.get("round_trip_ms")),
                "outcome": _text(entry.get("outcome")),
                **trace,
            }
        )
    data = embed_json({"title": title, "invocations": invocations})
    return PAGE.format(
        title=html.escape(title),
        csp=(
            "default-src 'none'; "
            f"script-src '{_sha256(SCRIPT)}'; style-src '{_sha256(STYLE)}'; "
            "img-src data:; base-uri 'none'; form-action 'none'"
        ),
        style=STYLE,
        data=data,
        script=SCRIPT,
    )


def write_page(path: str | Path, entries: Sequence[Mapping[str, Any]], title: str = "lambda-tracer traces") -> Path:
    """Write :func:`build_page` to ``path`` (parent directories made) and return it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(build_page(entries, title), encoding="utf-8")
    return target


def embed_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``</script>``, ``<!--`` or line separators.

    ASCII only (so U+2028/2029 and lone surrogates come out as ``\\uXXXX``), with ``<``, ``>`` and ``&``
    escaped the same way; NaN and infinities, which ``JSON.parse`` refuses, become strings.
    """
    text = json.dumps(_finite(value), ensure_ascii=True, allow_nan=False, default=str, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# ---------------------------------------------------------------- documents -> rows


def _flatten(documents: Iterable[Any]) -> list[dict[str, Any]]:
    """Every subsegment once (first copy of an id wins), inline children given their holder's id."""
    nodes: list[dict[str, Any]] = []
    seen: set[str] = set()
    stack: list[tuple[Any, str | None]] = [(doc, None) for doc in reversed(list(documents))]
    while stack:
        doc, holder = stack.pop()
        if not isinstance(doc, dict):
            continue
        ident = _text(doc.get("id")) or None
        if ident is not None and ident in seen:
            continue
        if ident is not None:
            seen.add(ident)
        nodes.append(
            {
                "index": len(nodes),
                "id": ident,
                "parent": _text(doc.get("parent_id")) or holder,
                "start": _number(doc.get("start_time")),
                "end": _number(doc.get("end_time")),
                "doc": {key: value for key, value in doc.items() if key != "subsegments"},
            }
        )
        inline = doc.get("subsegments")
        if isinstance(inline, list):
            stack.extend((child, ident) for child in reversed(inline))
    return nodes


def _exceptions_by_id(nodes: list[dict[str, Any]]) -> dict[str, tuple[dict[str, Any], str]]:
    """Exception id -> (exception, name of the subsegment that recorded it): a parent's ``cause`` is often
    only the id of an exception its child recorded."""
    found: dict[str, tuple[dict[str, Any], str]] = {}
    for node in nodes:
        cause = node["doc"].get("cause")
        if isinstance(cause, dict) and isinstance(cause.get("exceptions"), list):
            for exc in cause["exceptions"]:
                ident = _text(exc.get("id")) if isinstance(exc, dict) else ""
                if ident:
                    found.setdefault(ident, (exc, _text(node["doc"].get("name", "?"))))
    return found


def _span(
    node: dict[str, Any], depth: int, origin: float | None, exceptions: dict[str, tuple[dict[str, Any], str]]
) -> dict[str, Any]:
    doc = node["doc"]
    start, end = node["start"], node["end"]
    status = next((flag for flag in FLAGS if doc.get(flag) is True), "ok")
    return {
        "id": node["id"],
        "parent": node["parent"],
        "depth": depth,
        "name": _text(doc.get("name", "?")),
        "namespace": _text(doc.get("namespace")),
        #: An OTLP span's kind (SERVER, CLIENT, INTERNAL); empty for an X-Ray document.
        "kind": _text(doc["otlp"].get("kind")) if isinstance(doc.get("otlp"), dict) else "",
        "status": status,
        "in_progress": doc.get("in_progress") is True or (start is not None and end is None),
        "offset_ms": (start - origin) * 1000 if start is not None and origin is not None else None,
        "duration_ms": (end - start) * 1000 if start is not None and end is not None and end >= start else None,
        "exceptions": _exceptions(doc.get("cause"), exceptions),
        "document": doc,
    }


def _exceptions(cause: Any, known: dict[str, tuple[dict[str, Any], str]]) -> list[dict[str, Any]]:
    """``cause`` as a list of exceptions ready to print; one recorded elsewhere says where (``in``)."""
    if isinstance(cause, str):
        if cause in known:
            exc, owner = known[cause]
            return [{**_exception(exc), "in": owner}]
        return [{"type": "", "message": f"exception {cause} (recorded in a document that was not received)"}]
    if not isinstance(cause, dict) or not isinstance(cause.get("exceptions"), list):
        return []
    return [_exception(exc) for exc in cause["exceptions"] if isinstance(exc, dict)]


def _exception(exc: dict[str, Any]) -> dict[str, Any]:
    stack = exc.get("stack")
    frames: list[str] = []
    if not isinstance(stack, list):
        stack = []
    for frame in stack:
        if isinstance(frame, dict):
            where = _text(frame.get("path"))
            if frame.get("line") is not None:
                where += f":{_text(frame.get('line'))}"
            frames.append(f"{_text(frame.get('label')) or '?'}  ({where})" if where else _text(frame.get("label")))
        else:
            frames.append(_text(frame))
    described: dict[str, Any] = {
        "id": _text(exc.get("id")),
        "type": _text(exc.get("type")),
        "message": _text(exc.get("message")),
        "remote": exc.get("remote") is True,
        "stack": frames,
    }
    for extra in ("truncated", "skipped"):
        if isinstance(exc.get(extra), int) and exc[extra]:
            described[extra] = exc[extra]
    return described


# ---------------------------------------------------------------- values


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else _compact(value, 10_000)


def _compact(value: Any, width: int) -> str:
    try:
        text = json.dumps(_finite(value), separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _finite(value: Any) -> Any:
    """A copy of ``value`` that ``JSON.parse`` can read: NaN and infinities as strings (iteratively, so a
    deeply nested document cannot exhaust the stack)."""
    if not isinstance(value, (dict, list, tuple, float)):
        return value
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while stack:
        item, holder, key = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            holder[key] = repr(item)
        elif isinstance(item, dict):
            copy: dict[str, Any] = {}
            holder[key] = copy
            for name, child in item.items():
                copy[name if isinstance(name, str) else str(name)] = None
                stack.append((child, copy, name if isinstance(name, str) else str(name)))
        elif isinstance(item, (list, tuple)):
            items: list[Any] = [None] * len(item)
            holder[key] = items
            stack.extend((child, items, index) for index, child in enumerate(item))
        else:
            holder[key] = item
    return root[0]


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


# ---------------------------------------------------------------- the page

#: The page's parts, package data beside this module: the HTML skeleton (a ``str.format`` template), its
#: stylesheet and its script. The CSP pins the last two by hash, so they are read once and used as they are.
_PAGE_DIR = Path(__file__).parent / "page"
PAGE = (_PAGE_DIR / "timeline.html").read_text(encoding="utf-8")
STYLE = (_PAGE_DIR / "timeline.css").read_text(encoding="utf-8")
SCRIPT = (_PAGE_DIR / "timeline.js").read_text(encoding="utf-8")
