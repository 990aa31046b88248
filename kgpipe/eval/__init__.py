"""Evaluations against public gold data (`kgpipe eval ...`): extraction, fusion, QA, completion, context, Text2Cypher."""
