"""Fleet-skill episodes (`halops data synth`): the agent's exact format, grounded, and no eval leak."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from agent.config import DEFAULT_INSTRUCTIONS
from eval.cases import eval_hosts, eval_prompts
from halops.calls import tool_schemas
from halops.parser import parse_reply
from halops.prompt import static_prompt
from tests.support.procs import halops_argv
from trainer.data.synth import facts
from trainer.data.synth.generate import SynthRequest, check_rows, generate, split_of, write
from trainer.data.synth.run import default_runbooks

pytestmark = pytest.mark.unit
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")


def _request(tmp_path: Path, n: int = 600, seed: int = 3) -> SynthRequest:
    return SynthRequest(
        episodes=n,
        seed=seed,
        instructions=DEFAULT_INSTRUCTIONS,
        out_dir=tmp_path / "synth",
        exclude_prompts=eval_prompts(),
        exclude_hosts=sorted(eval_hosts()),
        runbooks=default_runbooks(),
    )


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    return generate(_request(tmp_path_factory.mktemp("synth"), n=1500))


def test_same_seed_same_episodes_other_seed_others(tmp_path: Path) -> None:
    a = generate(_request(tmp_path, n=80))
    b = generate(_request(tmp_path, n=80))
    c = generate(_request(tmp_path, n=80, seed=4))
    assert json.dumps(a) == json.dumps(b)
    assert json.dumps(a) != json.dumps(c)


def test_every_kind_and_tool_is_there(rows: list[dict]) -> None:
    kinds = {r["metadata"]["kind"] for r in rows}
    assert kinds == {"tool", "call", "follow-up", "policy", "restraint"}
    tools = {
        c.tool
        for r in rows
        for m in r["messages"]
        if m["role"] == "assistant"
        for c in parse_reply(m["content"]).calls
    }
    assert tools == {"shell", "ssh", "ipmi", "http"}
    tasks = {r["metadata"]["task"] for r in rows}
    for task in ("disk", "inodes", "memory", "load", "service", "journal", "kernel", "failed", "ports",
                 "kver",
                 "raid", "time", "gpus", "bmc-power", "bmc-sensors", "bmc-sel", "http-health",
                 "unknown-host", "change", "destroy", "error", "timeout", "restraint"):  # fmt: skip
        assert task in tasks, task


def test_the_agent_format_exactly(rows: list[dict]) -> None:
    static = static_prompt(DEFAULT_INSTRUCTIONS, tools=tool_schemas())
    for row in rows:
        msgs = row["messages"]
        assert msgs[0]["role"] == "system" and msgs[0]["content"].startswith(static)
        assert msgs[1]["role"] == "user" and msgs[-1]["role"] == "assistant"
        for prev, msg in zip(msgs, msgs[1:], strict=False):
            if msg["role"] == "assistant" and "<tool_call>" in msg["content"]:
                parsed = parse_reply(msg["content"])
                assert not parsed.errors and len(parsed.calls) == 1 and not parsed.text
                parsed.calls[0].typed()  # validates against the tool's schema
            if prev["role"] == "assistant" and "<tool_call>" in prev["content"]:
                assert msg["role"] == "user" and msg["content"].startswith("<tool_response>\n")
        # The final answer is prose, never a call; a `call` episode stops at its one call.
        assert parse_reply(msgs[-1]["content"]).has_calls == (row["metadata"]["kind"] == "call")
        if row["metadata"]["kind"] == "call":
            assert len(msgs) == 3


def test_answers_quote_only_numbers_the_results_show(rows: list[dict]) -> None:
    for row in rows:
        msgs = row["messages"]
        if row["metadata"]["kind"] in ("restraint", "call"):  # no answer to check
            continue
        seen = " ".join(m["content"] for m in msgs[1:-1])
        prose = re.sub(r"`[^`]*`", "", msgs[-1]["content"])  # suggested commands are not claims
        for number in NUMBER.findall(prose):
            assert number in seen, (row["id"], number, msgs[-1]["content"])


def test_policy_answers_come_from_the_real_policy(rows: list[dict]) -> None:
    by_task: dict[str, set[str]] = {}
    for row in rows:
        if row["metadata"]["kind"] != "policy":
            continue
        result = json.loads(row["messages"][3]["content"].split("\n")[1])
        by_task.setdefault(row["metadata"]["task"], set()).add(result["status"])
    assert by_task["unknown-host"] == {"denied"}
    assert by_task["destroy"] == {"denied"}  # catastrophic: never sent for approval
    assert "approval_required" in by_task["change"]
    assert by_task["timeout"] == {"timeout"} and by_task["error"] == {"error"}


def test_no_eval_prompt_or_host_in_the_data(rows: list[dict]) -> None:
    assert check_rows(rows, eval_prompts(), eval_hosts()) == []
    text = json.dumps(rows).lower()
    for host in eval_hosts():
        assert not re.search(rf"(?<![\w.-]){re.escape(host.lower())}(?![\w-])", text), host


def test_a_leak_is_refused_and_nothing_written(tmp_path: Path) -> None:
    req = _request(tmp_path, n=40)
    rows = generate(req)
    # Pretend an eval uses a host the data does: the check must catch it.
    some_host = json.loads(
        next(m for r in rows for m in r["messages"] if m["role"] == "assistant" and '"host"' in m["content"])[
            "content"
        ].split("\n")[1]
    )["arguments"]["host"]
    req.exclude_hosts = [some_host]
    assert check_rows(rows, [], [some_host])
    req2 = _request(tmp_path, n=40)
    req2.exclude_prompts = [rows[0]["messages"][1]["content"]]
    assert check_rows(rows, req2.exclude_prompts, [])
    # generate() itself avoids both, so a write with the exclusions in place succeeds.
    write(req2)
    assert (tmp_path / "synth" / "train.jsonl").is_file()


def test_splits_are_by_session_and_stable(tmp_path: Path) -> None:
    req = _request(tmp_path, n=300)
    result = write(req)
    assert sum(result.counts.values()) == 300
    seen: dict[str, str] = {}
    for split in ("train", "val", "test"):
        for line in (tmp_path / "synth" / f"{split}.jsonl").read_text().splitlines():
            sid = json.loads(line)["metadata"]["session_id"]
            assert sid not in seen
            seen[sid] = split
            assert split_of(sid, req.split_ratios) == split
    assert result.counts["train"] > result.counts["val"] > 0


def test_readers_work_on_real_output_of_this_machine() -> None:
    df = subprocess.run(["df", "-h"], capture_output=True, text=True, check=True).stdout
    answer = facts.df(df, "on this machine", {})
    pct = re.search(r"at (\d+%)", answer).group(1)
    assert pct in df
    free = subprocess.run(["free", "-m"], capture_output=True, text=True, check=True).stdout
    assert "available of" in facts.free(free, "on this machine", {})
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout
    assert "load averages" in facts.load(uptime, "on this machine", {})


def test_synth_command_writes_splits_and_report(tmp_path: Path) -> None:
    proc = subprocess.run(
        halops_argv("data", "synth", "--episodes", "60", "--seed", "5", "--out", str(tmp_path / "o")),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["episodes"] == 60 and report["seed"] == 5
    assert report["tokens"]["median"] > 0


def test_synth_command_bad_input_is_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        halops_argv("data", "synth", "--episodes", "-3", "--out", str(tmp_path / "o")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o" / "train.jsonl").exists()


def _first_call(row: dict):
    return parse_reply(row["messages"][2]["content"]).calls[0]


def test_shared_frames_carry_no_hint_only_the_topic_picks_the_command(rows: list[dict]) -> None:
    """One frame ("Check {topic} {on}.") is used by many diagnostics, each with its own command:
    the model can only tell them apart by the topic noun (trainer/data/synth/phrasing.py)."""
    from trainer.data.synth import phrasing
    from trainer.data.synth.tasks import BY_ID

    by_frame: dict[str, set[str]] = {}
    for row in rows:
        if row["metadata"]["kind"] != "call" or row["metadata"]["task"] not in phrasing.TOPICS:
            continue
        ask = row["messages"][1]["content"]
        templates = BY_ID[row["metadata"]["task"]].commands
        command = _first_call(row).arguments["command"]
        assert any(
            re.fullmatch(re.escape(t).replace(re.escape("{svc}"), r"\S+"), command) for t in templates
        ), (ask, command)
        for frame in phrasing.FRAMES:
            head = frame.split("{topic}")[0].lower()
            if head and ask.lower().startswith(head):
                by_frame.setdefault(frame, set()).add(row["metadata"]["task"])
    assert len(by_frame) >= len(phrasing.FRAMES) // 2
    assert max(len(tasks) for tasks in by_frame.values()) >= 5


def test_call_choices_lean_to_named_hosts_and_cover_every_tool(rows: list[dict]) -> None:
    """Remote asks outnumber "this machine" ones about 2:1 (pairs plus remote-only asks), and
    BMC and HTTP each get a fair share of the first-call choices."""
    tools = [_first_call(r).tool for r in rows if r["metadata"]["kind"] == "call"]
    share = {t: tools.count(t) / len(tools) for t in ("ssh", "shell", "ipmi", "http")}
    assert 1.3 < share["ssh"] / share["shell"] < 2.5, share
    assert share["ipmi"] > 0.1 and share["http"] > 0.1, share
