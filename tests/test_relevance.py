"""kgpipe.qa.relevance: hops matched one to one, in order or in reverse, to phrases of the question."""

from __future__ import annotations

import numpy as np

from kgpipe.qa.relevance import match_hops, question_phrases


def test_phrases_skip_function_words_and_the_masked_entity():
    phrases = [p[2] for p in question_phrases("what is the cause of death of someone s father s children")]
    assert "cause" in phrases and "cause of death" in phrases and "father s children" in phrases
    assert not any(p.startswith(("of ", "the ")) or "someone" in p for p in phrases)


def test_each_phrase_answers_one_hop():
    # "someone s father s children": phrase 0 "father" (word 2), phrase 1 "children" (word 4)
    spans = [(2, 3), (4, 5)]
    parents = [0.8, 0.1]  # a `parents` hop: close to "father" only
    children = [0.1, 0.9]
    whole = 0.3  # either relation against the whole question
    right = match_hops(np.array([parents, children]), [whole, whole], spans)
    assert right == [0.8, 0.9]
    # parents -> parents: only one of them gets "father"; the other counts the whole question
    twice = match_hops(np.array([parents, parents]), [whole, whole], spans)
    assert sorted(twice) == [0.3, 0.8] and sum(right) > sum(twice)


def test_hops_may_follow_the_question_in_reverse_but_not_out_of_order():
    # "the wife of the father of someone": wife (word 1), father (word 4); the path is parents -> spouse
    spans = [(1, 2), (4, 5)]
    sims = np.array([[0.1, 0.9],   # parents ~ father
                     [0.8, 0.2]])  # spouse ~ wife
    assert match_hops(sims, [0.0, 0.0], spans) == [0.9, 0.8]
    # "the nation of someone s dad s darling": nation (1), dad (4), darling (6) for parents -> spouse -> nationality
    # is neither in order (4, 6, 1) nor in reverse: one hop is left to its similarity to the whole question
    spans = [(1, 2), (4, 5), (6, 7)]
    sims = np.array([[0.1, 0.9, 0.2], [0.1, 0.2, 0.8], [0.7, 0.1, 0.1]])
    assert sorted(match_hops(sims, [0.05, 0.05, 0.05], spans)) == [0.05, 0.8, 0.9]
