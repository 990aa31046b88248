"""Entity fusion: one node per real-world thing (name rules, kinds, blocking, scoring, clustering, adjudication)."""
