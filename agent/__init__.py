"""halops agent: the daemon, and the core every other package leans on (config, CLI, LLM client)."""
