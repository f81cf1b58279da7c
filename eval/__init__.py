"""Model eval: fixed cases scored against a model server, and the deploy gate built on it."""
