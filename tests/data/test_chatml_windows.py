"""Turns → ChatML-with-tools exchanges, and windows that never separate a call from its result."""

from __future__ import annotations

import json

import pytest

from halops.parser import parse_reply
from trainer.data import chatml, windows

pytestmark = pytest.mark.unit


class CharCounter:
    """One token per 4 characters: enough to exercise the budget logic without a tokenizer."""

    def count(self, texts):
        return [len(t) // 4 + 1 for t in texts]

    def count_one(self, text):
        return self.count([text])[0]


def _turns(n_steps: int, result: str = "x" * 400):
    turns = [{"role": "user", "text": "check the disks on every host"}]
    for i in range(n_steps):
        turns.append(
            {
                "role": "assistant",
                "text": f"step {i}",
                "thinking": "hmm",
                "tool_calls": [
                    {"id": f"t{i}", "name": "Bash", "input": {"command": f"df -h # {i}"}, "answered": True}
                ],
            }
        )
        turns.append(
            {"role": "tool", "tool_use_id": f"t{i}", "name": "Bash", "content": result, "is_error": False}
        )
    turns.append({"role": "assistant", "text": "all fine", "tool_calls": [], "thinking": ""})
    return turns


def test_tool_calls_are_rendered_in_the_agents_own_format():
    content = chatml.tool_call_text("ssh", {"host": "web1", "command": "uptime"})
    parsed = parse_reply("Checking.\n\n" + content)
    assert parsed.text == "Checking." and not parsed.errors
    assert (parsed.calls[0].tool, parsed.calls[0].arguments) == ("ssh", {"host": "web1", "command": "uptime"})


def test_exchanges_drop_unanswered_calls_join_split_answers_and_cap_results():
    turns = [
        {"role": "context", "kind": "compact_summary", "text": "summary"},
        {"role": "assistant", "text": "orphan step", "tool_calls": [], "thinking": ""},
        {"role": "user", "text": "why is web1 slow?"},
        {
            "role": "assistant",
            "text": "Looking.",
            "thinking": "",
            "tool_calls": [
                {"id": "a", "name": "Bash", "input": {"command": "uptime"}, "answered": True},
                {"id": "b", "name": "Bash", "input": {"command": "top"}, "answered": False},
            ],
        },
        {"role": "tool", "tool_use_id": "a", "name": "Bash", "content": "L" * 5000, "is_error": False},
        {"role": "assistant", "text": "Load is high.", "tool_calls": [], "thinking": ""},
        {"role": "assistant", "text": "Also swap is full.", "tool_calls": [], "thinking": ""},
    ]
    rendered = chatml.exchanges(turns, result_chars=1000, include_thinking=False)
    assert rendered.dropped == {"steps_without_request": 1, "unanswered_calls": 1, "empty_assistant": 0}
    (ex,) = rendered.exchanges
    first, last = ex.steps
    assert len(parse_reply(first.assistant["content"]).calls) == 1
    assert len(first.results) == 1 and len(first.results[0]["content"]) < 1100
    assert "characters cut" in first.results[0]["content"]
    assert last.assistant["content"] == "Load is high.\n\nAlso swap is full." and ex.answered


def test_thinking_goes_in_only_when_asked():
    turns = _turns(1)
    off = chatml.exchanges(turns, result_chars=4000, include_thinking=False).exchanges[0]
    on = chatml.exchanges(turns, result_chars=4000, include_thinking=True).exchanges[0]
    assert "<think>" not in off.steps[0].assistant["content"]
    assert on.steps[0].assistant["content"].startswith("<think>\nhmm\n</think>")


def test_tool_schemas_are_inferred_from_the_calls():
    schemas = chatml.tool_schemas(
        [
            ("Bash", {"command": "ls", "timeout": 5}),
            ("Bash", {"command": "pwd"}),
            ("Read", {"file_path": "/etc/hosts"}),
        ]
    )
    bash = schemas[0]["function"]
    assert [s["function"]["name"] for s in schemas] == ["Bash", "Read"]
    assert bash["parameters"]["properties"] == {"command": {"type": "string"}, "timeout": {"type": "integer"}}
    assert bash["parameters"]["required"] == ["command"]
    system = chatml.render_system("Be careful.", [("Bash", {"command": "ls"})])
    assert system.startswith("Be careful.") and "<tools>" in system
    assert chatml.render_system("Be careful.", []) == "Be careful."


def _assert_calls_answered(messages):
    pending = 0
    for m in messages:
        if m["role"] == "assistant":
            assert pending == 0
            pending = len(parse_reply(m["content"]).calls)
        elif m["role"] == "tool":
            assert pending > 0
            pending -= 1
    assert pending == 0


def test_long_exchange_is_chunked_on_step_boundaries_under_budget():
    (ex,) = chatml.exchanges(_turns(30), result_chars=4000, include_thinking=False).exchanges
    chatml.count_tokens([ex], CharCounter())
    budget = 600
    assert ex.tokens > budget
    chunks, dropped = windows.chunk_exchange(ex, budget)
    assert dropped == 0 and len(chunks) > 3
    assert [c.part for c in chunks] == list(range(1, len(chunks) + 1))
    assert sum(len(c.steps) for c in chunks) == len(ex.steps)
    for chunk in chunks:
        assert chunk.tokens <= budget
        _assert_calls_answered([m for s in chunk.steps for m in s.messages])


def test_a_step_larger_than_the_budget_is_dropped_and_counted():
    (ex,) = chatml.exchanges(
        _turns(3, result="y" * 3000), result_chars=4000, include_thinking=False
    ).exchanges
    chatml.count_tokens([ex], CharCounter())
    chunks, dropped = windows.chunk_exchange(ex, 300)
    assert dropped == 3 and [len(c.steps) for c in chunks] == [1]  # only the final answer fits


def test_pack_exchanges_keeps_whole_exchanges_in_order():
    turns = []
    for i in range(6):
        turns += [
            {"role": "user", "text": f"question {i} " * 10},
            {"role": "assistant", "text": f"answer {i} " * 30, "tool_calls": [], "thinking": ""},
        ]
    turns += [
        {"role": "user", "text": "huge"},
        {"role": "assistant", "text": "z" * 5000, "tool_calls": [], "thinking": ""},
    ]
    exs = chatml.exchanges(turns, result_chars=4000, include_thinking=False).exchanges
    chatml.count_tokens(exs, CharCounter())
    packing = windows.pack_exchanges(exs, 250)
    assert packing.oversized_exchanges == 1
    flat = [ex for w in packing.windows for ex in w]
    assert flat == exs[:6]
    assert all(sum(e.tokens for e in w) <= 250 for w in packing.windows)
    assert json.dumps([m["content"] for m in (exs[0].user,)])


def test_a_closing_tag_inside_arguments_does_not_end_the_call():
    content = chatml.tool_call_text("Edit", {"new_string": 'CLOSE = "</tool_call>"'})
    parsed = parse_reply(content)
    assert not parsed.errors and parsed.calls[0].arguments == {"new_string": 'CLOSE = "</tool_call>"'}
