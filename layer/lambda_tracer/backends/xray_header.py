"""Trace headers not in Lambda's own form (``Root=1-…;Parent=…;Sampled=1`` exactly, which xray.py reads by its
shape): a header a caller passed on (OpenTelemetry's propagator, otel_propagation.py), or one Lambda may change to.

Imported with the first such header, so a cold start never compiles these regexes. A Root or Parent that starts
with a valid id is cut to it; one that does not is left out, so the invocation is not recorded (X-Ray would
reject every document of it). Extra fields are kept only when few, short and plain, because they are propagated
to every downstream call's headers.
"""

from __future__ import annotations

import re

from .. import config

_ROOT_ID = re.compile(r"1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24}")
_PARENT_ID = re.compile(r"[0-9a-fA-F]{16}")
_DATA_KEY = re.compile(r"[A-Za-z0-9_\-]{1,32}")
#: Extra header fields (``Lineage``, …) are passed on to downstream calls: only a few short, plain ones.
MAX_DATA_FIELDS = 8


def header_safe(value: str) -> bool:
    """Whether a header field can be passed on in an HTTP header as it is: short, visible ASCII, no ``;``."""
    return len(value) <= 256 and value.isascii() and value.isprintable() and " " not in value and ";" not in value


def parsed(raw: str | None) -> tuple[str | None, str | None, str | None, dict[str, str]]:
    """(Root, Parent, Sampled, the extra fields) of a header, each as X-Ray can use it (``xray.Trace``'s)."""
    fields: dict[str, str] = {}
    data: dict[str, str] = {}
    for part in (raw or "").split(";"):
        key, _, value = part.strip().partition("=")
        value = value.strip()
        if key in ("Root", "Parent", "Sampled"):
            fields.setdefault(key, value)
        elif key != "Self" and len(data) < MAX_DATA_FIELDS and _DATA_KEY.fullmatch(key) and header_safe(value):
            data[key] = value
    root = _ROOT_ID.match(fields.get("Root", ""))
    parent = _PARENT_ID.match(fields.get("Parent", ""))
    if fields.get("Root") and root is None:
        config.report_once(("trace header",), "the trace header's Root is not an X-Ray trace id: not recording")
    return (
        root.group(0).lower() if root else None,
        parent.group(0).lower() if parent else None,
        fields.get("Sampled", "")[:1] or None,
        data,
    )
