"""``kgpipe demo``: build the bundled sample documents and show what the graph holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .api import query
from .config import Settings
from .errors import DataError
from .ingest.pipeline import build

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
SAMPLE_QUERY = (
    "MATCH (h:Entity)-[r]->(t:Entity) WHERE r.label IS NOT NULL "
    "RETURN h.name AS head, r.label AS relation, t.name AS tail, size(r.doc_ids) AS documents "
    "ORDER BY documents DESC, head, relation, tail LIMIT 10"
)


def demo(settings: Settings) -> dict[str, Any]:
    """Build ``data/sample`` into the configured store; return the build summary and a sample query's rows."""
    if not SAMPLE.is_dir():
        raise DataError(f"the sample documents are not at {SAMPLE}; run the demo from a kgpipe source checkout")
    result = build(SAMPLE, settings)
    rows = query(SAMPLE_QUERY, settings=settings).records()
    return {"build": result.summary(), "query": SAMPLE_QUERY, "facts": rows}
