"""Show one invocation's X-Ray documents as a tree a person can read at a glance.

The SDK streams each closed subsegment as its own document (children before their parents, linked by
``parent_id``), and sometimes keeps children inline; both shapes are folded into one tree under the
trace header's ``Parent`` (the facade segment, which is never sent).

    ## handler  12.3 ms  FAULT
    │ annotations  ColdStart=true InitType=on-demand Service=payment
    │ metadata     payment.handler error = {"type": "ValueError", "message": "boom"}
    │ cause        ValueError: boom
    └── ## app.work  1.1 ms

OTLP spans (the ``otlp`` exporter) arrive as documents too (otlp.py): their kind follows the name
(``otlp:SERVER``), and their attributes beyond annotations and metadata get an ``attributes`` line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runtime import Invocation

METADATA_WIDTH = 100


def render_invocation(inv: Invocation, *, metadata_width: int = METADATA_WIDTH) -> str:
    """One line for what the caller got back, then the trace tree indented under it."""
    timing = "" if inv.round_trip_ms is None else f"  {inv.round_trip_ms:.1f} ms"
    if inv.status == "response":
        outcome = _compact(
            inv.payload if not isinstance(inv.payload, bytes) else inv.payload.decode(errors="replace"), metadata_width
        )
    else:
        outcome = f"{inv.error_type}: {inv.error_message}"
    lines = [f"{inv.status}{timing}  -> {outcome}"]
    if inv.trace_id:
        lines.append(f"  trace {inv.trace_id}  parent {inv.parent_id}")
        summary = init_line(inv.documents)
        if summary is not None:
            lines.append(f"  {summary}")
        tree = render_trace(inv.documents, metadata_width=metadata_width)
        lines.extend("  " + line for line in tree.splitlines())
    else:
        lines.append("  (no trace header sent)")
    return "\n".join(lines)


def render_trace(documents: Iterable[dict[str, Any]], *, metadata_width: int = METADATA_WIDTH) -> str:
    """The documents of one trace as an indented tree; roots are those whose parent was not sent."""
    nodes = _flatten(documents)
    if not nodes:
        return "(no X-Ray documents)"
    ids = {node["id"] for node in nodes if node.get("id")}
    children: dict[str, list[dict[str, Any]]] = {}
    roots: list[dict[str, Any]] = []
    for node in nodes:
        parent = node.get("parent_id")
        if isinstance(parent, str) and parent in ids and parent != node.get("id"):
            children.setdefault(parent, []).append(node)
        else:
            roots.append(node)
    exceptions = _exceptions_by_id(nodes)
    lines: list[str] = []
    ordered = sorted(roots, key=_start)
    for index, root in enumerate(ordered):
        _render(root, children, exceptions, "", index == len(ordered) - 1, True, lines, metadata_width)
    return "\n".join(lines)


#: Imports named on the init line.
INIT_LINE_IMPORTS = 4


def init_line(documents: Iterable[dict[str, Any]]) -> str | None:
    """``init: 412 ms, boto3 310 ms, mylib 40 ms``: a cold start's ``## init`` (the zero-code init trace), then
    what the handler's module imported, slowest first (each with what it imported in turn); None without one."""
    nodes = _flatten(documents)
    init = next((node for node in nodes if node.get("name") == "## init"), None)
    if init is None:
        return None
    parts = [f"init: {_ms(init):.0f} ms"]
    modules = [node for node in nodes if node.get("parent_id") == init.get("id")]
    imports = [node for node in nodes if modules and node.get("parent_id") == modules[0].get("id")]
    imports.sort(key=_ms, reverse=True)
    for node in imports[:INIT_LINE_IMPORTS]:
        parts.append(f"{str(node.get('name', '?')).removeprefix('import ')} {_ms(node):.0f} ms")
    if len(imports) > INIT_LINE_IMPORTS:
        parts.append(f"{len(imports) - INIT_LINE_IMPORTS} more")
    return ", ".join(parts)


def _ms(node: dict[str, Any]) -> float:
    start, end = node.get("start_time"), node.get("end_time")
    if isinstance(start, (int, float)) and isinstance(end, (int, float)):
        return (end - start) * 1000
    return 0.0


def _exceptions_by_id(nodes: list[dict[str, Any]]) -> dict[str, str]:
    """Exception id -> "Type: message (in <subsegment>)": a parent's cause is often just a child's id."""
    found: dict[str, str] = {}
    for node in nodes:
        cause = node.get("cause")
        if isinstance(cause, dict):
            for exc in cause.get("exceptions") or []:
                if isinstance(exc, dict) and exc.get("id"):
                    found[exc["id"]] = f"{_describe(exc)} (in {node.get('name', '?')})"
    return found


def _flatten(documents: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every subsegment once, inline children given their parent's id when they lack one."""
    found: dict[str, dict[str, Any]] = {}
    anonymous: list[dict[str, Any]] = []

    def walk(doc: dict[str, Any], parent_id: str | None) -> None:
        node = {key: value for key, value in doc.items() if key != "subsegments"}
        if parent_id and not node.get("parent_id"):
            node["parent_id"] = parent_id
        if node.get("id"):
            found.setdefault(node["id"], node)
        else:
            anonymous.append(node)
        for child in doc.get("subsegments") or []:
            if isinstance(child, dict):
                walk(child, node.get("id"))

    for document in documents:
        walk(document, None)
    return [*found.values(), *anonymous]


def _start(node: dict[str, Any]) -> float:
    value = node.get("start_time")
    return float(value) if isinstance(value, (int, float)) else 0.0


def _render(
    node: dict[str, Any],
    children: dict[str, list[dict[str, Any]]],
    exceptions: dict[str, str],
    prefix: str,
    last: bool,
    root: bool,
    lines: list[str],
    width: int,
) -> None:
    branch = "" if root else ("└── " if last else "├── ")
    lines.append(prefix + branch + _title(node))
    inner = prefix if root else prefix + ("    " if last else "│   ")
    kids = sorted(children.get(node.get("id") or "", []), key=_start)
    bar = "│ " if kids else "  "
    for label, text in _details(node, exceptions, width):
        lines.append(f"{inner}{bar}{label:<12} {text}")
    for index, kid in enumerate(kids):
        _render(kid, children, exceptions, inner, index == len(kids) - 1, False, lines, width)


def _title(node: dict[str, Any]) -> str:
    parts = [str(node.get("name", "?"))]
    start, end = node.get("start_time"), node.get("end_time")
    if isinstance(start, (int, float)) and isinstance(end, (int, float)):
        parts.append(f"{(end - start) * 1000:.1f} ms")
    elif node.get("in_progress"):
        parts.append("in progress")
    if node.get("namespace") not in (None, "", "local"):
        parts.append(f"[{node['namespace']}]")
    otlp = node.get("otlp")
    if isinstance(otlp, dict):  # an OTLP span: its kind, and whether it went as T1U
        parts.append(f"otlp:{otlp.get('kind')}" + ("" if otlp.get("sampled", True) else " unsampled"))
    for flag in ("fault", "error", "throttle"):
        if node.get(flag):
            parts.append(flag.upper())
    return "  ".join(parts)


def _details(node: dict[str, Any], exceptions: dict[str, str], width: int) -> list[tuple[str, str]]:
    details: list[tuple[str, str]] = []
    annotations = node.get("annotations") or {}
    if annotations:
        details.append(("annotations", " ".join(f"{k}={_compact(v, width)}" for k, v in sorted(annotations.items()))))
    metadata = node.get("metadata") or {}
    for namespace, entries in sorted(metadata.items()):
        if isinstance(entries, dict):
            for key, value in entries.items():
                details.append(("metadata", f"{namespace}.{key} = {_compact(value, width)}"))
        else:
            details.append(("metadata", f"{namespace} = {_compact(entries, width)}"))
    http = node.get("http") or {}
    request, response = http.get("request") or {}, http.get("response") or {}
    if request or response:
        status = response.get("status", "")
        details.append(("http", f"{request.get('method', '')} {request.get('url', '')} -> {status}".strip()))
    aws = node.get("aws") or {}
    if aws.get("operation"):
        details.append(("aws", " ".join(f"{k}={_compact(v, width)}" for k, v in sorted(aws.items()))))
    cause = _cause(node.get("cause"), exceptions)
    if cause:
        details.append(("cause", cause))
    otlp = node.get("otlp")
    if isinstance(otlp, dict) and isinstance(otlp.get("attributes"), dict):
        shown = set(annotations) | {"aws.xray.annotations"}
        rest = {key: value for key, value in otlp["attributes"].items() if key not in shown}
        if rest:
            details.append(("attributes", " ".join(f"{k}={_compact(v, width)}" for k, v in sorted(rest.items()))))
    return details


def _cause(cause: Any, exceptions: dict[str, str]) -> str | None:
    if isinstance(cause, str):
        return exceptions.get(cause, f"exception {cause}")
    if not isinstance(cause, dict):
        return None
    described = [_describe(exc) for exc in cause.get("exceptions") or [] if isinstance(exc, dict)]
    return "; ".join(described) or None


def _describe(exc: dict[str, Any]) -> str:
    return f"{exc.get('type') or '?'}: {exc.get('message', '')}".rstrip(": ")


def _compact(value: Any, width: int) -> str:
    """Compact JSON, cut to ``width`` characters so one huge payload cannot flood the tree."""
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"
