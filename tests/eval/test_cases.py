"""Scoring of one reply against one case, and loading case files (every problem at once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.cases import EvalCase, load_cases
from eval.errors import EvalError
from halops.parser import parse_reply

pytestmark = pytest.mark.unit

TOOL = EvalCase(
    id="disk", kind="tool", category="tool-use", prompt="x", tools=("ssh",), args_contain=("web1", "df")
)
ANSWER = EvalCase(
    id="bmc",
    kind="answer",
    category="knowledge",
    prompt="x",
    keywords=("baseboard", "management", "controller"),
    max_chars=80,
)


def call(name: str, **arguments: object) -> str:
    import json

    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        (call("ssh", host="web1", command="df -h"), 1.0),
        (call("ssh", host="web1", command="du -sh /"), 0.85),  # right tool, half the fragments
        (call("shell", command="ssh web1 df -h"), 0.7),  # wrong tool, every fragment
        ("<tool_call>{not json}</tool_call>", 0.0),  # malformed: no call at all
        ("Run df -h on web1.", 0.0),  # prose where a call was expected
    ],
)
def test_tool_case_scores(reply: str, score: float) -> None:
    assert TOOL.score(parse_reply(reply)).value == pytest.approx(score)


def test_tool_case_notes_say_what_was_wrong() -> None:
    notes = TOOL.score(parse_reply(call("http", url="http://web1/"))).notes
    assert any("expected one of ['ssh']" in n for n in notes) and any("'df'" in n for n in notes)


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ("Baseboard Management Controller.", 1.0),
        ("Board management controller.", 0.7 * 2 / 3 + 0.3),
        ("Baseboard Management Controller. " * 5, 0.7),  # right words, far too long
        ("", 0.0),
        (call("shell", command="man ipmitool"), 0.0),  # a tool call where prose was asked for
    ],
)
def test_answer_case_scores(reply: str, score: float) -> None:
    assert ANSWER.score(parse_reply(reply)).value == pytest.approx(score, abs=1e-4)


def test_alternatives_count_when_any_one_is_present() -> None:
    case = EvalCase(
        id="t",
        kind="tool",
        category="tool-use",
        prompt="x",
        tools=("ssh",),
        args_contain=("dns1", ("chronyc", "timedatectl")),
    )
    assert case.score(parse_reply(call("ssh", host="dns1", command="timedatectl"))).value == 1.0
    score = case.score(parse_reply(call("ssh", host="dns1", command="date")))
    assert score.value == pytest.approx(0.85) and "chronyc|timedatectl" in score.notes[0]


def test_bad_case_file_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "cases.yaml"
    path.write_text(
        """
cases:
  - {id: a, kind: tool, category: c, prompt: p}
  - {id: b, kind: answer, category: c, prompt: p, keywords: [x], colour: red}
  - {id: c, kind: quiz, category: c, prompt: p}
  - {id: d, kind: answer, category: c, prompt: p, keywords: [x]}
  - {id: d, kind: answer, category: c, prompt: p, keywords: [y]}
  - {kind: answer}
"""
    )
    with pytest.raises(EvalError) as exc:
        load_cases(path)
    text = str(exc.value)
    for expected in (
        "cases[0]: a tool case needs `tools`",
        "unknown keys ['colour']",
        "kind must be",
        "duplicate ids ['d']",
        "cases[5]: missing",
    ):
        assert expected in text


@pytest.mark.parametrize(
    ("content", "message"),
    [("cases: [", "not valid YAML"), ("other: 1", "top-level `cases:` list"), ("cases: []", "top-level")],
)
def test_unreadable_case_files_are_clear_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "cases.yaml"
    path.write_text(content)
    with pytest.raises(EvalError, match=message):
        load_cases(path)
    with pytest.raises(EvalError, match="cannot read"):
        load_cases(tmp_path / "missing.yaml")
