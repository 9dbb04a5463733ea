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

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<header>
<h1 id="title">{title}</h1>
<ul class="legend" aria-label="Legend">
<li><span class="swatch ok"></span>OK</li>
<li><span class="swatch error"></span>Error (4xx)</li>
<li><span class="swatch fault"></span>Fault (5xx, exception)</li>
<li><span class="swatch throttle"></span>Throttle (429)</li>
<li><span class="swatch ok in-progress"></span>In progress</li>
</ul>
</header>
<div class="layout">
<main id="invocations"></main>
<aside id="details" aria-live="polite"><p class="hint">Click a subsegment to see its annotations, metadata and
exceptions.</p></aside>
</div>
<noscript>This page needs JavaScript to draw the timelines.</noscript>
<script type="application/json" id="trace-data">{data}</script>
<script>{script}</script>
</body>
</html>
"""

STYLE = """
:root {
  --ok: #3184c2; --error: #e07b00; --fault: #d13212; --throttle: #8a4fd6;
  --line: #e1e4e8; --muted: #5f6b7a; --ink: #16191f; --panel: #ffffff; --select: #e8f1fb;
}
* { box-sizing: border-box; }
body { margin: 0; background: #f2f3f3; color: var(--ink);
  font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 8px 24px; padding: 12px 16px 0; }
h1 { font-size: 18px; margin: 0; }
.legend { display: flex; flex-wrap: wrap; gap: 14px; list-style: none; margin: 0; padding: 0; color: var(--muted); }
.legend li { display: flex; align-items: center; gap: 6px; }
.swatch { display: inline-block; width: 18px; height: 10px; border-radius: 2px; }
.layout { display: grid; grid-template-columns: minmax(0, 1fr) minmax(300px, 34%); gap: 16px; padding: 12px 16px 16px;
  align-items: start; }
section.invocation { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; margin-bottom: 14px; }
section.invocation > h2 { font-size: 14px; margin: 0; padding: 10px 12px 2px; display: flex; gap: 8px;
  align-items: center; overflow-wrap: anywhere; }
.summary { margin: 0; padding: 0 12px 8px; color: var(--muted); overflow-wrap: anywhere; }
.badge { font-size: 11px; font-weight: 600; padding: 1px 7px; border-radius: 9px; color: #fff; background: #1d8102;
  white-space: nowrap; }
.badge.failed { background: var(--fault); }
.empty { margin: 0; padding: 8px 12px 12px; color: var(--muted); }
.row { display: grid; grid-template-columns: minmax(160px, 34%) 78px minmax(0, 1fr); align-items: center;
  min-height: 26px; border-top: 1px solid var(--line); }
.row.span { cursor: pointer; }
.row.span:hover { background: #f6f9fc; }
.row.span:focus { outline: 2px solid var(--ok); outline-offset: -2px; }
.row.span.selected { background: var(--select); }
.row.axis { color: var(--muted); font-size: 11px; min-height: 22px; }
.name { padding: 0 8px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.name .ns { color: var(--muted); margin-left: 6px; font-size: 11px; }
.dur { padding: 0 8px; text-align: right; font-variant-numeric: tabular-nums; color: var(--muted);
  white-space: nowrap; }
.track { position: relative; height: 26px; margin-right: 14px; }
.axis .track { height: 22px; }
.tick { position: absolute; top: 4px; white-space: nowrap; transform: translateX(-50%); }
.tick.first { transform: none; }
.tick.last { transform: translateX(-100%); }
.bar { position: absolute; top: 7px; height: 12px; min-width: 2px; border-radius: 2px; background-color: var(--ok); }
.bar.ok, .swatch.ok { background-color: var(--ok); }
.bar.error, .swatch.error { background-color: var(--error); }
.bar.fault, .swatch.fault { background-color: var(--fault); }
.bar.throttle, .swatch.throttle { background-color: var(--throttle); }
.bar.in-progress, .swatch.in-progress {
  background-image: repeating-linear-gradient(45deg, rgba(255, 255, 255, .55) 0 3px, transparent 3px 6px); }
#details { position: sticky; top: 12px; max-height: calc(100vh - 24px); overflow: auto; background: var(--panel);
  border: 1px solid var(--line); border-radius: 6px; padding: 12px; overflow-wrap: anywhere; }
#details h3 { font-size: 15px; margin: 0 0 8px; display: flex; gap: 8px; align-items: center; }
#details h4 { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted);
  margin: 14px 0 4px; }
.hint { color: var(--muted); margin: 0; }
dl.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 2px 12px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
table.kv { border-collapse: collapse; width: 100%; }
table.kv th, table.kv td { text-align: left; vertical-align: top; padding: 2px 6px 2px 0;
  border-top: 1px solid var(--line); }
table.kv th { font-weight: 600; white-space: nowrap; }
pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere;
  font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; }
.exception { border-left: 3px solid var(--fault); padding: 2px 0 2px 8px; margin: 6px 0; }
.exception .what { font-weight: 600; }
.exception ol { margin: 4px 0 0; padding-left: 20px; }
details.raw summary { cursor: pointer; color: var(--muted); margin-top: 14px; }
@media (max-width: 900px) { .layout { grid-template-columns: minmax(0, 1fr); } #details { position: static; } }
"""

SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("trace-data").textContent);
  var panel = document.getElementById("details");
  var selected = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }
  function ms(value) {
    if (typeof value !== "number") return "";
    if (value >= 1000) return (value / 1000).toFixed(2) + " s";
    if (value >= 100) return value.toFixed(0) + " ms";
    if (value >= 10) return value.toFixed(1) + " ms";
    return value.toFixed(2) + " ms";
  }
  function json(value) {
    return typeof value === "string" ? value : JSON.stringify(value, null, 2);
  }
  function niceStep(total) {
    var raw = total / 6, power = Math.pow(10, Math.floor(Math.log10(raw))), steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * power >= raw) return steps[i] * power;
    return 10 * power;
  }
  function tickLabel(at, step) {
    if (at === 0) return "0";
    if (step >= 1000) return (at / 1000).toFixed(Math.max(0, -Math.floor(Math.log10(step / 1000)))) + " s";
    return at.toFixed(Math.max(0, -Math.floor(Math.log10(step)))) + " ms";
  }
  function pct(value, total) {
    return Math.max(0, Math.min(100, (value / total) * 100));
  }

  function axis(total, step) {
    var row = el("div", "row axis"), track = el("div", "track");
    row.appendChild(el("div", "name", "Name"));
    row.appendChild(el("div", "dur", "Duration"));
    for (var at = 0, n = 0; at <= total * 1.0001 && n < 50; at += step, n++) {
      var tick = el("span", "tick" + (n === 0 ? " first" : pct(at, total) > 92 ? " last" : ""),
        tickLabel(at, step));
      tick.style.left = pct(at, total) + "%";
      track.appendChild(tick);
    }
    row.appendChild(track);
    return row;
  }

  function spanRow(span, total, grid) {
    var row = el("div", "row span");
    row.setAttribute("role", "button");
    row.setAttribute("tabindex", "0");
    row.setAttribute("aria-pressed", "false");
    row.dataset.id = span.id || "";
    row.dataset.parent = span.parent || "";
    row.dataset.depth = String(span.depth);
    row.dataset.status = span.status;
    var name = el("div", "name", span.name);
    name.style.paddingLeft = (8 + span.depth * 16) + "px";
    name.title = span.name;
    if (span.namespace && span.namespace !== "local") name.appendChild(el("span", "ns", span.namespace));
    if (span.kind) name.appendChild(el("span", "ns", span.kind));
    row.appendChild(name);
    row.appendChild(el("div", "dur", span.duration_ms === null ? (span.in_progress ? "in progress" : "") :
      ms(span.duration_ms)));
    var track = el("div", "track");
    track.style.backgroundImage = grid;
    if (span.offset_ms !== null) {
      var bar = el("div", "bar " + span.status + (span.in_progress ? " in-progress" : ""));
      var left = pct(span.offset_ms, total);
      var width = span.duration_ms === null ? 100 - left : pct(span.duration_ms, total);
      bar.style.left = left + "%";
      bar.style.width = Math.min(width, 100 - left) + "%";
      bar.title = span.name + "  " + ms(span.duration_ms);
      track.appendChild(bar);
    }
    row.appendChild(track);
    row.addEventListener("click", function () { select(row, span); });
    row.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); select(row, span); }
    });
    return row;
  }

  function invocation(inv, index) {
    var section = el("section", "invocation");
    section.dataset.invocation = String(index + 1);
    var heading = el("h2");
    heading.appendChild(el("span", "badge" + (inv.status === "response" ? "" : " failed"), inv.status || "?"));
    heading.appendChild(el("span", "label", inv.label));
    section.appendChild(heading);
    var facts = [];
    if (inv.trace_id) facts.push("trace " + inv.trace_id);
    if (typeof inv.round_trip_ms === "number") facts.push(ms(inv.round_trip_ms) + " round trip");
    if (inv.outcome) facts.push("\u2192 " + inv.outcome);
    section.appendChild(el("p", "summary", facts.join("  \u00b7  ")));
    if (!inv.spans.length) {
      section.appendChild(el("p", "empty", "(no X-Ray documents)"));
      return section;
    }
    var total = inv.total_ms > 0 ? inv.total_ms : 0.001, step = niceStep(total);
    var grid = "repeating-linear-gradient(to right, #e9ecef 0, #e9ecef 1px, transparent 1px, transparent " +
      pct(step, total) + "%)";
    var table = el("div", "timeline");
    table.setAttribute("role", "list");
    table.appendChild(axis(total, step));
    for (var i = 0; i < inv.spans.length; i++) table.appendChild(spanRow(inv.spans[i], total, grid));
    section.appendChild(table);
    return section;
  }

  function fact(list, term, value) {
    if (value === undefined || value === null || value === "") return;
    list.appendChild(el("dt", "", term));
    list.appendChild(el("dd", "", value));
  }

  function keyValues(title, object, pretty) {
    var keys = Object.keys(object);
    if (!keys.length) return null;
    var box = el("div", "section " + title.split(" ")[0].toLowerCase());
    box.appendChild(el("h4", "", title));
    var table = el("table", "kv");
    keys.forEach(function (key) {
      var tr = el("tr");
      tr.appendChild(el("th", "", key));
      var td = el("td");
      td.appendChild(pretty ? el("pre", "", json(object[key])) : el("span", "", json(object[key])));
      tr.appendChild(td);
      table.appendChild(tr);
    });
    box.appendChild(table);
    return box;
  }

  function exceptionBox(exc) {
    var box = el("div", "exception");
    box.appendChild(el("div", "what", [exc.type, exc.message].filter(Boolean).join(": ") || "exception"));
    if (exc.in) box.appendChild(el("div", "hint", "recorded in " + exc.in + (exc.id ? " (" + exc.id + ")" : "")));
    if (exc.remote) box.appendChild(el("div", "hint", "remote"));
    if (exc.stack && exc.stack.length) {
      var list = el("ol", "stack");
      exc.stack.forEach(function (frame) { list.appendChild(el("li", "", frame)); });
      box.appendChild(list);
    }
    if (exc.truncated) box.appendChild(el("div", "hint", exc.truncated + " more frames not recorded"));
    if (exc.skipped) box.appendChild(el("div", "hint", exc.skipped + " exceptions skipped"));
    return box;
  }

  function select(row, span) {
    if (selected) {
      selected.classList.remove("selected");
      selected.setAttribute("aria-pressed", "false");
    }
    selected = row;
    row.classList.add("selected");
    row.setAttribute("aria-pressed", "true");
    var doc = isObject(span.document) ? span.document : {};
    panel.textContent = "";
    var heading = el("h3");
    heading.appendChild(el("span", "swatch " + span.status));
    heading.appendChild(el("span", "", span.name));
    panel.appendChild(heading);

    var facts = el("dl", "facts");
    fact(facts, "status", span.status + (span.in_progress ? ", in progress" : ""));
    fact(facts, "duration", ms(span.duration_ms));
    fact(facts, "starts at", typeof span.offset_ms === "number" ? "+" + ms(span.offset_ms) : "");
    if (typeof doc.start_time === "number") fact(facts, "start", new Date(doc.start_time * 1000).toISOString());
    fact(facts, "id", span.id);
    fact(facts, "parent", span.parent);
    fact(facts, "namespace", typeof doc.namespace === "string" ? doc.namespace : "");
    var otlp = isObject(doc.otlp) ? doc.otlp : null;
    if (otlp) {
      fact(facts, "OTLP kind", typeof otlp.kind === "string" ? otlp.kind : "");
      fact(facts, "sampled", otlp.sampled === false ? "no (T1U)" : "yes (T1S)");
    }
    panel.appendChild(facts);

    if (span.exceptions.length) {
      var causes = el("div", "section exceptions");
      causes.appendChild(el("h4", "", span.exceptions.length > 1 ? "Exceptions" : "Exception"));
      span.exceptions.forEach(function (exc) { causes.appendChild(exceptionBox(exc)); });
      panel.appendChild(causes);
    }
    if (isObject(doc.annotations)) {
      var annotations = keyValues("Annotations", doc.annotations, false);
      if (annotations) panel.appendChild(annotations);
    }
    if (isObject(doc.metadata)) {
      Object.keys(doc.metadata).forEach(function (namespace) {
        var entries = doc.metadata[namespace], title = "Metadata \u00b7 " + namespace, box;
        if (isObject(entries)) {
          box = keyValues(title, entries, true);
        } else {
          box = el("div", "section metadata");
          box.appendChild(el("h4", "", title));
          box.appendChild(el("pre", "", json(entries)));
        }
        if (box) panel.appendChild(box);
      });
    }
    if (otlp && isObject(otlp.attributes)) {
      var attributes = keyValues("OTLP attributes", otlp.attributes, false);
      if (attributes) panel.appendChild(attributes);
    }
    ["http", "aws", "sql"].forEach(function (key) {
      if (doc[key] === undefined) return;
      var box = el("div", "section " + key);
      box.appendChild(el("h4", "", key.toUpperCase()));
      box.appendChild(el("pre", "", json(doc[key])));
      panel.appendChild(box);
    });
    var raw = el("details", "raw");
    raw.appendChild(el("summary", "", "Raw document"));
    raw.appendChild(el("pre", "", JSON.stringify(doc, null, 2)));
    panel.appendChild(raw);
    panel.scrollTop = 0;
  }

  var main = document.getElementById("invocations");
  if (!data.invocations.length) main.appendChild(el("p", "empty", "No invocations."));
  data.invocations.forEach(function (inv, index) { main.appendChild(invocation(inv, index)); });
  document.body.dataset.ready = "true";
})();
"""
