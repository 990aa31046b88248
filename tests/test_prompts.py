"""Prompt files end exactly where their few-shot examples say the model's answer starts.

A prompt whose examples read ``Stated: Yes`` must end with ``Stated:`` (no newline, no space: the
scored continuation is ``" Yes"``); one whose examples put the answer on the next line (``Triples:``
then the triples) must end with the cue and one newline. ``judge.v1`` ended with ``Stated:\\n`` and
so scored ``" Yes"`` on a line of its own, which no example does.
"""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from conftest import ScriptedLLM
from kgpipe.fusion import adjudicate
from kgpipe.ingest import denoise, extract, grounded, structured
from kgpipe.prompts import prompt
from kgpipe.qa import answer as qa
from kgpipe.qa import context as kgrag
from kgpipe.qa import text2cypher
from kgpipe.records import Chunk, MentionIn, Provenance, Triple
from kgpipe.trust import signals as judge

IN_USE = {
    judge.PROMPT_VERSION,
    adjudicate.PROMPT_VERSION,
    denoise.ENTITIES_PROMPT,
    denoise.PROMPT_VERSION,
    extract.PROMPT_VERSION,
    grounded.PROMPT_VERSION,
    structured.PROMPT_VERSION,
    kgrag.PROMPT_VERSION,
    text2cypher.PROMPT_VERSION,
    qa.PROMPT_VERSION,
    qa.EXPLAIN_PROMPT,
    qa.REASONER_PROMPT,
}
_VERSIONED = re.compile(r"^(?P<base>.+)\.v(?P<n>\d+)$")


def _cue_and_examples(text: str) -> tuple[str, list[str]]:
    """The last line of a prompt (the cue the answer follows) and the earlier lines that begin with it."""
    lines = text.removesuffix("\n").split("\n")
    cue = lines[-1]
    return cue, [line for line in lines[:-1] if line.startswith(cue)]


@pytest.mark.parametrize("name", sorted(IN_USE))
def test_prompt_ends_where_its_examples_continue(name):
    text = prompt(name)
    cue, examples = _cue_and_examples(text)
    same_line = [line for line in examples if line != cue]
    next_line = [line for line in examples if line == cue]
    assert not (same_line and next_line), f"{name}: its examples answer both on the cue's line and after it"
    if next_line:
        assert text.endswith(cue + "\n") and not text.endswith("\n\n"), f"{name}: the answer starts on the next line"
    else:
        assert text.endswith(cue), f"{name} ends after {cue!r} (a newline or space) where its examples continue on the same line"
        assert not cue.endswith(" "), f"{name}: the continuation brings its own leading space"
        assert all(line[len(cue)] == " " and line[len(cue) + 1] != " " for line in same_line), f"{name}: one space after {cue!r}"


def test_every_prompt_file_is_in_use_or_superseded():
    names = {p.name.removesuffix(".md") for p in files("kgpipe.prompts").iterdir() if p.name.endswith(".md")}
    latest: dict[str, int] = {}
    for name in IN_USE:
        m = _VERSIONED.match(name)
        assert m is not None, name
        latest[m["base"]] = int(m["n"])
    assert IN_USE <= names
    for name in names - IN_USE:
        m = _VERSIONED.match(name)
        assert m is not None and int(m["n"]) < latest.get(m["base"], 0), f"{name} is neither used nor an older version"


def test_the_old_judge_prompt_is_the_one_the_check_catches():
    """The check above is not vacuous: the v1 prompts fail it, and their v2 differ only in the ending."""
    for old, new in (("judge.v1", judge.PROMPT_VERSION), ("same_entity.v1", adjudicate.PROMPT_VERSION),
                     ("denoise.entities.v1", denoise.ENTITIES_PROMPT)):  # fmt: skip
        text = prompt(old)
        cue, examples = _cue_and_examples(text)
        assert any(line != cue for line in examples) and not text.endswith(cue)
        assert prompt(new) == text.removesuffix("\n")


class RecordingScorer(ScriptedLLM):
    """Scores nothing in particular; records (context, continuation) of every scoring request."""

    def __init__(self):
        super().__init__("", model_id="recorder")
        self.requests: list[tuple[str, str]] = []

    def logprob(self, contexts, continuations):
        self.requests.extend(zip(contexts, continuations))
        return [-1.0] * len(contexts)


def _scored_line(context: str, continuation: str) -> str:
    return context.rsplit("\n", 1)[-1] + continuation


def test_judge_scores_yes_and_no_on_the_line_its_examples_use():
    llm = RecordingScorer()
    chunk = Chunk("c0", "d", 0, "Ulm is a city in Germany.", 0, 25)
    triple = Triple("Ulm", "located in", "Germany", provenance=Provenance("d", "c0", "t"))
    judge.raw_signals([triple], [chunk.text], llm, wanted=["yes_no"])
    template = prompt(judge.PROMPT_VERSION)
    assert sorted(c for _, c in llm.requests) == [" No", " Yes"]
    for context, continuation in llm.requests:
        assert context.endswith("Fact: Ulm located in Germany.\nStated:")
        assert f"\n{_scored_line(context, continuation)}\n" in template  # "Stated: Yes" is an example line


def test_adjudicator_scores_yes_and_no_on_the_line_its_examples_use():
    llm = RecordingScorer()
    adjudicate.llm_adjudicator(llm)([(MentionIn("Munich", "City"), MentionIn("München", "City"))])
    template = prompt(adjudicate.PROMPT_VERSION)
    assert sorted(c for _, c in llm.requests) == [" no", " yes"]
    for context, continuation in llm.requests:
        assert f"\n{_scored_line(context, continuation)}\n" in template  # "Same: yes" is an example line
