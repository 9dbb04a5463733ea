"""The masks of encoded text: percent-encoded (a URL inside a query value) and escaped into HTML (JSON or XML in a
template's attribute, an error page quoting a request). Loaded with the first text that holds an encoded separator or
an escaped quote among those that need a mask (``redaction_masks.masked``).

Each run of encoded text is decoded, the runs masked together by the policy, and a run the masks changed is encoded
again in its place; the rest of the text is kept as it is. Linear in the text, whatever the number of runs.
"""

from __future__ import annotations

from .redaction_text import REDACTED, compiled, replaced

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    import re
    from collections.abc import Callable

#: Runs of percent-encoded text masked one by one (``mask_encoded``) before the rest are masked whole.
_ENCODED_ALONE = 16
#: A run of text holding an encoded ``=``, ``:``, ``@`` or ``%``, up to what a query value, a word or a quoted string
#: ends at. It can only start after such an end (the lookbehind), so each run is looked at once: linear in the text.
_ENCODED_RUN = (
    r"(?<![^\s&=?#\"'<>()\[\]{},;|\\])[^\s&=?#\"'<>()\[\]{},;|\\]*"
    r"%(?:3[DdAa]|40|25)[^\s&=?#\"'<>()\[\]{},;|\\]*"
)
#: An escaped quote, ``'``, ``<`` or ``>``, named, decimal or hexadecimal (leading zeros too): what is unescaped, by
#: the name or number lower-cased without ``#``, ``x`` and leading zeros; and how each is escaped where a run held
#: it no other way.
_ESCAPED_CHAR = r"&((?i:quot|apos|lt|gt|#0{0,6}(?:34|39|60|62)|#[xX]0{0,6}(?:22|27|3[cCeE])));"
_UNESCAPED = {"quot": '"', "apos": "'", "lt": "<", "gt": ">", "34": '"', "39": "'", "60": "<", "62": ">"}
_UNESCAPED |= {"22": '"', "27": "'", "3c": "<", "3e": ">"}
_ESCAPES = {'"': "&quot;", "'": "&#39;", "<": "&lt;", ">": "&gt;"}
#: A run of text holding an escaped quote or ``<``, up to a raw ``"``, ``<`` or ``>`` (line breaks too: a value on a
#: line of its own is in its element's run). It can only start after one (the lookbehind), so each run is looked at
#: once: linear in the text.
_ESCAPED_RUN = r"(?<![^\"<>])[^\"<>]*&(?i:quot|apos|lt|#0{0,6}(?:34|39|60)|#x0{0,6}(?:22|27|3c));[^\"<>]*"


def mask_encoded(text: str, mask: Callable[[str], str], needs_mask: Callable[[str], bool]) -> str:
    """Percent-encoded text (a URL or query string inside a query value: ``next=%2Fcb%3Ftoken%3DT``,
    ``redirect=https%3A%2F%2Fu%3Apw%40h``) decoded, masked (``mask``), and encoded again where that masked something.

    A run is what a query value, a word or a quoted string ends at, holding an encoded ``=``, ``:``, ``@`` or ``%``
    (``_masked_runs``; a run decoded to several lines, ``%0A``, has each run masked alone)."""
    from urllib.parse import quote, unquote  # only for texts holding percent-encoded separators

    def encoded(line: str, run: str) -> str:  # the characters the run held as they are stay so, brackets too
        return quote(line, safe="".join(set(run) - {"%"}) + "[]")

    lowered = text.lower()
    one_line = "%0a" not in lowered and "%0d" not in lowered
    return _masked_runs(text, _ENCODED_RUN, unquote, encoded, mask, needs_mask, one_line)


def mask_escaped(text: str, mask: Callable[[str], str], needs_mask: Callable[[str], bool]) -> str:
    """JSON or XML escaped into HTML (``{&quot;token&quot;:&quot;T&quot;}``, ``&lt;password&gt;P&lt;/password&gt;``,
    ``&#34;``, ``&#x22;``, ``&#39;`` as templates write them) unescaped, masked (``mask``), and escaped again where
    that masked something, each character as the run wrote it.

    A run is what a raw ``"``, ``<`` or ``>`` ends at (an attribute's value, an element's text), holding
    an escaped quote or ``<``. Only quotes, ``<`` and ``>`` are unescaped (``&amp;`` and the rest are kept as they
    are), so what the masks keep is escaped again as it was (``_masked_runs``)."""

    def unescaped(run: str) -> str:
        return compiled(_ESCAPED_CHAR).sub(lambda match: _UNESCAPED[match.group(1).lower().lstrip("#0x")], run)

    def escaped(line: str, run: str) -> str:
        forms: dict[str, str] = {}
        for match in compiled(_ESCAPED_CHAR).finditer(run):
            forms.setdefault(_UNESCAPED[match.group(1).lower().lstrip("#0x")], match.group(0))
        for char, default in _ESCAPES.items():
            if char in line and (char in forms or char not in run):  # a ``'`` held as it is stays so
                line = line.replace(char, forms.get(char, default))
        return line

    return _masked_runs(text, _ESCAPED_RUN, unescaped, escaped, mask, needs_mask, True)


def _masked_runs(
    text: str,
    runs_pattern: str,
    decode: Callable[[str], str],
    encode: Callable[[str, str], str],
    mask: Callable[[str], str],
    needs_mask: Callable[[str], bool],
    one_line: bool,
) -> str:
    """Each run of ``runs_pattern`` in ``text`` decoded, masked and, where the masks changed it, encoded again
    (``encode(masked, run)``) in its place; the rest of the text is kept as it is.

    The runs are decoded and masked together, each on lines of its own (one ``mask`` whatever their number), and a
    run whose lines the masks changed is encoded again, masked. Should decoding make a line break (``one_line``
    false), or a mask cross one (a run's value running into the next), each run is masked alone, the first few, and
    past them one that may hold a secret (``needs_mask``) is masked whole: the cost stays linear in the text, and
    nothing is left unmasked."""
    matches = list(compiled(runs_pattern).finditer(text))
    if not matches:
        return text
    decoded = decode("\n".join(match.group(0) for match in matches))
    lines: list[tuple[str, str]] | None = None  # each run's (decoded, masked)
    if one_line:
        masked = mask(decoded)
        if masked == decoded:
            return text
        if masked.count("\n") == decoded.count("\n"):  # no mask crossed a line: each run's lines are its own
            lines = _regrouped(decoded.split("\n"), masked.split("\n"), matches)
    spans: list[tuple[int, int, str]] = []
    for index, match in enumerate(matches):
        run = match.group(0)
        if lines is not None:
            plain, line = lines[index]
        elif index < _ENCODED_ALONE:
            plain = decode(run)
            line = mask(plain)
        else:
            plain = decode(run)
            line = REDACTED if needs_mask(plain) else plain
        if line is REDACTED:
            spans.append((*match.span(), REDACTED))
        elif line != plain:
            spans.append((*match.span(), encode(line, run)))
    return replaced(text, spans)


def _regrouped(plain: list[str], masked: list[str], matches: list[re.Match[str]]) -> list[tuple[str, str]]:
    """Each run's (decoded, masked) from the lines of them all: one more than the line breaks the run holds (decoding
    made none: ``one_line``)."""
    runs, position = [], 0
    for match in matches:
        end = position + match.group(0).count("\n") + 1
        runs.append(("\n".join(plain[position:end]), "\n".join(masked[position:end])))
        position = end
    return runs
