"""Talking to, and running, the model server."""
