"""The tool loop against a scripted model over real HTTP: rounds, caps, errors, transcripts."""

from __future__ import annotations

import json
import re

import pytest

from agent.config import AgentSettings
from agent.loop.runner import AgentLoop, ToolOutcome
from agent.transcripts.store import TranscriptStore
from halops.calls import tool_schemas
from halops.errors import LLMTimeoutError, LLMUnavailableError
from halops.llm.client import LLMClient
from halops.llm.config import LlmSettings
from halops.prompt import FINAL_ROUND, static_prompt
from tests.support.procs import free_port
from tests.support.scripted_llm import ScriptedModel, call

pytestmark = pytest.mark.integration


class Runner:
    """Stands in for safety + executors where the loop's own logic is under test."""

    def __init__(self, outcome=None):
        self.calls = []
        self.outcome = outcome or (
            lambda c: ToolOutcome(status="ok", verdict="allow", exit_code=0, stdout="42% used")
        )

    def run(self, call, *, context, timeout_s):
        self.calls.append(call)
        return self.outcome(call)


def scrub(text):
    return text.replace("hunter2", "[REDACTED:password]")


def make_loop(tmp_path, url, runner=None, retriever=None, grammar=None, **agent):
    store = TranscriptStore(tmp_path / "t.sqlite", scrub=scrub)
    llm = LLMClient(LlmSettings(base_url=url, max_retries=0, read_timeout_s=5))
    settings = AgentSettings(**{"rag_k": 2 if retriever else 0, **agent})
    loop = AgentLoop(
        llm=llm,
        tools=runner or Runner(),
        store=store,
        settings=settings,
        tool_schemas=tool_schemas(),
        scrub=scrub,
        retriever=retriever,
        grammar=grammar,
    )
    return loop, store


def user(text):
    return [{"role": "user", "content": text}]


def tool_responses(request):
    last = request["messages"][-1]["content"]
    return [json.loads(b) for b in re.findall(r"<tool_response>\n(.*?)\n</tool_response>", last, re.S)]


def test_tool_call_then_answer(tmp_path):
    script = ["Checking.\n" + call("ssh", host="web1", command="df -h /"), "The root disk is 42% used."]
    with ScriptedModel(script) as model:
        loop, store = make_loop(tmp_path, model.url)
        answer = loop.run(user("How full is web1's disk?"), conversation_id="c1", request_id="r1")
    assert answer.content == "The root disk is 42% used."
    assert answer.iterations == 2 and [s.tool for s in answer.steps] == ["ssh"]
    first, second = model.requests
    assert "<tools>" in first["messages"][0]["content"] and first["stop"] == ["<tool_response>"]
    assert second["messages"][-2] == {"role": "assistant", "content": script[0]}
    assert tool_responses(second) == [{"name": "ssh", "status": "ok", "exit_code": 0, "stdout": "42% used"}]
    turn = store.turn(answer.turn_id)
    assert turn["status"] == "ok" and len(turn["steps"]) == 2 and turn["tool_calls"][0]["verdict"] == "allow"


def test_malformed_call_is_reported_and_the_other_call_runs(tmp_path):
    script = ["<tool_call>{oops</tool_call>" + call("shell", command="uptime"), "Load is fine."]
    runner = Runner()
    with ScriptedModel(script) as model:
        loop, store = make_loop(tmp_path, model.url, runner)
        answer = loop.run(user("load?"), conversation_id="c", request_id="r")
    assert [c.tool for c in runner.calls] == ["shell"]
    results = tool_responses(model.requests[1])
    assert results[0]["status"] == "ok"
    assert results[1]["name"] == "(malformed)" and "not valid JSON" in results[1]["reason"]
    assert [s.status for s in answer.steps] == ["ok", "error"]


def test_endless_calls_stop_at_the_cap_and_the_last_round_has_no_tools(tmp_path):
    with ScriptedModel([call("shell", command="uptime")]) as model:
        loop, store = make_loop(tmp_path, model.url, max_iterations=3)
        answer = loop.run(user("loop forever"), conversation_id="c", request_id="r")
    assert len(model.requests) == 3 and answer.iterations == 3
    systems = [r["messages"][0]["content"] for r in model.requests]
    # The last round keeps the system prompt byte for byte (the server's cached prefix survives)
    # and says "no more tools" after the newest tool results instead.
    assert len(set(systems)) == 1 and "<tools>" in systems[0]
    last = model.requests[-1]["messages"][-1]
    assert last["role"] == "user" and last["content"].endswith(FINAL_ROUND)
    assert last["content"].startswith("<tool_response>")
    assert FINAL_ROUND not in model.requests[-2]["messages"][-1]["content"]
    # No grammar on the last round: the answer must be prose.
    assert "grammar" not in model.requests[-1]
    assert "tool budget" in answer.content
    assert store.count("tool_calls") == 2


def test_prompt_prefix_is_identical_across_requests_and_rounds(tmp_path):
    """Instructions and tools open every prompt; what varies (RAG, client text) comes after."""

    class Chunk:
        def __init__(self, text):
            self.text, self.source, self.heading, self.score = text, "disks.md", "Full disks", 0.9

    class Retriever:
        def retrieve(self, query, k=None):
            return [Chunk(f"runbook text about {query}")]

    with ScriptedModel([call("shell", command="df -h"), "Disk is fine."]) as model:
        loop, _ = make_loop(tmp_path, model.url, retriever=Retriever())
        loop.run(user("disks?"), conversation_id="c1", request_id="r1")
        loop.run(
            [{"role": "system", "content": "Be terse."}, *user("memory?")],
            conversation_id="c2",
            request_id="r2",
        )
    systems = [r["messages"][0]["content"] for r in model.requests]
    static = static_prompt(loop.settings.instructions, tools=loop.tool_schemas)
    assert all(s.startswith(static) for s in systems)
    assert "runbook text about disks?" in systems[0] and "runbook text about memory?" in systems[2]
    assert systems[0] == systems[1]  # the tool round and the answer round share the whole prompt
    assert systems[2].endswith("Be terse.")


def test_denied_call_reason_reaches_the_model(tmp_path):
    def denied(c):
        return ToolOutcome(status="denied", verdict="deny", rule="deny.rm", reason="recursive delete of /")

    with ScriptedModel([call("shell", command="rm -rf /"), "I will not do that."]) as model:
        loop, store = make_loop(tmp_path, model.url, Runner(denied))
        answer = loop.run(user("wipe it"), conversation_id="c", request_id="r")
    assert tool_responses(model.requests[1]) == [
        {"name": "shell", "status": "denied", "reason": "recursive delete of /"}
    ]
    assert answer.steps[0].rule == "deny.rm"


def test_a_retried_denied_call_is_not_run_again_and_the_next_round_answers(tmp_path):
    """The bootstrap model used to repeat a denied call until the round limit: a round that only
    repeats earlier calls runs none of them, and the round after it has no tools."""

    def denied(c):
        return ToolOutcome(
            status="denied", verdict="deny", rule="deny.host", reason="web9 is not in the inventory"
        )

    script = [call("ssh", host="web9", command="uptime")] * 2 + ["web9 is not in the inventory."]
    runner = Runner(denied)
    with ScriptedModel(script) as model:
        loop, store = make_loop(tmp_path, model.url, runner, max_iterations=10)
        answer = loop.run(user("uptime of web9?"), conversation_id="c", request_id="r")
    assert len(runner.calls) == 1 and len(model.requests) == 3
    repeated = tool_responses(model.requests[2])
    assert repeated[0]["status"] == "error" and "already ran" in repeated[0]["reason"]
    assert "grammar" not in model.requests[2] and model.requests[2]["messages"][-1]["content"].endswith(
        FINAL_ROUND
    )
    assert answer.content == "web9 is not in the inventory." and store.count("tool_calls") == 2


def test_a_new_call_after_a_repeat_still_runs(tmp_path):
    script = [
        call("shell", command="uptime"),
        call("shell", command="uptime") + "\n" + call("shell", command="df -h"),
        "done",
    ]
    runner = Runner()
    with ScriptedModel(script) as model:
        loop, _ = make_loop(tmp_path, model.url, runner, grammar="root ::= x")
        loop.run(user("load and disks?"), conversation_id="c", request_id="r")
    assert [c.arguments["command"] for c in runner.calls] == ["uptime", "df -h"]
    assert model.requests[2].get("grammar")  # a round with something new keeps its tools


def test_long_tool_output_is_clipped_for_the_model(tmp_path):
    big = lambda c: ToolOutcome(status="ok", exit_code=0, stdout="x" * 50_000)  # noqa: E731
    with ScriptedModel([call("shell", command="journalctl"), "done"]) as model:
        loop, _ = make_loop(tmp_path, model.url, Runner(big), max_tool_result_chars=1000)
        loop.run(user("logs"), conversation_id="c", request_id="r")
    result = tool_responses(model.requests[1])[0]
    assert (
        result["truncated"] is True and len(result["stdout"]) <= 1000 and "characters cut" in result["stdout"]
    )
    assert sum(len(m["content"]) for m in model.requests[1]["messages"]) < 12000


def test_secrets_are_scrubbed_in_the_transcript(tmp_path):
    leak = lambda c: ToolOutcome(status="ok", exit_code=0, stdout="password=hunter2")  # noqa: E731
    with ScriptedModel([call("shell", command="cat app.env"), "The password is hunter2."]) as model:
        loop, store = make_loop(tmp_path, model.url, Runner(leak))
        answer = loop.run(user("my pw is hunter2, check"), conversation_id="c", request_id="r")
    wal = (tmp_path / "t.sqlite-wal").read_bytes()
    store.close()  # checkpoints the WAL into the main file
    raw = (tmp_path / "t.sqlite").read_bytes()
    assert answer.turn_id.encode() in raw + wal
    assert b"hunter2" not in raw + wal
    assert answer.content == "The password is [REDACTED:password]."


def test_model_server_down_raises_and_records_the_failed_turn(tmp_path):
    loop, store = make_loop(tmp_path, f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(LLMUnavailableError):
        loop.run(user("hi"), conversation_id="c", request_id="r")
    (turn,) = list(store.iter_turns(statuses=("error",)))
    assert "LLMUnavailableError" in turn["error"]


def test_slow_model_hits_the_request_deadline(tmp_path):
    with ScriptedModel(["late"], delay_s=2) as model:
        loop, _ = make_loop(tmp_path, model.url, request_timeout_s=0.5)
        with pytest.raises(LLMTimeoutError):
            loop.run(user("hi"), conversation_id="c", request_id="r")


def test_transcripts_survive_reopen_and_running_turns_become_interrupted(tmp_path):
    store = TranscriptStore(tmp_path / "t.sqlite", scrub=str)
    turn_id = store.start_turn(conversation_id="c", request_id="r", messages=user("x"))
    store.close()  # the daemon died mid-request
    store = TranscriptStore(tmp_path / "t.sqlite", scrub=str)
    assert store.turn(turn_id)["status"] == "interrupted"


def test_tool_rounds_send_the_grammar_and_the_answer_round_does_not(tmp_path):
    with ScriptedModel([call("shell", command="uptime"), "Up 3 days."]) as model:
        loop, _ = make_loop(tmp_path, model.url, grammar='root ::= "x"', max_iterations=2)
        loop.run(user("uptime?"), conversation_id="c", request_id="r")
    assert model.requests[0]["grammar"] == 'root ::= "x"'
    assert "grammar" not in model.requests[1]
