"""The foundation every halops package builds on; it imports none of them.

What lives here is what two or more packages must agree on: the error tree (`halops.errors`), the
settings plumbing (`halops.settings`), the model client, server command line and model registry
(`halops.llm`), the tool-call vocabulary (`halops.calls`), the prompt format and the `<tool_call>`
parser (`halops.prompt`, `halops.parser`), the CLI helpers (`halops.cli`) and the reload pid file
(`halops.pidfile`). See docs/architecture.md.
"""
