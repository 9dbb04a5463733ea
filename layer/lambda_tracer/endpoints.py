"""Endpoints whose calls are not traced (``Tracer.ignore_endpoint``), for every HTTP client.

The SDK only honours its ignore list in its ``http.client`` patch, with exact URLs. We check
every finished HTTP subsegment (requests, httpx, http.client, aiohttp all record the URL) in
the emitter, and botocore calls before they start, with ``*`` globs for hostnames and URLs.
"""

from __future__ import annotations

import fnmatch
import threading
from typing import Any

_lock = threading.Lock()
_hosts: list[str] = []
_urls: list[str] = []


def add(hostname: str | None = None, urls: list[str] | None = None) -> None:
    """Add rules; a hostname given as a URL (``https://api.example.com``) is reduced to its host."""
    with _lock:
        if hostname:
            _hosts.append(_host_pattern(hostname))
        _urls.extend(url for url in urls or () if url)


def _host_pattern(hostname: str) -> str:
    prefix, separator, rest = hostname.rpartition("://")
    if not separator:
        return hostname.lower()
    glob = "*." if prefix.startswith("*.") else ""
    return glob + rest.split("/", 1)[0].split(":", 1)[0].lower()


def clear() -> None:
    with _lock:
        _hosts.clear()
        _urls.clear()


def is_ignored(url: str) -> bool:
    """True when ``url`` matches a hostname glob, or a URL glob (against the path or the whole URL)."""
    if not _hosts and not _urls:
        return False
    from urllib.parse import urlsplit  # only needed once rules exist: kept off the cold-start path

    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if any(fnmatch.fnmatchcase(host, pattern) for pattern in _hosts):
        return True
    path = parts.path or "/"
    return any(fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(url, pattern) for pattern in _urls)


def is_ignored_entity(entity: Any) -> bool:
    """Whether a finished HTTP subsegment's recorded URL matches a rule."""
    if not _hosts and not _urls:
        return False
    try:
        url = entity.http["request"]["url"]
    except (AttributeError, KeyError, TypeError):
        return False
    return bool(url) and is_ignored(str(url))
