"""Format checks of validate, one broken example at a time."""

from __future__ import annotations

import pytest

from trainer.data.chatml import tool_call_text
from trainer.data.validate import format_problems

pytestmark = pytest.mark.unit


def _ex(*messages):
    return {
        "id": "x",
        "messages": list(messages),
        "metadata": {"session_id": "s", "strategy": "B", "tier": "A"},
    }


SYS = {"role": "system", "content": "You are halops."}
USER = {"role": "user", "content": "disk usage on web1?"}
CALL = {"role": "assistant", "content": "Checking.\n\n" + tool_call_text("Bash", {"command": "df -h"})}
RESULT = {"role": "tool", "name": "Bash", "content": "/ 40%"}
ANSWER = {"role": "assistant", "content": "/ is at 40%."}


def _reasons(ex):
    return [reason for reason, _detail in format_problems(ex)]


def test_a_good_example_has_no_problem():
    assert format_problems(_ex(SYS, USER, CALL, RESULT, ANSWER)) == []
    assert format_problems(_ex(SYS, USER, CALL, RESULT)) == []  # a chunk may end on a step's results


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        ((USER, ANSWER, ANSWER), "role order"),
        ((SYS, ANSWER), "shape"),
        ((SYS, USER, ANSWER, ANSWER), "role order"),
        ((SYS, USER, USER, ANSWER), "role order"),
        ((SYS, USER, CALL, ANSWER), "call without result"),
        ((SYS, USER, CALL), "call without result"),
        ((SYS, USER, ANSWER, RESULT), "result without call"),
        ((SYS, USER, CALL, {**RESULT, "name": "Read"}, ANSWER), "result name"),
        ((SYS, USER, {"role": "assistant", "content": "  "}), "empty message"),
        (
            (SYS, USER, {"role": "assistant", "content": "<tool_call>{not json}</tool_call>"}),
            "unparsable tool call",
        ),
        ((SYS, USER, {"role": "robot", "content": "hi"}), "shape"),
        ((SYS, USER, {"role": "assistant", "content": 42}), "shape"),
    ],
)
def test_each_broken_shape_is_named(messages, reason):
    assert reason in _reasons(_ex(*messages))


def test_missing_metadata_is_a_shape_problem():
    assert _reasons({"messages": [SYS, USER, ANSWER]}) == ["shape"]
    assert _reasons({"messages": [SYS, USER, ANSWER], "metadata": {}}) == ["shape"]
