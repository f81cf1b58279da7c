"""The operator's console: a static page served by the agent daemon, talking to its public API."""
