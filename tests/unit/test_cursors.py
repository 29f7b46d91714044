"""Page cursors: URL-safe base64 of a versioned id, read back exactly (resolvers/pagination.py)."""

from __future__ import annotations

import base64

import pytest

from accessgraph.errors import ExposedError
from accessgraph.models.base import MAX_ID
from accessgraph.resolvers.pagination import decode_cursor, encode_cursor

IDS = [*range(0, 3000), 65_535, 999_999, MAX_ID]


def test_a_cursor_is_the_url_safe_base64_of_its_id() -> None:
    cursors = [encode_cursor(i) for i in IDS]
    assert cursors == [base64.urlsafe_b64encode(f"cursor:v1:{i}".encode()).decode() for i in IDS]
    assert not any("+" in c or "/" in c for c in cursors)


def test_a_cursor_reads_back_as_its_id() -> None:
    assert [decode_cursor(encode_cursor(i)) for i in IDS] == IDS


@pytest.mark.parametrize(
    "cursor", ["", "not base64!", encode_cursor(MAX_ID + 1), "Y3Vyc29yOnYxOi0x", "YWJj"]
)
def test_anything_else_is_not_a_cursor(cursor: str) -> None:
    with pytest.raises(ExposedError, match="cursor is not valid"):
        decode_cursor(cursor)
