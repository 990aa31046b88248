"""Grounded extraction: a local model writes a chunk's triples under a grammar, so that every head and tail
is a name from the chunk's own text and every relation one of the ontology's (GenIE's constrained
decoding, applied to open documents).

The output keeps the free prompt's format, one ``head | relation | tail`` line per triple and ``END``,
but each line is decoded under a grammar (``TripleGrammar``):

* head: one of the chunk's candidate names (``spans.candidate_spans``: entities, noun chunks, proper
  nouns, numbers), or ``END``;
* relation: one of the ontology's relation labels; without an ontology, free words (no ``|`` or
  newline, at most ``FREE_RELATION_TOKENS`` tokens), canonicalised after extraction;
* tail: a candidate name other than the head;
* separators and the newline are forced, as is everything the grammar leaves one way to write (the
  rest of a name once its first token is chosen): jump-forward feeds them without forward passes;
* at most ``max_triples`` lines, no line twice and one relation per pair of names (this ends the loops a free small
  model falls into, and a statement is not made twice in two relations: `headquartered in` and `located in`).

So the ungrounded-name rate is 0 by construction. Decoding is greedy (``kgpipe.llms.grammar``), one chunk
per call, with the prompt's shared prefix (instructions, ontology, examples) computed once.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from ..llms.contract import local_model
from ..llms.trie import PathTrie, continuation_ids
from ..prompts import prompt
from ..records import GENERIC_TYPE, Chunk, Provenance, Triple
from .extract import ExtractionResult, build_prompt
from .spans import DETERMINERS, candidate_spans, sentence_bounds

if TYPE_CHECKING:
    from ..llms import LLM
    from ..llms.grammar import GrammarDecoder
    from ..ontology import Ontology

PROMPT_VERSION = "extract.grounded.v1"  # with an ontology that has its examples' relations; else extract.v1's prompt
_EXAMPLE_RELATIONS = ("date of birth", "date of death", "born in", "won", "located in", "founded in", "author of")
_GRAMMAR_VERSION = 2  # part of the cache key: a change to the grammar's rules is a new version
FREE_RELATION_TOKENS = 6
# Membership of a kind ("Apple | is a | company") is the node's type, not a fact between two names: grounded
# decoding leaves it out. Offered, the small model took it for 53-64% of its lines, rarely rightly; leaving it
# out raised GenWiki-Hard (first 40) pair F1 from 0.167 to 0.243 (judge off).
TYPE_RELATION = "instance of"
TAILS_PER_RELATION = 2  # a head takes a relation at most this often per chunk (not "located in" five places at once)
END = "END"
_HEAD, _RELATION, _TAIL, _DONE = range(4)
_NUMBER = "_number"


class _Names:
    """A trie of some texts, each text's tokens, and per node how many texts end at or below it."""

    def __init__(self, tokenizer: Any, texts: Sequence[str], context: str) -> None:
        self.tokens = list(continuation_ids(tokenizer, texts, context=context))
        self.trie = PathTrie.build(self.tokens)
        self.below: dict[int, int] = {}
        for seq in self.tokens:
            for node in self._path(seq):
                self.below[node] = self.below.get(node, 0) + 1

    def _path(self, seq: Sequence[int]) -> list[int]:
        node, nodes = 0, []
        for token in seq:
            node = self.trie.step(node, token)
            nodes.append(node)
        return nodes

    def allowed(self, node: int, banned: Sequence[int] = ()) -> np.ndarray:
        """Tokens after ``node`` that still lead to a text not in ``banned`` (ids)."""
        children = self.trie.children(node)
        if not banned:
            return children
        gone: dict[int, int] = {}
        for i in set(banned):
            for n in self._path(self.tokens[i]):
                gone[n] = gone.get(n, 0) + 1
        keep = [t for t in children.tolist() if self.below.get(c := self.trie.step(node, t), 0) > gone.get(c, 0)]
        return np.asarray(keep, dtype=np.int64)


@dataclass(frozen=True)
class _State:
    phase: int = _HEAD
    node: int = 0
    head: int = -1
    relation: int | tuple[int, ...] = -1  # a label's index, or the free relation's tokens so far
    triples: tuple[tuple[int, int | tuple[int, ...], int], ...] = ()


class TripleGrammar:
    """Lines ``head | relation | tail`` over one chunk's names and the allowed relations, then ``END``.

    ``no_relations[h]``: relation ids head ``h`` may not take; ``no_tails[r]``: name ids relation ``r`` may
    not point to (both from entity types against the ontology's domains and ranges; ``typed_grammar``).
    """

    def __init__(self, tokenizer: Any, names: Sequence[str], relations: Sequence[str] | None, *, max_triples: int,
                 no_relations: Sequence[Sequence[int]] | None = None,
                 no_tails: Sequence[Sequence[int]] | None = None) -> None:  # fmt: skip
        self.names = list(names)
        self.relations = list(relations) if relations is not None else None
        self.max_triples = max_triples
        self.tokenizer = tokenizer
        self.end_id = len(self.names)
        self.no_relations = no_relations
        self.no_tails = no_tails
        # A head none of whose relations has a tail left is no head: the line could not be finished.
        self.no_heads = [h for h in range(len(self.names)) if no_relations is not None and self.relations is not None
                         and len(set(no_relations[h])) >= len(self.relations)]  # fmt: skip
        self._heads = _Names(tokenizer, [f"{n} |" for n in self.names] + [END], "\n")
        self._tails = _Names(tokenizer, [f" {n}\n" for n in self.names], "x |")
        if self.relations is not None:
            self._relations = _Names(tokenizer, [f" {r} |" for r in self.relations], "x |")
        else:
            self._separator, self._free = _free_vocabulary(tokenizer)
            self._free_or_close = np.union1d(self._free, [self._separator])

    def start(self) -> _State:
        return _State() if self.names and self.max_triples > 0 else _State(_DONE)

    def done(self, state: _State) -> bool:
        return state.phase == _DONE

    def allowed(self, state: _State) -> np.ndarray:
        if state.phase == _HEAD:
            return self._heads.allowed(state.node, self.no_heads)
        if state.phase == _TAIL:
            used = [t for h, _, t in state.triples if h == state.head]  # one relation per pair of names
            typed = self.no_tails[state.relation] if self.no_tails is not None and isinstance(state.relation, int) else ()
            return self._tails.allowed(state.node, [state.head, *used, *typed])
        if state.phase == _RELATION:
            if self.relations is not None:
                full = [r for r, n in Counter(r for h, r, _ in state.triples if h == state.head).items()
                        if n >= TAILS_PER_RELATION]  # fmt: skip
                typed = self.no_relations[state.head] if self.no_relations else []
                return self._relations.allowed(state.node, [*typed, *full])
            words = state.relation if isinstance(state.relation, tuple) else ()
            if not words:
                return self._free
            return np.asarray([self._separator]) if len(words) >= FREE_RELATION_TOKENS else self._free_or_close
        return np.empty(0, dtype=np.int64)

    def advance(self, state: _State, token: int) -> _State:
        if state.phase == _HEAD:
            node = self._heads.trie.step(state.node, token)
            ends = self._heads.trie.ends(node)
            if not ends:
                return _State(_HEAD, node, triples=state.triples)
            if ends[0] == self.end_id:
                return _State(_DONE, triples=state.triples)
            return _State(_RELATION, 0, ends[0], () if self.relations is None else -1, state.triples)
        if state.phase == _RELATION:
            if self.relations is None:
                words = state.relation if isinstance(state.relation, tuple) else ()
                if token == self._separator:
                    return _State(_TAIL, 0, state.head, words, state.triples)
                return _State(_RELATION, 0, state.head, (*words, token), state.triples)
            node = self._relations.trie.step(state.node, token)
            ends = self._relations.trie.ends(node)
            return _State(_TAIL if ends else _RELATION, 0 if ends else node, state.head,
                          ends[0] if ends else -1, state.triples)  # fmt: skip
        node = self._tails.trie.step(state.node, token)
        ends = self._tails.trie.ends(node)
        if not ends:
            return _State(_TAIL, node, state.head, state.relation, state.triples)
        triples = (*state.triples, (state.head, state.relation, ends[0]))
        return _State(_DONE if len(triples) >= self.max_triples else _HEAD, triples=triples)

    def triples(self, state: _State) -> list[tuple[str, str, str]]:
        """The complete lines decoded so far, as texts."""
        return [(self.names[h], self._relation_text(r), self.names[t]) for h, r, t in state.triples]

    def _relation_text(self, relation: int | tuple[int, ...]) -> str:
        if isinstance(relation, tuple):
            return " ".join(str(self.tokenizer.decode(list(relation), skip_special_tokens=True)).split())
        assert self.relations is not None
        return self.relations[relation]


@lru_cache(maxsize=4)
def _free_vocabulary(tokenizer: Any) -> tuple[int, np.ndarray]:
    """The separator token (" |") and the tokens a free relation may use: any with text but no "|" or newline."""
    separator = next(iter(continuation_ids(tokenizer, [" |"], context="x")))
    if len(separator) != 1:
        raise ValueError("free relations need a tokenizer with a single ' |' token; set an ontology")
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    size = len(tokenizer)
    texts = tokenizer.batch_decode([[i] for i in range(size)], skip_special_tokens=False)
    keep = [i for i, t in enumerate(texts) if t.strip() and "|" not in t and "\n" not in t and i not in special
            and not (t.startswith("<") and t.endswith(">"))]  # fmt: skip
    return separator[0], np.asarray(keep, dtype=np.int64)


@dataclass
class GroundedStats:
    """What grounded extraction cost: chunks, triples, forward passes, forced and all tokens (the stage's
    seconds are measured by its caller, with the other stages')."""

    chunks: int = 0
    sentences: int = 0  # decoded: those with two names or more
    triples: int = 0
    passes: int = 0
    forced: int = 0
    tokens: int = 0


# spaCy's entity labels as the general ontology's classes (an ontology without the class: no constraint).
# Numbers other than years and nationality words get a type no class range accepts. The small tagger's works,
# products, laws and events are too often wrong ("the Nobel Prize" a work, "Watson" a person) to bar a relation:
# those spans stay untyped.
_CLASS_OF_LABEL = {"PERSON": "Person", "ORG": "Organization", "GPE": "Place", "LOC": "Place", "FAC": "Place",
                   "DATE": "Date", "CARDINAL": _NUMBER, "QUANTITY": _NUMBER, "MONEY": _NUMBER, "PERCENT": _NUMBER,
                   "ORDINAL": _NUMBER, "NORP": _NUMBER}  # fmt: skip
_TAGGED = ("Person", "Organization", "Place", "Date")  # classes the entity tagger names reliably
_YEAR = re.compile(r"1\d{3}|20\d{2}")
# A number and its unit or counted noun ("320 MW", "621 games", "10–11 mm"): an amount, whatever the tagger says;
# a year before a noun ("1993 fighting video game") is not one.
_AMOUNT = re.compile(r"\d[\d,.]*(?:\s*[–-]\s*\d[\d,.]*)?(?:\s+(?:[a-z%][\w%.-]*|[A-Z]{1,3}))*")


def names_of(chunk: Chunk) -> dict[str, str]:
    """The distinct candidate names of a chunk (no "|", which the line format reserves), in text order, each with
    the kind of thing it names as far as the span tells: a class name of the general ontology, ``_NUMBER``, or ""."""
    seen: dict[str, str] = {}
    for name, kind, _, _ in _named_spans(chunk.text):
        if not seen.get(name):
            seen[name] = kind
    return seen


def sentence_names(chunk: Chunk) -> list[tuple[str, dict[str, str]]]:
    """The chunk's sentences, each with the candidate names inside it and their kinds (as ``names_of`` gives them
    for the whole chunk, so a name has one kind wherever it occurs); sentences with fewer than two names, which
    state no fact between names, are left out."""
    kinds = names_of(chunk)
    spans = _named_spans(chunk.text)
    out = []
    for start, end in sentence_bounds(chunk.text):
        inside = {name: kinds[name] for name, _, a, b in spans if start <= a and b <= end}
        if len(inside) >= 2:
            out.append((chunk.text[start:end], inside))
    return out


def _named_spans(text: str) -> list[tuple[str, str, int, int]]:
    """Candidate names of ``text`` with their kinds and offsets (see ``names_of``), in text order."""
    out = []
    spans = candidate_spans(text)
    entities = [s for s in spans if s.label]
    texts = {" ".join(s.text.split()) for s in spans}
    for span in spans:
        if "\n" in span.text:
            continue  # runs across a line: a heading and the text under it ("Death Pierre Curie")
        name = " ".join(span.text.split())
        words = name.split()
        if "|" in name or (words[0].lower() in DETERMINERS and " ".join(words[1:]) in texts) or _repeated(words):
            continue  # "the Alps" is "Alps", "a city" or "her daughter" no name; "Apple Inc. Apple Inc." (a title) once
        # A span inside an entity takes its label: "United States" in "the United States", "5 October" in a date.
        label = span.label or next((e.label for e in entities if e.start <= span.start and span.end <= e.end), "")
        if label:
            kind = _CLASS_OF_LABEL.get(label, "")
        elif span.kind == "number":
            kind = "Date" if _YEAR.fullmatch(span.text) else _NUMBER
        elif span.common:
            kind = "Concept"  # a common noun phrase ("physicist", "British racing driver"): a kind of thing
        else:
            kind = ""
        if _AMOUNT.fullmatch(name) and not _YEAR.fullmatch(words[0]):
            kind = _NUMBER
        out.append((name, kind, span.start, span.end))
    return out


def _repeated(words: list[str]) -> bool:
    half = len(words) // 2
    return len(words) % 2 == 0 and half > 0 and words[:half] == words[half:]


def typed_grammar_relations(ontology: "Ontology") -> tuple[Any, ...]:
    """The ontology's relations a grounded line may use: all but the type relation (``TYPE_RELATION``)."""
    kind = ontology.relation(TYPE_RELATION)
    return tuple(r for r in ontology.relations if r is not kind)


def typed_grammar(tokenizer: Any, names: dict[str, str], ontology: "Ontology | None", *, max_triples: int) -> TripleGrammar:
    """The chunk's grammar; with an ontology, a relation only between names whose kinds fit its domain and range
    (a name of unknown kind fits everything)."""
    texts = list(names)
    if ontology is None:
        return TripleGrammar(tokenizer, texts, None, max_triples=max_triples)
    labels, no_relations, no_tails = typing(names, ontology)
    return TripleGrammar(tokenizer, texts, labels, max_triples=max_triples, no_relations=no_relations, no_tails=no_tails)


def typing(names: dict[str, str], ontology: "Ontology") -> tuple[list[str], list[list[int]], list[list[int]]]:
    """The grammar's relation labels, and by index the relations each name may not head and the names each
    relation may not point to: a relation only between names whose kinds fit its domain and range."""
    texts = list(names)
    relations = typed_grammar_relations(ontology)
    lineage = {kind: set(ontology.ancestors(kind)) for kind in set(names.values()) if kind and kind != _NUMBER}
    tagged = [c for c in _TAGGED if ontology.cls(c) is not None]

    def fits(kind: str, allowed: tuple[str, ...]) -> bool:
        if not allowed:
            return True
        if not kind:  # unknown: fits a side the tagger could not have typed (Award, Concept), not one it could
            return not all(any(ontology.is_a(a, t) for t in tagged) for a in allowed)
        if kind == _NUMBER:
            return False
        return not lineage[kind] or bool(lineage[kind] & set(allowed))  # a class this ontology lacks: can't tell

    no_tails = [[i for i, n in enumerate(texts) if not fits(names[n], r.range)] for r in relations]
    no_relations = []
    for h, name in enumerate(texts):
        banned = [r for r, rel in enumerate(relations)
                  if not fits(names[name], rel.domain) or len(set(no_tails[r]) | {h}) >= len(texts)]  # fmt: skip
        no_relations.append(banned)
    return [r.label for r in relations], no_relations, no_tails


def extract_grounded(
    chunks: Sequence[Chunk],
    llm: "LLM",
    *,
    ontology: "Ontology | None" = None,
    max_new_tokens: int = 96,
    max_triples: int = 3,
    on_progress: Callable[[int], None] | None = None,
    stats: GroundedStats | None = None,
    encode: Callable[[list[str]], np.ndarray] | None = None,
) -> ExtractionResult:
    """Each chunk's triples decoded under its ``TripleGrammar`` by the local model behind ``llm`` (through the
    response cache when ``llm`` has one). Raises ``MissingCapability`` for a model without logits."""
    from ..llms.grammar import GrammarDecoder  # torch: imported when a model decodes, not with kgpipe

    local = local_model(llm, needed_for="grounded extraction")
    relations = [r.label for r in typed_grammar_relations(ontology)] if ontology is not None else None
    decoder: "GrammarDecoder | None" = None
    stats = stats if stats is not None else GroundedStats()
    result = ExtractionResult()

    def run(todo: list[int], prompts: list[str], names: list[dict[str, str]]) -> list[Any]:
        nonlocal decoder
        if decoder is None:
            decoder = GrammarDecoder(local, prefix=_shared_prefix(prompts))
        out = []
        for i in todo:
            grammar = typed_grammar(local.tokenizer, names[i], ontology, max_triples=max_triples)
            decoded = decoder.decode(prompts[i], grammar, max_new_tokens=max_new_tokens)
            out.append({"triples": grammar.triples(decoded.state), "passes": decoded.passes,
                        "forced": decoded.forced, "tokens": len(decoded.tokens)})  # fmt: skip
        return out

    memo = getattr(llm, "memo", None)
    decoded: list[tuple[Provenance, str, dict[str, str], list[tuple[str, str, str]]]] = []
    for chunk in chunks:
        prov: Provenance | None = None
        for sentence, names in sentence_names(chunk):
            sentence_prompt, version = grounded_prompt(sentence, ontology)
            payload = [sentence_prompt, names, relations, max_triples, max_new_tokens, _GRAMMAR_VERSION,
                       TAILS_PER_RELATION, FREE_RELATION_TOKENS]  # fmt: skip
            if memo is not None:
                value = memo("grounded", [payload], lambda todo, p=sentence_prompt, n=names: run(todo, [p], [n]))[0]
            else:
                value = run([0], [sentence_prompt], [names])[0]
            prov = prov or Provenance(chunk.doc_id, chunk.id, llm.model_id, version, (chunk.start, chunk.end))
            decoded.append((prov, sentence, names, [tuple(t) for t in value["triples"]]))
            stats.sentences += 1
            stats.triples += len(value["triples"])
            stats.passes += value["passes"]
            stats.forced += value["forced"]
            stats.tokens += value["tokens"]
        stats.chunks += 1
        if on_progress is not None:
            on_progress(1)
    if encode is not None and ontology is not None:
        # Re-chosen once every sentence is decoded, with one call for all their texts: decoding never waits for
        # MiniLM (on Ray it is the embedding actor's, loading while the model decodes).
        encode(sorted({x for _, sentence, names, lines in decoded
                       for x in rerank_texts(sentence, names, lines, ontology)}))  # fmt: skip
    seen: dict[str, set[tuple[str, str, str]]] = {}  # per chunk
    for prov, sentence, names, lines in decoded:
        if encode is not None and ontology is not None:
            lines = rerank_relations(sentence, names, lines, ontology, encode)
        for head, relation, tail in lines:
            known = seen.setdefault(prov.chunk_id, set())
            if (head, relation, tail) not in known:  # two sentences that state one fact: one triple
                known.add((head, relation, tail))
                result.triples.append(Triple(head, relation, tail, GENERIC_TYPE, GENERIC_TYPE, 1.0, prov))
    return result


EVIDENCE_WORDS = 8  # the words between a line's two names that may re-choose its relation; more: a clause, not a cue


def rerank_relations(sentence: str, names: dict[str, str], triples: Sequence[tuple[str, str, str]],
                     ontology: "Ontology", encode: Callable[[list[str]], np.ndarray]) -> list[tuple[str, str, str]]:
    """Each decoded line's relation chosen again now that its tail is known: of the relations the two names'
    kinds allow, the label closest (MiniLM cosine) to the words between the two names in the sentence
    ("is headquartered in", "died on"). Lines whose names are adjacent, far apart or have another name between
    them keep the model's choice.

    Greedy decoding commits to a relation before it picks the tail, and the small model favours a few labels
    whatever the sentence says (``Apple | located in | Cupertino`` from "Apple is headquartered in Cupertino")."""
    jobs = _rerank_jobs(sentence, names, triples, ontology)
    out = [tuple(t) for t in triples]
    if not jobs:
        return out  # type: ignore[return-value]
    texts = sorted({x for _, between, allowed in jobs for x in (between, *allowed)})
    vectors = dict(zip(texts, encode(texts)))
    for k, between, allowed in jobs:
        scores = [float(vectors[label] @ vectors[between]) for label in allowed]
        head, _, tail = triples[k]
        out[k] = (head, allowed[int(np.argmax(scores))], tail)
    return out  # type: ignore[return-value]


def rerank_texts(sentence: str, names: dict[str, str], triples: Sequence[tuple[str, str, str]],
                 ontology: Ontology) -> set[str]:  # fmt: skip
    """What ``rerank_relations`` will encode for these lines: asked for at once for many sentences, so that an
    encoder in another process (a Ray build's embedding actor) is called once per batch, not once per sentence."""
    return {x for _, between, allowed in _rerank_jobs(sentence, names, triples, ontology) for x in (between, *allowed)}


def _rerank_jobs(sentence: str, names: dict[str, str], triples: Sequence[tuple[str, str, str]],
                 ontology: Ontology) -> list[tuple[int, str, list[str]]]:  # fmt: skip
    """The lines whose relation the words between their names may re-choose: (index, those words, the labels
    the names' kinds allow), for lines with such words and more than one label allowed."""
    labels, no_relations, no_tails = typing(names, ontology)
    index = {n: i for i, n in enumerate(names)}
    jobs = []
    for k, (head, _, tail) in enumerate(triples):
        between = _between(sentence, head, tail)
        if any(n in between for n in names if n not in (head, tail)):
            between = ""  # the words link another name ("died on 4 July 1934 in"): no cue for this pair
        allowed = [label for r, label in enumerate(labels)
                   if r not in no_relations[index[head]] and index[tail] not in no_tails[r]]  # fmt: skip
        if between and len(allowed) > 1:
            jobs.append((k, between, allowed))
    return jobs


def _between(sentence: str, head: str, tail: str) -> str:
    """The words between the first occurrences of two names in a sentence, if there are 1..EVIDENCE_WORDS."""
    i, j = sentence.find(head), sentence.find(tail)
    if i < 0 or j < 0:
        return ""
    words = (sentence[i + len(head) : j] if i < j else sentence[j + len(tail) : i]).split()
    return " ".join(words) if 0 < len(words) <= EVIDENCE_WORDS else ""


def grounded_prompt(text: str, ontology: "Ontology | None") -> tuple[str, str]:
    """The prompt for one chunk and its version: examples written in the ontology's relations when it has those
    the examples use (the general ontology), else the free prompt's."""
    if ontology is not None and all(ontology.relation(r) is not None for r in _EXAMPLE_RELATIONS):
        guide = f"\n{ontology.prompt_block()}\n"
        return prompt(PROMPT_VERSION).replace("{ontology}", guide).replace("{text}", " ".join(text.split())), PROMPT_VERSION
    return build_prompt(text, ontology), "extract.v1+grounded"


def _shared_prefix(prompts: list[str]) -> str:
    """The part of the extraction prompt that does not depend on the chunk: everything before its last "Text:"."""
    cut = prompts[0].rfind("\nText: ")
    return prompts[0][: cut + 1] if cut > 0 else ""
