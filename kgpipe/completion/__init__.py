"""Link completion: PyKEEN embeddings trained on the stored graph, predicted links kept apart from facts."""
