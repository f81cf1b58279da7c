"""The agent daemon's HTTP API (OpenAI-compatible chat, approvals, feedback, health, metrics)."""
