"""Episode cases: canned tool results in, the model's next reply scored (a call or a grounded answer)."""

from __future__ import annotations

import json

import pytest

from eval.cases import EvalCase, Step
from eval.scoring import call_validity, figures, ungrounded
from halops.calls import ToolCall
from halops.parser import CallError, ParsedReply, parse_reply
from halops.prompt import RenderedResult, tool_response_message
from tests.support.scripted_llm import call

pytestmark = pytest.mark.unit

DF = Step(
    name="ssh",
    arguments={"host": "app3", "command": "df -h /"},
    result={
        "status": "ok",
        "exit_code": 0,
        "stdout": "Filesystem  Size  Used Avail Use% Mounted on\n/dev/sda1    40G   38G  2.0G  95% /\n",
    },
)
ANSWER = EvalCase(
    id="ep",
    kind="episode",
    category="grounding",
    prompt="How full is the root filesystem on app3?",
    steps=(DF,),
    expect="answer",
    keywords=("95%", "app3"),
    max_chars=200,
)
CLOSER = EvalCase(
    id="ep-tool",
    kind="episode",
    category="grounding",
    prompt="Why is app3 out of space?",
    steps=(DF,),
    expect="tool",
    tools=("ssh",),
    args_contain=("app3", "du"),
)


def prose(text: str) -> ParsedReply:
    return ParsedReply(text=text)


def test_messages_are_built_as_the_agent_builds_them() -> None:
    second = Step("ipmi", {"host": "app3", "action": "sensors"}, {"status": "denied", "reason": "no"})
    case = EvalCase(**{**ANSWER.__dict__, "steps": (DF, second)})
    messages = case.messages("SYSTEM")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[0]["content"] == "SYSTEM" and messages[1]["content"] == ANSWER.prompt
    body = json.dumps({"name": "ssh", "arguments": DF.arguments}, ensure_ascii=False)
    assert messages[2]["content"] == f"<tool_call>\n{body}\n</tool_call>"
    # The agent's own renderer, so a change to the result format changes the eval with it.
    assert messages[3] == tool_response_message([RenderedResult("ssh", DF.result)])
    assert parse_reply(messages[4]["content"]).calls == [ToolCall(tool="ipmi", arguments=second.arguments)]
    assert '"status": "denied"' in messages[5]["content"]


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ("The root filesystem on app3 is 95% full (38G of 40G, 2.0G free).", 1.0),
        ("app3: / is at 95%.", 1.0),
        ("The disk is 95% full.", 0.7 * 0.5 + 0.3),  # forgot the host
        # 95% and 40G grounded, 1.5 and 42 invented: half the figures, penalty 0.25
        ("app3 is 95% full: 40G disk, 1.5G left, 42 files.", 0.75),
        ("app3 is at 87%, 12G free.", 0.7 * 0.5 + 0.3 - 0.5),  # every figure invented
        ("app3 is almost full; see the df output above for the details. " * 5, 0.7 * 0.5),  # too long
    ],
)
def test_answers_are_scored_on_keywords_length_and_grounded_figures(reply: str, score: float) -> None:
    assert ANSWER.score(prose(reply)).value == pytest.approx(score, abs=1e-4)


def test_invented_figures_are_named_in_the_notes_and_the_score_floors_at_zero() -> None:
    result = ANSWER.score(prose("It is at 12%, 3.5G used of 77G"))
    assert result.value == 0.0
    assert any("['12%', '3.5', '77']" in n for n in result.notes)


def test_a_call_where_an_answer_was_expected_scores_zero() -> None:
    result = ANSWER.score(parse_reply(call("ssh", host="app3", command="df -h")))
    assert result.value == 0.0 and "plain answer" in result.notes[0]
    assert ANSWER.score(ParsedReply(text="app3 95%", errors=[CallError(0, "{", "bad")])).value == 0.0


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        (call("ssh", host="app3", command="du -xh --max-depth=1 /"), 1.0),
        (call("ssh", host="app3", command="df -i"), 0.85),
        (call("shell", command="du -sh /"), 0.55),
        ("app3 is at 95%.", 0.0),  # answered where a closer look was due
    ],
)
def test_a_closer_look_is_scored_as_a_tool_case(reply: str, score: float) -> None:
    assert CLOSER.score(parse_reply(reply)).value == pytest.approx(score)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("95% of 40G, 2.0G left", ["95%", "40", "2.0"]),
        ("1. check web1\n2. check sda1 and md0 on x86_64", []),  # list numbers and identifiers
        ("load 31.42 on 8 cores, 1,234 files, 5%", ["31.42", "1,234", "5%"]),
        ("kernel 5.15.0-119-generic", ["5.15", "119"]),
    ],
)
def test_figures_are_numbers_in_prose_not_identifiers_or_list_numbering(text: str, found: list) -> None:
    assert figures(text) == found


def test_figures_are_compared_as_numbers_and_the_prompt_and_calls_ground_them() -> None:
    assert ungrounded("2 GB and 2.0G and 1,234 inodes", ["Avail 2.0G", "1234"]) == []
    assert ungrounded("the last 50 lines show 7 errors at 14:37", ANSWER.sources() + ["tail -n 50"]) == [
        "14",
        "37",
    ]
    # the prompt is a source: repeating the user's figure is not inventing it
    assert ungrounded("node21 has 64 cores", ["How many cores does node21 have, 64?"]) == []


def test_call_validity_uses_the_agents_schema_check() -> None:
    good = call("ssh", host="web1", command="df -h")
    assert call_validity(parse_reply(good)).valid == 1
    bad = [
        call("nginx", host="web1"),  # a service named as the tool
        call("ssh", command="df -h"),  # host missing
        call("ipmi", host="node3", action="reboot"),  # not an IPMI action
        "<tool_call>{not json}</tool_call>",
    ]
    result = call_validity(parse_reply(good + "\n" + "\n".join(bad)))
    assert (result.emitted, result.valid) == (5, 1) and len(result.problems) == 4
    text = "\n".join(result.problems)
    for expected in ("unknown tool 'nginx'", "invalid arguments for 'ssh'", "'ipmi'", "malformed call"):
        assert expected in text
    assert call_validity(prose("no calls")).emitted == 0
