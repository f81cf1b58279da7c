"""Scoring a model over HTTP: a scripted OpenAI-compatible server stands in for the model."""

from __future__ import annotations

import pytest

from eval.cases import EvalCase, Step
from eval.errors import EvalError
from eval.runner import run_eval
from halops.calls import tool_schemas
from halops.llm.client import LLMClient
from halops.llm.config import LlmSettings
from halops.prompt import system_prompt
from tests.support.procs import free_port
from tests.support.scripted_llm import ScriptedModel, call

pytestmark = pytest.mark.unit

CASES = [
    EvalCase(
        id="disk",
        kind="tool",
        category="tool-use",
        prompt="Check disk on web1.",
        tools=("ssh",),
        args_contain=("web1", "df"),
    ),
    EvalCase(id="bmc", kind="answer", category="knowledge", prompt="What is a BMC?", keywords=("baseboard",)),
]


def _run(url: str, **kw: object):
    with LLMClient(LlmSettings(base_url=url, max_retries=0)) as client:
        return run_eval(
            client,
            kw.pop("cases", CASES),
            instructions="Be halops.",
            model="scripted",
            cases_file="x",
            max_tokens=64,
            case_timeout_s=kw.pop("timeout", 5.0),
            **kw,
        )


def answers(messages: list[dict]) -> str:
    if "disk" in messages[-1]["content"]:
        return call("ssh", host="web1", command="df -h")
    return "A baseboard management controller. Its password is hunter2hunter2, token ghp_" + "a" * 36


def test_cases_are_scored_with_the_agents_prompt_and_greedy_decoding() -> None:
    with ScriptedModel(answers) as model:
        report = _run(model.url)
    assert [r.score for r in report.results] == [1.0, 1.0] and report.overall == 1.0
    first = model.requests[0]
    assert first["temperature"] == 0.0 and first["max_tokens"] == 64
    system = first["messages"][0]["content"]
    # The agent's own prompt builder, whatever form the tool block takes.
    assert system == system_prompt("Be halops.", tools=tool_schemas()) and "ssh" in system


def test_replies_are_scrubbed_before_they_reach_the_report() -> None:
    with ScriptedModel(answers) as model:
        report = _run(model.url)
    assert "ghp_" + "a" * 36 not in report.results[1].reply
    assert "REDACTED" in report.results[1].reply.upper()


def test_a_slow_case_scores_zero_and_the_run_goes_on() -> None:
    with ScriptedModel(answers, delay_s=1.5) as model:
        report = _run(model.url, timeout=0.5)
    assert [r.score for r in report.results] == [0.0, 0.0]
    assert all(r.error and "time" in r.error.lower() for r in report.results)


def test_a_dead_server_stops_the_run_with_a_clear_error() -> None:
    with pytest.raises(EvalError, match="stopped at case disk"):
        _run(f"http://127.0.0.1:{free_port()}/v1")


EPISODE = EvalCase(
    id="ep",
    kind="episode",
    category="grounding",
    prompt="How full is / on app3?",
    steps=(
        Step(
            "ssh",
            {"host": "app3", "command": "df -h /"},
            {"status": "ok", "exit_code": 0, "stdout": "/dev/sda1  40G  38G  2.0G  95% /\n"},
        ),
    ),
    expect="answer",
    keywords=("95%",),
)


def test_an_episode_is_sent_with_its_steps_and_the_grammar() -> None:
    def model(messages: list[dict]) -> str:
        if "<tool_response>" in messages[-1]["content"]:
            return "app3: / is 95% full, 2.0G left."
        return call("ssh", host="web1", command="df -h") + call("nginx", host="web1")

    with ScriptedModel(model) as scripted:
        report = _run(scripted.url, cases=[CASES[0], EPISODE], grammar='root ::= "x"')
    assert [r.score for r in report.results] == [1.0, 1.0]
    sent = scripted.requests[1]
    assert sent["grammar"] == 'root ::= "x"' and report.grammar
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "user"]
    assert sent["messages"][2]["content"].startswith("<tool_call>\n{")
    # every emitted call is checked, the well-formed "nginx" one included
    assert (report.calls_emitted, report.calls_valid) == (2, 1)
    assert report.results[0].calls == 2 and "unknown tool 'nginx'" in report.results[0].notes[0]
    assert report.as_dict()["calls_valid_share"] == 0.5


def test_without_a_grammar_none_is_sent() -> None:
    with ScriptedModel(answers) as model:
        report = _run(model.url)
    assert "grammar" not in model.requests[0] and not report.grammar
    assert report.calls_emitted == report.calls_valid == 1
