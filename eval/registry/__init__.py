"""The model registry: every deployed version with its source, score and state, an append-only
deployment history, activation and rollback, pruning, and A/B comparison of two versions.

The files stay where `halops.llm.models.ModelStore` keeps them (versions/<N>/model.gguf and the
current.gguf link); the registry adds what the files cannot say (where a version came from, who
activated it when and why) in one SQLite database beside them, `registry.sqlite`.
"""
