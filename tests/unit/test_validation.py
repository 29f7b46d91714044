"""`has_control` (R-wide input hygiene): ASCII text is checked with `str.isprintable` (issue 8),
which must find exactly the characters the Unicode categories find."""

from __future__ import annotations

import unicodedata

import pytest

from accessgraph.resolvers.validation import has_control


def by_category(text: str) -> bool:
    return any(unicodedata.category(ch).startswith("C") for ch in text)


def test_every_ascii_character_is_judged_as_its_category_judges_it() -> None:
    for code in range(128):
        for text in (chr(code), f"team{chr(code)}-api"):
            assert has_control(text) is by_category(text), repr(text)


@pytest.mark.parametrize(
    "text",
    ["", "team116-api", "café", "a\u202eb", "zero\u200bwidth", "\x85", "tab\tin", "\U000e0001"],
)
def test_other_text_is_judged_by_category(text: str) -> None:
    assert has_control(text) is by_category(text)
