"""The transcript store: every conversation, turn, model step and tool call, scrubbed, in SQLite."""
