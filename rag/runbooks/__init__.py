"""Runbooks shipped with halops (Markdown data, not code).

This file only makes the folder a package, so the build's `*.md` package-data rule installs the
runbooks next to the code and `halops rag ingest` finds them on every install.
"""
