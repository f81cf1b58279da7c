"""A small eval case set shared by the gate, real-model and retrain tests."""

from __future__ import annotations

# One tool case and one answer case: the gate tests' scripted models answer by prompt substring
# ("disk", "BMC"), so these two prompts must not share those words.
CASES = """
cases:
  - id: disk
    kind: tool
    category: tool-use
    prompt: Check disk usage on web1.
    tools: [ssh]
    args_contain: [web1, df]
  - id: bmc
    kind: answer
    category: knowledge
    prompt: What is a BMC?
    keywords: [baseboard]
"""
# A third case for the real model: one more knowledge question.
SMART_CASE = """
  - id: smart
    kind: answer
    category: knowledge
    prompt: Which command shows the SMART health of a drive? Answer in one sentence.
    keywords: [smartctl]
"""
