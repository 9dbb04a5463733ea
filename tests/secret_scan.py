"""A second opinion on every datagram: detect-secrets' plugins, which know nothing of our redaction rules.

``assert_no_detected_secrets`` runs every plugin of detect-secrets 1.5.0 (pinned: this uses its scanning
internals, the same ones its ``scan_line`` uses, but without eager search, which on free text flags every
substring of three characters) over each datagram the daemon stand-in received (X-Ray documents, and OTLP
spans decoded by ``lambda_tracer_local.otlp``): the document as one line,
as X-Ray would store it, and each line of each of its strings on its own (keys too, JSON inside strings
decoded) as YAML, the keyword plugin's broadest file type, so that text formats inside a value (``password =
x`` lines, ``key: value``, a URL, a private key) are seen unescaped.

What is not a leak, and why:

* a value holding ``[REDACTED]``: our own mask, where the secret was (the keyword plugin reports the value of
  ``"password": "[REDACTED]"``);
* our own ids: every trace, segment and parent id of the documents (random hex, so the hex entropy plugin
  flags them);
* an ARN is not read as YAML (see ``_file_type``);
* ``IPPublicDetector`` is not run: an IP address is not a secret, and X-Ray records client and server
  addresses on purpose (``http.request.client_ip``, ``aws.xray`` sections).

Any other hit fails the test, naming the plugin and the place; ``SCAN_ALLOW`` lets a test that records a
secret on purpose (redaction turned off) say which values it expects.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

#: detect-secrets plugins not run (see the module docstring).
EXCLUDED = {"IPPublicDetector"}
MASK = "REDACTED"


def strings_of(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string of a decoded document, keys too, descending into strings that are JSON themselves."""
    if isinstance(value, str):
        yield path, value
        if value.strip()[:1] in ("{", "["):
            try:
                inner = json.loads(value)
            except ValueError:
                return
            yield from strings_of(inner, f"{path}<json>")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}/{key}", str(key)
            yield from strings_of(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings_of(item, f"{path}[{index}]")


def _own_ids(document: Any) -> set[str]:
    """Trace, segment and parent ids of a document and of every subsegment inside it."""
    found: set[str] = set()
    stack = [document]
    while stack:
        doc = stack.pop()
        if not isinstance(doc, dict):
            continue
        for key in ("id", "parent_id", "trace_id"):
            if isinstance(doc.get(key), str):
                found.add(doc[key])
        stack.extend(doc.get("subsegments") or [])
    return found


def _documents(data: bytes) -> list[tuple[str, Any]]:
    """(text, decoded document or None) for each document of a datagram: an X-Ray document, or OTLP spans."""
    from lambda_tracer_local import otlp

    if otlp.is_otlp(data):
        documents = otlp.documents_of(data)
        return [(json.dumps(document), document) for document in documents]
    text = data.decode("utf-8", "replace")
    body = text.split("\n", 1)[1] if "\n" in text else text
    try:
        return [(body, json.loads(body))]
    except ValueError:
        return [(body, None)]


def _file_type(place: str, line: str) -> str:
    """The file name whose type the keyword plugin assumes for ``line``: JSON for a document, YAML for a string,
    except an ARN (``arn:aws:secretsmanager:us-east-1:…:secret:name``), which YAML rules would read as the pair
    ``secretsmanager: us-east-1:…``: an ARN names a resource, it holds no secret."""
    if place == "<document>":
        return "datagram.json"
    return "value" if line.startswith("arn:") else "value.yaml"


def _plugins() -> list[Any]:
    """Every plugin of detect-secrets' default settings, configured as its command line would be."""
    from detect_secrets.settings import get_plugins

    return [plugin for plugin in get_plugins() if type(plugin).__name__ not in EXCLUDED]


def _scan(line: str, plugins: list[Any], filename: str) -> Iterator[tuple[str, str]]:
    """(plugin, value) for each secret detect-secrets finds in ``line`` after its own filters."""
    from detect_secrets.core.scan import _is_filtered_out, _scan_line
    from detect_secrets.util.code_snippet import get_code_snippet

    context = get_code_snippet(lines=[line], line_number=1)
    for plugin in plugins:
        found = _scan_line(plugin, filename, line, 0, context, enable_eager_search=False)
        for secret in found:
            value = secret.secret_value or ""
            if not _is_filtered_out(
                ["context"], filename=filename, secret=value, plugin=plugin, line=line, context=context
            ):
                yield type(plugin).__name__, value


def detected(datagrams: Iterable[bytes], allow: Iterable[str] = ()) -> list[str]:
    """One line per secret detect-secrets finds in these datagrams (plugin, place, a few characters of it)."""
    from detect_secrets.settings import default_settings

    allowed = [value for value in allow if value]
    problems: list[str] = []
    with default_settings():
        plugins = _plugins()
        for index, data in enumerate(datagrams):
            ids: set[str] = set()
            lines: list[tuple[str, str]] = []
            for body, document in _documents(data):
                ids |= _own_ids(document)
                strings = strings_of(document) if document is not None else iter(())
                lines.append(("<document>", body))
                lines += [(place, line) for place, text in strings for line in text.splitlines()]
            seen: set[tuple[str, str]] = set()
            for place, line in lines:
                # The document as JSON; its strings as YAML, the broadest of the keyword plugin's file types
                # (``key: value``, ``key = value`` and quoted pairs).
                for plugin, value in _scan(line, plugins, _file_type(place, line)):
                    if MASK in value or any(value in own for own in ids) or any(value in a for a in allowed):
                        continue
                    if (plugin, value) in seen:
                        continue
                    seen.add((plugin, value))
                    shown = value if len(value) <= 12 else f"{value[:6]}…{value[-3:]} ({len(value)} characters)"
                    problems.append(f"datagram {index}: {plugin} found {shown!r} at {place[:120]}")
    return problems


def assert_no_detected_secrets(datagrams: Iterable[bytes], allow: Iterable[str] = ()) -> None:
    problems = detected(datagrams, allow)
    assert not problems, "detect-secrets found secrets in what was sent:\n" + "\n".join(problems[:40])
