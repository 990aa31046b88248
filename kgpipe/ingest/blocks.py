"""Ray's unit of work: a build group's chunks cut into blocks of whole documents, and the blocks' candidates
merged back into the group's, as ``extract_and_judge`` gives them for the whole group.

The local build's groups (``batch_size * 4`` chunks) are what fusion and writing take in order; a few of them
cannot keep many actors busy, so the Ray engine sends blocks and reassembles each group on the driver. For a
backend that answers each prompt by itself (an HTTP server) every chunk's candidates are the same whichever
block it is in: references are resolved per document, and extraction, snapping and judging per chunk.
"""

from __future__ import annotations

from dataclasses import fields

from ..records import Chunk
from .candidates import Candidates
from .grounded import GroundedStats
from .snap import SnapCounts


def blocks_of(chunks: list[Chunk], parts: int) -> list[list[Chunk]]:
    """A group's chunks cut into at most ``parts`` runs of whole documents of about equal size, in order: Ray's
    unit of work, so that a few groups keep every actor busy. A document is never cut (references are resolved
    over the whole document), so a group of one long document stays one block.

    >>> [len(b) for b in blocks_of([Chunk(f"c{i}", f"d{i // 2}", i % 2, "", i, i) for i in range(10)], 3)]
    [4, 4, 2]
    """
    target = -(-len(chunks) // max(1, parts))
    blocks: list[list[Chunk]] = [[]]
    for i, c in enumerate(chunks):
        new_doc = i > 0 and c.doc_id != chunks[i - 1].doc_id
        if new_doc and len(blocks[-1]) >= target:
            blocks.append([])
        blocks[-1].append(c)
    return blocks


def merge(parts: list[Candidates]) -> Candidates:
    """One group's candidates from its blocks' (in order): what ``extract_and_judge`` gives for the whole group.

    Lists are concatenated, counts added; chunk failures are listed stage by stage, as one call records them."""
    out = Candidates()
    stage_rank = {"denoise": 0, "extract": 1, "judge": 2}
    for part in parts:
        out.kept += part.kept
        out.proposed += part.proposed
        out.failures += part.failures
        out.failed_chunks += part.failed_chunks
        out.rejected += part.rejected
        out.judge_signals |= part.judge_signals
        out.judge_missing.update(part.judge_missing)
        out.judge_weights.update(part.judge_weights)
        for name, cost in part.stages.items():
            before = out.stages.setdefault(name, {})
            for key, value in cost.items():
                before[key] = round(before.get(key, 0) + value, 2)
        for f in fields(GroundedStats):
            setattr(out.grounded, f.name, getattr(out.grounded, f.name) + getattr(part.grounded, f.name))
        out.read += part.read
        out.by_rule += part.by_rule
        out.unsupported += part.unsupported
        if part.snapped is not None:
            out.snapped = out.snapped or SnapCounts()
            out.snapped.add(part.snapped)
        s = part.structured
        out.structured.chunks += s.chunks
        out.structured.requests += s.requests
        out.structured.fallback_chunks += s.fallback_chunks
        out.structured.refused = out.structured.refused or s.refused
    out.failed_chunks.sort(key=lambda f: stage_rank.get(f.stage, 3))  # stable: chunk order within a stage
    return out
