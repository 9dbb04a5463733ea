"""The prefilter of long texts (``Policy._sketch_clear``, its needles prepared by ``redaction_text.sketch_needles``)
never hides a needle: every needle a mask gates on, in every spelling the masks read it in, makes ``needs_mask``
answer yes inside a long text whose other pieces are remembered clean. A needle the sketch lost would skip the masks
for every long text holding it: a secret recorded as it is."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lambda_tracer import redaction

#: Records an API returns (ids, times, counts): the pieces a sketch remembers clean, the needle's piece new among them.
FILLER = '{"id": "0f3a9c2e-7b41-4d6a-9e1f-3c5b8a2d7e90", "at": "2026-12-07T10:11:12Z", "n": 12345},' * 40

SPELLINGS: dict[str, Callable[[str], str]] = {
    "lower": str.lower,
    "upper": str.upper,
    "title": str.title,
    "first capital": lambda needle: needle[:1].upper() + needle[1:],
    "last capital": lambda needle: needle[:-1] + needle[-1:].upper(),
    "alternating": lambda needle: "".join(c.upper() if i % 2 else c for i, c in enumerate(needle)),
}


def _found(policy: redaction.Policy, needle: str) -> bool:
    text = f'{FILLER}{{"note": "x {needle} y"}},{FILLER}'
    assert len(text) > 5_000 and text.isascii()
    return policy.needs_mask(text)


@pytest.mark.parametrize("spelling", list(SPELLINGS))
def test_every_named_needle_is_found_in_a_long_text_in_any_case(spelling: str) -> None:
    policy = redaction.Policy()
    assert not policy.needs_mask(FILLER + FILLER)  # the filler alone is clean, and now remembered so
    missed = [needle for needle in policy._needles if not _found(policy, SPELLINGS[spelling](needle))]
    assert missed == []


def test_every_form_needle_is_found_in_a_long_text_as_it_is_written() -> None:
    policy = redaction.Policy()
    assert not policy.needs_mask(FILLER + FILLER)
    assert [needle for needle in redaction._FORM_NEEDLES if not _found(policy, needle)] == []


def test_a_needle_found_once_is_found_again_after_clean_texts_holding_its_image() -> None:
    """A weak needle (``cred`` reads ``#r##`` in a sketch, as ``created`` does): once a clean piece holding its image is
    remembered, the needle itself is still searched in the text, so it is found in the next text that holds it."""
    policy = redaction.Policy()
    for needle in ("cred", "Cred", "CRED", "cvc", "CVC", "otp", "OTP"):
        assert not policy.needs_mask(f'{FILLER}{{"state": "created", "a": "bcd", "opt": 1}},{FILLER}')
        assert _found(policy, needle), needle
