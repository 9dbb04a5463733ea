"""A batch of OTLP spans too big for one request, split into ``ExportTraceServiceRequest`` bodies of at most a
given size, every span kept, in order; and the request itself, for OTLP/HTTP.

Imported by otlp.py only when it needs them: an OTLP/HTTP endpoint, or a batch beyond one UDP datagram (64 KB).
A cold start that sends a datagram or two never loads this module (every module costs its import).
"""

from __future__ import annotations

from .otlp_spans import varint


def requests(prefix: tuple[bytes, bytes], spans: list[bytes], limit: int) -> list[bytes]:
    """``ExportTraceServiceRequest`` bodies of at most ``limit`` bytes holding every span, in order."""
    return [request(prefix, group) for group in groups(prefix, spans, limit)]


def groups(prefix: tuple[bytes, bytes], spans: list[bytes], limit: int) -> list[list[bytes]]:
    """The spans, in order, in groups whose request is at most ``limit`` bytes (a span alone always fits:
    ``encode`` made sure)."""
    room = limit - len(prefix[0]) - len(prefix[1]) - 16  # two length-delimited wrappers and their tags
    if len(spans) == 1 or sum(map(len, spans)) + 6 * len(spans) <= room:  # one request (6: a tag and a length)
        return [spans]
    found: list[list[bytes]] = []
    group: list[bytes] = []
    used = 0
    for span in spans:
        size = framed_size(span)
        if group and used + size > room:
            found.append(group)
            group, used = [], 0
        group.append(span)
        used += size
    if group:
        found.append(group)
    return found


def request(prefix: tuple[bytes, bytes], spans: list[bytes]) -> bytes:
    """An ``ExportTraceServiceRequest`` with one ``ResourceSpans`` (resource 1, scope_spans 2) holding one
    ``ScopeSpans`` (scope 1, spans 2)."""
    parts = [b"\x0a", b"", prefix[0], b"\x12", b"", prefix[1]]  # the two lengths are filled in below
    scope_size = len(prefix[1])
    for item in spans:
        size = len(item)
        framing = bytes((0x12, size)) if size < 0x80 else b"\x12" + varint(size)
        parts += (framing, item)
        scope_size += len(framing) + size
    parts[4] = varint(scope_size)
    parts[1] = varint(len(prefix[0]) + 1 + len(parts[4]) + scope_size)
    return b"".join(parts)


def framed_size(span_bytes: bytes) -> int:
    """The bytes one span takes inside a request (its field tag and length included)."""
    return 1 + len(varint(len(span_bytes))) + len(span_bytes)
