"""Parsing `<tool_call>` blocks out of model replies."""

from __future__ import annotations

import pytest

from halops.parser import parse_reply

pytestmark = pytest.mark.unit


def test_single_call_and_prose_are_separated():
    reply = (
        'Let me look.\n<tool_call>\n{"name": "ssh", "arguments": {"host": "web1", "command": "df -h"}}'
        "\n</tool_call>"
    )
    parsed = parse_reply(reply)
    assert parsed.text == "Let me look."
    assert [(c.tool, c.arguments) for c in parsed.calls] == [("ssh", {"host": "web1", "command": "df -h"})]
    assert parsed.errors == []


def test_several_calls_in_one_reply():
    reply = (
        '<tool_call>{"name": "shell", "arguments": {"command": "uptime"}}</tool_call>\n'
        '<tool_call>{"name": "ipmi", "arguments": {"host": "db1", "action": "sensors"}}</tool_call>'
    )
    assert [c.tool for c in parse_reply(reply).calls] == ["shell", "ipmi"]


def test_last_block_without_closing_tag_still_counts():
    reply = 'ok <tool_call>\n{"name": "shell", "arguments": {"command": "free -m"}}\n'
    parsed = parse_reply(reply)
    assert parsed.calls[0].arguments == {"command": "free -m"} and parsed.text == "ok"


def test_json_fence_inside_the_tags():
    reply = '<tool_call>\n```json\n{"name": "shell", "arguments": {"command": "df"}}\n```\n</tool_call>'
    assert parse_reply(reply).calls[0].tool == "shell"


def test_arguments_as_a_json_string():
    reply = '<tool_call>{"name": "shell", "arguments": "{\\"command\\": \\"ls\\"}"}</tool_call>'
    assert parse_reply(reply).calls[0].arguments == {"command": "ls"}


def test_json_in_prose_outside_tags_is_not_a_call():
    reply = 'You could run {"name": "shell", "arguments": {"command": "rm -rf /"}} but I will not.'
    parsed = parse_reply(reply)
    assert parsed.calls == [] and parsed.errors == [] and not parsed.has_calls
    assert parsed.text == reply


@pytest.mark.parametrize(
    "body, needle",
    [
        ("{not json}", "not valid JSON"),
        ("", "empty"),
        ('["shell"]', "JSON object"),
        ('{"arguments": {}}', 'missing "name"'),
        ('{"name": "shell", "arguments": [1]}', "must be a JSON object"),
        ('{"name": "shell", "arguments": "nope"}', "not a JSON object"),
    ],
)
def test_malformed_block_is_an_error_and_other_calls_still_count(body, needle):
    good = '<tool_call>{"name": "shell", "arguments": {"command": "id"}}</tool_call>'
    reply = f"<tool_call>{body}</tool_call>{good}"
    parsed = parse_reply(reply)
    assert [c.arguments for c in parsed.calls] == [{"command": "id"}]
    assert len(parsed.errors) == 1 and needle in parsed.errors[0].message
    assert parsed.errors[0].index == 0
