"""The agent loop: retrieve, prompt, call the model, run its tool calls safely, answer."""
