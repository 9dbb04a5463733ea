"""redaction_masks.py: the masks of cookies and query strings, and the merge of masked spans, exactly.

The scanning of values after a name (``_value_span``, ``_Lines``, quotes and brackets) is pinned through
``Policy.mask_text`` in test_redaction.py, which is how it is used.
"""

from __future__ import annotations

import pytest

from lambda_tracer import redaction_masks
from lambda_tracer.redaction_masks import REDACTED

R = REDACTED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("session=abc; Path=/; HttpOnly", f"session={R}; Path=/; HttpOnly"),
        ("a=1, b=2", f"a={R}, b={R}"),
        (
            "path=/x; Path=/y; Domain=.ex.com; Secure; Max-Age=10; SameSite=Lax; Priority=High; "
            "Expires=Wed, 21 Oct 2015 07:28:00 GMT",
            f"path={R}; Path=/y; Domain=.ex.com; Secure; Max-Age=10; SameSite=Lax; Priority=High; "
            "Expires=Wed, 21 Oct 2015 07:28:00 GMT",
        ),
        ("abc", R),
        ("a=1; junk; Path=bad path", f"a={R}; {R}; Path={R}"),
        (" a= ; b", f" a={R}; {R}"),
        ("a=; b=", "a=; b="),
        ("a=1; Foo=bar; secure", f"a={R}; Foo={R}; secure"),
        ("x=1;  bare", f"x={R};  {R}"),
        ("secure", R),
        ("a=1; Secure=1", f"a={R}; Secure={R}"),
        ("a=1; Max-Age=x", f"a={R}; Max-Age={R}"),
        ("a=1; ; ", f"a={R}; ; "),
        ("", ""),
    ],
)
def test_mask_cookies(text: str, expected: str) -> None:
    assert redaction_masks.mask_cookies(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("page=2&api_key=x&flag", f"page={R}&api_key={R}&{R}"),
        ("", ""),
        ("a=&b", f"a=&{R}"),
        ("&&", "&&"),
        ("a=1=2", f"a={R}"),
    ],
)
def test_mask_query_string(text: str, expected: str) -> None:
    assert redaction_masks.mask_query_string(text) == expected


def test_replaced_spans_touching_or_overlapping() -> None:
    assert redaction_masks._replaced("abcdef", [(3, 5, "Y"), (0, 3, "X")]) == "XYf"
    assert redaction_masks._replaced("abcdef", [(0, 3, "X"), (1, 4, "Y")]) == "Xef"
    assert redaction_masks._replaced("abcdef", [(0, 4, "X"), (1, 2, "Y")]) == "Xef"
    assert redaction_masks._replaced("abcdef", []) == "abcdef"
