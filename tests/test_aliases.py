"""Curated alias files (``kgpipe.fusion.aliases``): reading, groups that share a name merged, and a build with one."""

from __future__ import annotations

import pytest

from kgpipe.errors import DataError
from kgpipe.fusion.aliases import alias_table, read_aliases
from kgpipe.stores import resolve_store


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


def test_build_with_an_alias_file_joins_an_exonym_pair_in_the_store(settings, store, tmp_path):
    """A real build (chunking, extraction with a scripted model, fusion, the FalkorDB store kgpipe starts): the alias
    file's Peking and Beijing, named in two documents, are one entity; without it they are two."""
    from conftest import ScriptedLLM
    from kgpipe.ingest.pipeline import build

    docs = tmp_path / "docs"
    docs.mkdir()
    texts = {"polo.txt": ("Marco Polo visited Peking in 1275.", "Marco Polo | visited | Peking\nEND"),
             "palace.txt": ("The Forbidden City stands in Beijing.", "Forbidden City | located in | Beijing\nEND")}  # fmt: skip
    for name, (text, _) in texts.items():
        (docs / name).write_text(text, encoding="utf-8")

    def answer(prompt: str, *_: object) -> str:
        text = prompt.rsplit("Text:", 1)[-1]
        return next((reply for sentence, reply in texts.values() if sentence in text), "END")

    def entities(graph_store) -> list[set[str]]:
        rows = graph_store.execute("MATCH (e:Entity) RETURN e.name, e.aliases").rows
        return [{name, *(aliases or [])} for name, aliases in rows]

    aliases = tmp_path / "aliases.tsv"
    aliases.write_text("# exonyms\nBeijing\tPeking\tPeiping\n", encoding="utf-8")
    quiet = settings.replace(judge=False, llm_cache=False, place_aliases="", name_aliases="")  # the file alone (not the gazetteers, not WordNet)
    result = build(docs, quiet.replace(aliases=str(aliases)), llm=ScriptedLLM(answer), store=store)
    assert result.documents_built == 2 and not result.failures
    assert {"Beijing", "Peking"} in entities(store) and len(entities(store)) == 3

    plain = resolve_store("falkordb", quiet.replace(graph=quiet.graph + "_plain"))
    try:
        build(docs, quiet, llm=ScriptedLLM(answer), store=plain)
        assert {"Beijing"} in entities(plain) and {"Peking"} in entities(plain) and len(entities(plain)) == 4
    finally:
        plain.execute("MATCH (n) DETACH DELETE n", write=True)
        plain.close()
