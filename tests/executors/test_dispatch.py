"""The dispatcher: safety first, verdicts honoured, audit before and after, scrubbed results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from halops.calls import ToolCall
from safety.decision import Decision, Verdict
from tests.support.fleet import Fleet

pytestmark = pytest.mark.integration


class Policy:
    """A fixed verdict per command, and a record of what was asked."""

    def __init__(self, verdicts: dict[str, Verdict]):
        self.verdicts = verdicts
        self.seen: list[ToolCall] = []

    def __call__(self, call: ToolCall, inventory) -> Decision:
        self.seen.append(call)
        cmd = call.arguments.get("command", "")
        v = self.verdicts.get(cmd, Verdict.ALLOW)
        return Decision(
            verdict=v,
            rule=f"{v.value}.test",
            reason=f"test says {v.value}",
            retry_after_s=2.5 if cmd == "limited" else None,
            command=None if v == Verdict.DENY else cmd,
        )


def shell(command: str) -> ToolCall:
    return ToolCall(tool="shell", arguments={"command": command})


def test_deny_never_runs(fleet: Fleet, tmp_path: Path) -> None:
    flag = tmp_path / "ran"
    policy = Policy({f"touch {flag}": Verdict.DENY})
    with fleet.executors(checker=policy) as ex:
        r = ex.execute(shell(f"touch {flag}"), approved=True)  # approval does not beat deny
    assert r.status == "denied"
    assert r.exit_code is None
    assert "deny.test" in r.stderr
    assert not flag.exists()
    (rec,) = fleet.audit_records()
    assert rec["event"] == "check" and rec["verdict"] == "deny" and rec["status"] == "denied"


def test_rate_limit_deny_says_when_to_retry(fleet: Fleet) -> None:
    with fleet.executors(checker=Policy({"limited": Verdict.DENY})) as ex:
        r = ex.execute(shell("limited"))
    assert r.status == "denied" and "retry after 2.5 s" in r.stderr


def test_approve_waits_for_approval_then_runs_once(fleet: Fleet, tmp_path: Path) -> None:
    flag = tmp_path / "ran"
    cmd = f"touch {flag}"
    with fleet.executors(checker=Policy({cmd: Verdict.APPROVE})) as ex:
        r = ex.execute(shell(cmd))
        assert r.status == "approval_required"
        assert "approve.test" in r.stderr
        assert not flag.exists()
        r = ex.execute(shell(cmd), approved=True, request_id="req-42")
        assert r.status == "ok", r
        assert flag.exists()
    recs = fleet.audit_records()
    assert [(x["event"], x["status"]) for x in recs] == [
        ("check", "approval_required"),
        ("check", "running"),
        ("exec", "ok"),
    ]
    check, exe = recs[1], recs[2]
    assert check["request_id"] == exe["request_id"] == "req-42"
    assert check["approved"] is True and check["command"] == cmd
    assert exe["exit_code"] == 0 and exe["stdout_sha256"] and exe["exec_ms"] >= 0


def test_runs_the_rebuilt_command_not_the_raw_string(fleet: Fleet) -> None:
    def rebuilt(call, inventory):
        return Decision(
            verdict=Verdict.ALLOW,
            rule="allow.t",
            reason="t",
            command="echo rebuilt",
            argv=["echo", "rebuilt"],
        )

    with fleet.executors(checker=rebuilt) as ex:
        r = ex.execute(shell("echo raw"))
    assert r.stdout == "rebuilt\n"


def test_failing_policy_fails_closed(fleet: Fleet) -> None:
    def broken(call, inventory):
        raise RuntimeError("policy file corrupt")

    with fleet.executors(checker=broken) as ex:
        r = ex.execute(shell("true"))
    assert r.status == "denied" and "policy file corrupt" in r.stderr


def test_unwritable_audit_log_refuses_to_run(fleet: Fleet, tmp_path: Path) -> None:
    flag = tmp_path / "ran"
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with fleet.executors(settings={"audit_log": blocker / "audit.jsonl"}) as ex:
        r = ex.execute(shell(f"touch {flag}"), approved=True)
    assert r.status == "error" and "refusing to run unaudited" in r.stderr
    assert not flag.exists()


def test_malformed_calls_are_results(fleet: Fleet) -> None:
    with fleet.executors() as ex:
        r = ex.execute({"tool": "shell", "arguments": "not a dict"})
        assert r.status == "denied" and "malformed" in r.stderr
        r = ex.execute({"tool": "telnet", "arguments": {}})
        assert r.status == "denied"
        r = ex.execute({"tool": "ssh", "arguments": {"host": "nowhere", "command": "true"}})
        assert r.status == "denied"


def test_known_secret_scrubbed_from_result_and_audit(fleet: Fleet, tmp_path: Path) -> None:
    secret = "Pz4-halops-bmc-secret-8Kq"
    fleet.credential("bmc_pw", secret)
    fleet.hosts["b"] = {
        "address": "127.0.0.1",
        "bmc": {"address": "127.0.0.1", "user": "admin", "password": "bmc_pw"},
    }
    f = tmp_path / "notes.txt"
    f.write_text(f"first\nthe password is {secret}\n" + "filler line\n" * 5000 + f"again {secret}\n")
    with fleet.executors() as ex:
        r = ex.execute(shell(f"cat {f}"), approved=True)
        err = ex.execute(shell(f"ls /nonexistent/{secret}"), approved=True)
    assert r.status == "ok" and r.truncated
    assert secret not in r.stdout and r.stdout.count("[REDACTED") == 2
    assert secret not in err.stderr
    log = fleet.audit_log.read_text()
    assert secret not in log
    exe = [json.loads(x) for x in log.splitlines() if '"exec"' in x][0]
    assert exe["output_bytes"] > 16384 and exe["truncated"] is True


def test_real_policy_denies_destruction_before_any_executor(fleet: Fleet, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    with fleet.executors() as ex:
        r = ex.execute(shell("rm -rf /"), approved=True)
        assert r.status == "denied"
        r = ex.execute(shell(f"cat /etc/shadow; rm -rf {victim}/.."), approved=True)
        assert r.status == "denied"
    assert victim.exists()


def test_caller_timeout_shortens_but_never_extends(fleet: Fleet) -> None:
    import time

    with fleet.executors(settings={"shell_timeout_s": 1.0}) as ex:
        t0 = time.monotonic()
        r = ex.execute(shell("sleep 5"), approved=True, timeout_s=100)
        assert r.status == "timeout" and "timed out after 1 s" in r.stderr
        assert time.monotonic() - t0 < 4
        r = ex.execute(shell("sleep 5"), approved=True, timeout_s=0.3)
        assert r.status == "timeout" and "timed out after 0.3 s" in r.stderr


def test_vendor_token_in_output_is_scrubbed(fleet: Fleet, tmp_path: Path) -> None:
    token = "ghp_" + "Zr8Qw2Lm4Nx6Pv0Ks3Dt5Hy7Jb9Fc1Ga2Eu4"  # GitHub PAT format: ghp_ + 36
    assert len(token) == 40
    f = tmp_path / "deploy.log"
    f.write_text(f"cloning with token {token}\nAuthorization: Bearer {token}\ndone\n")
    with fleet.executors() as ex:
        r = ex.execute(shell(f"cat {f}"), approved=True)
    assert r.status == "ok"
    assert token not in r.stdout and "[REDACTED:" in r.stdout
    assert r.stdout.endswith("done\n")
