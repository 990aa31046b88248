"""Question answering: linking, fact paths, the KG-Trie and constrained beam search, Text2Cypher, KG-RAG context."""
