"""Building the graph: load files, chunk, [denoise], extract triples, write them with provenance; import/export."""
