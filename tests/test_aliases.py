"""Curated alias files (``kgpipe.fusion.aliases``): reading, and groups that share a name merged."""

from __future__ import annotations

import pytest

from kgpipe.errors import DataError
from kgpipe.fusion.aliases import alias_table, read_aliases


def test_read_aliases_groups_comments_and_bad_lines(tmp_path):
    path = tmp_path / "aliases.tsv"
    path.write_text("# exonyms\nBeijing\tPeking\n\nNetherlands\tHolland\tHolland\n", encoding="utf-8")
    assert read_aliases(path) == [("Beijing", "Peking"), ("Netherlands", "Holland")]
    path.write_text("Beijing\tPeking\nlonely\n", encoding="utf-8")
    with pytest.raises(DataError, match=":2:"):
        read_aliases(path)
    with pytest.raises(DataError):
        read_aliases(tmp_path / "missing.tsv")


def test_alias_table_merges_groups_that_share_a_name():
    table = alias_table([("Beijing", "Peking"), ("PEKING", "Peiping"), ("Bombay", "Mumbai")])
    assert table["beijing"] == table["peking"] == table["peiping"] != table["mumbai"]
    assert table["bombay"] == table["mumbai"] and "delhi" not in table
