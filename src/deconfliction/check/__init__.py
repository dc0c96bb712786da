"""The pre-action check: the engine, its matching and wording, and the in-memory index."""
