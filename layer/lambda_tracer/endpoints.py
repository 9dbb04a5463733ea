"""Endpoints whose calls are not traced (``Tracer.ignore_endpoint``), for every HTTP client.

The SDK only honours its ignore list in its ``http.client`` patch, with exact URLs. We check
every finished HTTP subsegment (requests, httpx, http.client, aiohttp all record the URL) in
the emitter, and botocore calls before they start, with ``*`` globs for hostnames and URLs.
"""

from __future__ import annotations

import threading

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

_lock = threading.Lock()
#: (hostname glob or None, URL globs or None): a call is ignored when some rule matches both parts.
_rules: list[tuple[str | None, tuple[str, ...] | None]] = []


def add(hostname: str | None = None, urls: list[str] | None = None) -> None:
    """Add one rule, as the reference does: ``hostname`` and ``urls`` must both match when both are given.

    A hostname given as a URL (``https://api.example.com``) is reduced to its host.
    """
    host = _host_pattern(hostname) if hostname else None
    paths = tuple(url for url in urls or () if url) or None
    if host is None and paths is None:
        return
    with _lock:
        if (host, paths) not in _rules:  # a rule added again (on every invocation) is kept once, as the reference's
            _rules.append((host, paths))


def _host_pattern(hostname: str) -> str:
    """A hostname rule; a URL given as one (``https://*.example.com/x``) is reduced to its host."""
    scheme, separator, rest = hostname.partition("://")
    if not separator or "/" in scheme:
        return hostname.lower()
    glob = "*." if scheme.startswith("*.") else ""
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
    host = authority[1:].split("]", 1)[0] if authority.startswith("[") else authority.split(":", 1)[0]
    return glob + host.lower()


def clear() -> None:
    with _lock:
        _rules.clear()


def is_ignored(url: str) -> bool:
    """True when ``url`` matches a rule: hostname glob, and URL glob against the path or the whole URL."""
    if not _rules:
        return False
    import fnmatch  # only needed once rules exist: kept off the cold-start path
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    path = parts.path or "/"
    for host_glob, url_globs in _rules:
        if host_glob is not None and not fnmatch.fnmatchcase(host, host_glob):
            continue
        if url_globs is None or any(
            fnmatch.fnmatchcase(path, glob) or fnmatch.fnmatchcase(url, glob) for glob in url_globs
        ):
            return True
    return False


def is_ignored_entity(entity: Any) -> bool:
    """Whether a finished HTTP subsegment's recorded URL matches a rule."""
    if not _rules:
        return False
    try:
        url = entity.http["request"]["url"]
    except (AttributeError, KeyError, TypeError):
        return False
    return bool(url) and is_ignored(str(url))
