"""Extract on small hand-written logs: the cases the real fixtures do not have."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.data.helpers import Log, text, tool_use
from trainer.data.errors import StageInputError
from trainer.data.extract import discover, extract

pytestmark = pytest.mark.unit


def _one(root: Path):
    out = extract(discover([root]))
    return out, {c["id"]: c for c in out.sessions}, {c["id"]: c for c in out.subagents}


def _roles(conv) -> list[str]:
    return [t["role"] for t in conv["turns"] if t["role"] != "context"]


def test_v1_inline_sidechain_becomes_a_linked_subagent(tmp_path: Path):
    log = Log("v1", version="1.0.24")
    log.user("Audit the disks on db1 and db2")
    log.assistant(
        [
            text("Delegating."),
            tool_use(
                "task-1", "Task", description="disks", prompt="Run df -h on db1 and db2 and report usage"
            ),
        ],
        "m1",
    )
    task = log.last
    # The subagent's own thread, inline: its root has no parent, every record is a sidechain.
    side_root = log.user("Run df -h on db1 and db2 and report usage", parent=None, isSidechain=True)
    log.lines[-1] = log.lines[-1].replace('"parentUuid": "' + task + '"', '"parentUuid": null')
    log.assistant([tool_use("s-1", command="df -h")], "sm1", parent=side_root, isSidechain=True)
    log.result("s-1", "/dev/sda1 91% /", isSidechain=True)
    log.assistant("db1 / is 91% full.", "sm2", isSidechain=True)
    log.result("task-1", "db1 / is 91% full.", parent=task)
    log.assistant("db1 needs attention: / is 91% full.", "m2")
    log.write(tmp_path / "proj" / "v1.jsonl")

    out, sessions, subs = _one(tmp_path)
    main = sessions["v1"]
    assert _roles(main) == ["user", "assistant", "tool", "assistant"]
    assert "/dev/sda1" not in json.dumps(main["turns"])  # the sidechain stays out of the main thread
    (sub,) = subs.values()
    assert sub["id"] == "v1/agent-sidechain-1" and sub["layout"] == "inline"
    assert sub["parent_task"]["tool_use_id"] == "task-1"
    assert _roles(sub) == ["user", "assistant", "tool", "assistant"]
    assert main["subagents"] == [sub["id"]]


def test_rewind_follows_the_branch_the_session_continued_on(tmp_path: Path):
    log = Log("rw")
    u1 = log.user("Restart nginx on web1")
    a1 = log.assistant("Restarting needs approval. Shall I?", "m1")
    log.user("Actually restart apache instead")  # abandoned
    log.assistant("Restarting apache.", "m2")  # abandoned
    log.user("Just show me the nginx status", parent=a1)  # the rewind: a new child of a1
    log.assistant([tool_use("t1", command="systemctl status nginx")], "m3")
    log.result("t1", "active (running)")
    log.assistant("nginx is running.", "m4")
    log.write(tmp_path / "p" / "rw.jsonl")

    _out, sessions, _ = _one(tmp_path)
    conv = sessions["rw"]
    users = [t["text"] for t in conv["turns"] if t["role"] == "user"]
    assert users == ["Restart nginx on web1", "Just show me the nginx status"]
    assert "apache" not in json.dumps(conv["turns"])
    assert conv["stats"]["abandoned_records"] == 2
    assert u1


def test_out_of_order_and_side_branch_results_follow_their_calls(tmp_path: Path):
    log = Log("ooo")
    log.user("Check load and memory on web1")
    # One response, three calls, written as three records (a split turn).
    a = log.assistant([text("Looking."), tool_use("ta", command="uptime")], "msg-1")
    b = log.assistant([tool_use("tb", command="free -m")], "msg-1")
    c = log.assistant([tool_use("tc", command="df -h")], "msg-1")
    # Results written in reverse order; the first two hang off side branches.
    log.result("tc", "/ 40%", parent=c)
    log.result("tb", "Mem: 512 free", parent=b)
    log.result("ta", "load average: 0.10", parent=a)
    log.assistant("Load 0.10, 512 MB free, / at 40%.", "msg-2")
    log.write(tmp_path / "p" / "ooo.jsonl")

    _out, sessions, _ = _one(tmp_path)
    conv = sessions["ooo"]
    assert _roles(conv) == ["user", "assistant", "tool", "tool", "tool", "assistant"]
    turn = conv["turns"][1]
    assert [c["id"] for c in turn["tool_calls"]] == ["ta", "tb", "tc"]
    assert [t["content"] for t in conv["turns"][2:5]] == ["load average: 0.10", "Mem: 512 free", "/ 40%"]
    assert conv["stats"]["merged_records"] == 2
    assert conv["stats"]["tool_pairs"] == 3


def test_truncated_last_line_and_non_json_lines_are_counted_not_fatal(tmp_path: Path):
    log = Log("bad")
    log.user("How full is /var on web1?")
    log.raw("this is not json")
    log.raw("[1, 2]")
    log.raw('{"no": "type"}')
    log.assistant([tool_use("t1", command="df -h /var")], "m1")
    log.result("t1", "/var 97%")
    log.assistant("/var is 97% full.", "m2")
    log.raw('{"type": "user", "message": {"role": "user", "content": "and /ho')  # killed mid-write
    log.write(tmp_path / "p" / "bad.jsonl", newline_at_end=False)

    out, sessions, _ = _one(tmp_path)
    assert out.bad.counts == {
        "not JSON": 1,
        "not an object": 1,
        "no record type": 1,
        "truncated last line": 1,
    }
    assert _roles(sessions["bad"]) == ["user", "assistant", "tool", "assistant"]
    assert any("bad.jsonl:" in s for s in out.bad.samples)


def test_compaction_boundary_without_logical_parent_keeps_both_halves(tmp_path: Path):
    log = Log("cmp")
    log.user("Upgrade the kernel on web1")
    log.assistant("Done: 6.1.0-18 installed, reboot pending.", "m1")
    log._record("system", None, subtype="compact_boundary", logicalParentUuid="gone", content="compacted")
    log.user("This session is being continued from a previous conversation...", isCompactSummary=True)
    log.user("Now reboot it")
    log.assistant("Rebooting needs your approval.", "m2")
    log.write(tmp_path / "p" / "cmp.jsonl")

    out, sessions, _ = _one(tmp_path)
    conv = sessions["cmp"]
    assert [t.get("kind", t["role"]) for t in conv["turns"]] == [
        "user",
        "assistant",
        "compact_summary",
        "user",
        "assistant",
    ]
    assert conv["stats"]["compact_summaries_excluded"] == 1
    assert out.stats["thread:dangling_parents"] == 1


def test_v2_agent_file_in_project_dir_links_by_agent_id(tmp_path: Path):
    log = Log("main2", version="2.0.5")
    log.user("Find large files under /var/log on web1")
    log.assistant(
        [tool_use("task-9", "Task", description="find", prompt="List the 5 largest files in /var/log")], "m1"
    )
    log.result("task-9", "syslog.1 2G", toolUseResult={"status": "completed", "agentId": "abc123"})
    log.assistant("syslog.1 is 2G.", "m2")
    log.write(tmp_path / "p" / "main2.jsonl")
    agent = Log("main2", version="2.0.5", isSidechain=True, agentId="abc123")
    agent.user("List the 5 largest files in /var/log", parent=None)
    agent.lines[-1] = agent.lines[-1].replace('"isSidechain": false, ', "")
    agent.assistant([tool_use("s1", command="du -ah /var/log | sort -h | tail -5")], "sm1")
    agent.result("s1", "2G syslog.1")
    agent.assistant("syslog.1 2G", "sm2")
    agent.write(tmp_path / "p" / "agent-abc123.jsonl")

    _out, _sessions, subs = _one(tmp_path)
    sub = subs["main2/agent-abc123"]
    assert sub["parent_task"]["tool_use_id"] == "task-9"
    assert sub["layout"] == "file"


def test_agent_transcript_export_is_a_second_source(tmp_path: Path):
    line = {
        "id": "turn-1",
        "source": "halops-agent",
        "session_id": "conv-1",
        "created_at": 1700000000.0,
        "messages": [
            {"role": "system", "content": "You are halops. # Tools ..."},
            {"role": "user", "content": "is web1 up?"},
            {"role": "assistant", "content": "It was, yesterday."},
            {"role": "user", "content": "check the disk on web1"},
            {
                "role": "assistant",
                "content": 'Checking.\n<tool_call>\n{"name": "ssh", "arguments": '
                '{"host": "web1", "command": "df -h"}}\n</tool_call>',
            },
            {"role": "tool", "name": "ssh", "content": '{"status": "ok", "stdout": "/ 40%"}'},
            {"role": "assistant", "content": "/ is at 40%."},
        ],
        "metadata": {"feedback": 1, "votes": 1, "iterations": 2, "tools": ["ssh"], "statuses": ["ok"]},
    }
    path = tmp_path / "exports" / "transcripts.jsonl"
    path.parent.mkdir()
    path.write_text(json.dumps(line) + "\n" + json.dumps(line) + "\nnot json\n")

    out, sessions, _ = _one(tmp_path / "exports")
    conv = sessions["turn-1"]
    assert conv["source"] == "halops-agent" and conv["session_id"] == "conv-1" and conv["feedback"] == 1
    assert conv["system"].startswith("You are halops")
    assert [t["role"] for t in conv["turns"]] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    assert conv["turns"][0].get("history") is True and "history" not in conv["turns"][2]
    call = conv["turns"][3]["tool_calls"][0]
    assert (call["name"], call["input"], conv["turns"][3]["text"]) == (
        "ssh",
        {"host": "web1", "command": "df -h"},
        "Checking.",
    )
    assert out.stats["duplicate_transcripts"] == 1 and out.bad.counts == {"not JSON": 1}


def test_missing_source_is_a_clear_error(tmp_path: Path):
    with pytest.raises(StageInputError, match="does not exist"):
        discover([tmp_path / "nope"])


def test_invalid_utf8_and_lone_surrogates_are_made_writable(tmp_path: Path):
    log = Log("enc")
    log.user("what broke on web1?")
    log.assistant([tool_use("t1", command="dmesg | tail")], "m1")
    log.raw(
        '{"type": "user", "uuid": "r1", "parentUuid": "enc-2", "message": {"role": "user", "content": '
        '[{"type": "tool_result", "tool_use_id": "t1", "content": "cut emoji \\ud83d here"}]}}'
    )
    log.assistant("The kernel log shows an OOM kill.", "m2", parent="r1")
    path = log.write(tmp_path / "p" / "enc.jsonl")
    path.write_bytes(path.read_bytes().replace(b"what broke", b"what \xff broke"))

    _out, sessions, _ = _one(tmp_path)
    turns = sessions["enc"]["turns"]
    assert turns[0]["text"] == "what \ufffd broke on web1?"
    assert turns[2]["content"] == "cut emoji ? here"
    json.dumps(turns, ensure_ascii=False).encode("utf-8")  # writable as UTF-8
