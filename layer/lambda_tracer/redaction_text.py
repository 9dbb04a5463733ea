"""What deciding whether a text could hold a secret needs, before any mask runs: loaded with the policy.

``redaction.Policy.needs_mask`` answers no for most texts. It needs the gate of URL credentials, the patterns'
compiler (``compiled``: each pattern compiled on first use) and the needles as the sketch of a long text is searched
for them (``sketch_needles``); the rest of redaction needs the mask itself (``REDACTED``) and its bounds. The masks,
their patterns and the scanning of values (redaction_masks.py) are loaded with the first text that needs one: most
functions' responses never do.
"""

from __future__ import annotations

import functools
import re

REDACTED = "[REDACTED]"
#: Longest value looked at after a secret name: a longer one is masked this far (and the text is cut before that).
MAX_VALUE_CHARS = 65_536
#: Characters past a cut that are masked before cutting, so a secret across the cut is masked whole. Capture also
#: parses JSON held in a string whole up to its limit plus this, and masks the rest as text (a cut document loses its
#: structure, and parsing a megabyte to record 16 KB of it costs more than the function).
MASK_MARGIN = 4096
#: URL credentials: ``//`` then an authority ending at ``@`` (no ``"`` in it, as in URL_USERINFO: a response's
#: compact JSON holding a URL and, later, an address is no such text, but in a password), or a user, ``:`` and a
#: password holding ``/?#`` (a DSN's).
_USERINFO_GATE = (
    r"(?://|\\/\\/)(?:[^\s/?#@\\\"]*|[^\s/?#@\\\":]*:(?!\d{1,5}\")[^\s/?#@\\]*"
    r"|[^\s/?#@:\\]*:(?:[^\s@\\\"'<>/]|/(?!/))+)@"
)
#: The URL credentials redaction_masks.py masks (``https://user:password@host``, ``//user@host``): the user part up to
#: the last ``@`` of the authority; or a password holding ``/``, ``?`` or ``#`` (a generated one, unquoted in a DSN) up
#: to an ``@``, when it is no port and path; a user part holds no ``"`` (no URL does: compact JSON's quotes end it), a
#: password without ``/?#`` may (a generated one), unless a port is closed by it (``"h:8443","a":"ann@x"``). Unbounded,
#: however long (a generated password may be 4,096 characters), and still linear: each part ends before the next ``//``
#: (a user part at any ``/``), so a character is scanned from one ``//`` only.
URL_USERINFO = (
    r"(?<![A-Za-z0-9+.\-/])((?:[A-Za-z][A-Za-z0-9+.\-]{0,31}:)?(?://|\\/\\/))"
    r"([^\s/?#\\\":]*:(?!\d{1,5}\")[^\s/?#\\]*|[^\s/?#\\\"]+"
    r"|[^\s/?#@:\\]*:(?!\d{1,5}(?:[/?#]|$))(?:[^\s@\\\"'<>/]|/(?!/))+)@"
)


@functools.cache
def compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


#: The prefilter of long texts (``redaction.Policy._sketch_clear``): digits and lower-case hex letters become ``#``
#: (so ids, times and hashes read alike), and then, for the case-blind needles, capitals too (hex ones ``#``, others
#: lower case).
_SKETCH = bytes.maketrans(b"0123456789abcdef", b"#" * 16)
_FOLD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"######ghijklmnopqrstuvwxyz")

_Sketched = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[tuple[str, str], ...]]


def sketch_needles(needles: tuple[str, ...], form_needles: tuple[str, ...]) -> _Sketched:
    """The needles (found in the text lower-cased) and the form needles (in the text as it is) as
    ``redaction.Policy._sketch_clear`` searches them: (what is searched in a sketch as it is, what in a sketch
    with capitals folded, what in the text itself, what in the text lower-cased, and the gated needles: (image in
    the folded sketch, needle) pairs).

    A needle that the sketch leaves with fewer than two letters (``cred``: ``#r##``) is searched in the text: as it
    is (``cred``), and each spelling with a capital through the sketch, from its first capital on (``Cr``, ``CR``,
    ``#R``, ``#rE``, ``#r#D``: the capital is kept), so the text needs no lower-casing. Until its folded image
    (``#r##``) is in a piece remembered clean, it is searched in the text only when the image is in the text's new
    pieces (``Policy._sketch_clear``). A one-letter one is searched in the text lower-cased.
    """

    def sketched(needles: list[str], fold: bool = False) -> list[str]:
        """Each needle's sketch, in one translation of them all (needles hold no newline)."""
        image = "\n".join(needles).encode("ascii").translate(_SKETCH)
        return (image.translate(_FOLD) if fold else image).decode("ascii").split("\n")

    def capitalised(needle: str) -> list[str]:
        """Sketches that every spelling of ``needle`` (lower case) with a capital holds."""
        found = []
        prefixes = sketched([needle[:index] for index in range(len(needle))])
        for index, char in enumerate(needle):
            if char.isalpha():
                if index == 0:
                    found.append(char.upper() + sketched([needle[1]])[0])
                    found.append(char.upper() + needle[1].upper())
                else:
                    found.append(prefixes[index] + char.upper())
        return found

    # A needle that is not ASCII cannot be in an ASCII text (nor in it lower-cased): it is left out.
    ascii_needles = [needle for needle in needles if needle.isascii()]
    folded = sketched(ascii_needles, True)
    folded_weak = [len(image) - image.count("#") < 2 for image in folded]  # fewer than two letters
    weak_named = [needle for needle, weak in zip(ascii_needles, folded_weak, strict=True) if weak]
    # Weak needles without letters (``%``) are the same in the text and lower-cased.
    caseless = [needle for needle in weak_named if needle.lower() == needle.upper()]
    cased = [needle for needle in weak_named if needle not in caseless and len(needle) > 1]
    form_images = sketched(list(form_needles))
    form_weak = [len(image) - image.count("#") < 2 for image in form_images]
    forms = [image for image, weak in zip(form_images, form_weak, strict=True) if not weak]
    forms += [image for needle in cased for image in capitalised(needle)]
    images = dict(zip(ascii_needles, folded, strict=True))
    return (
        tuple(dict.fromkeys(forms)),
        tuple(dict.fromkeys(image for image, weak in zip(folded, folded_weak, strict=True) if not weak)),
        tuple(needle for needle, weak in zip(form_needles, form_weak, strict=True) if weak) + tuple(caseless),
        tuple(needle for needle in weak_named if needle not in caseless and needle not in cased),
        tuple((images[needle], needle) for needle in cased),
    )


def replaced(text: str, spans: list[tuple[int, int, str]]) -> str:
    """``text`` with each span replaced; overlapping spans merge into one, so every secret part is covered."""
    if not spans:
        return text
    spans.sort()
    parts, position = [], 0
    for start, end, replacement in spans:
        if start >= position:
            parts += [text[position:start], replacement]
            position = end
        elif end > position:  # overlaps the previous span and runs past it: cover the rest too
            position = end
    return "".join(parts) + text[position:]
