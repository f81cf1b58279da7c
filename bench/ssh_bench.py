"""SSH executor: commands/s over one reused connection vs a new connection per command.

Runs against a real OpenSSH sshd on 127.0.0.1 (started here, as the tests do), through the ssh
executor itself (`SshExecutor.run`: channel, output capture, capping). Modes, interleaved in rounds
so background load hits them alike:
  reused      one executor, one connection, commands one after another
  reused x4   one executor, one connection, 4 threads issuing commands at once (channels multiplexed)
  fresh       a new connection per command (TCP, key exchange, public-key auth, then the command)
  execute()   with --full: the whole agent path on one reused connection: safety.check, the audit
              log's two fsync'd lines, streaming scrub with the known secrets, capping
Each remote command also pays the remote login shell's startup (bash reads ~/.bashrc when run
by sshd). This box's root .bashrc runs `pyenv init` (~85 ms); `--empty-home` gives sshd an empty
home in its private mount namespace to measure SSH's own cost. Report both.
The remote command is `true`; each command still costs the remote login shell's startup.

    .venv/bin/python bench/ssh_bench.py [--commands 40] [--rounds 3] [--command true]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.executors.config import ExecutorSettings  # noqa: E402
from agent.executors.credentials import CredentialStore  # noqa: E402
from agent.executors.output import Streams  # noqa: E402
from agent.executors.ssh import SshExecutor  # noqa: E402
from safety.inventory import Host  # noqa: E402
from tests.support.sshd import run_sshd  # noqa: E402


def make_executor(settings: ExecutorSettings, known_hosts: Path, creds: Path) -> SshExecutor:
    return SshExecutor(settings, known_hosts, CredentialStore(creds))


def run_one(ex: SshExecutor, host: Host, command: str) -> None:
    o = ex.run("bench", host, command, Streams(16384))
    if o.result.status != "ok":
        raise SystemExit(f"command failed: {o.result}")


def reused(ex: SshExecutor, host: Host, command: str, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        run_one(ex, host, command)
    return n / (time.perf_counter() - t0)


def reused_threads(ex: SshExecutor, host: Host, command: str, n: int, threads: int = 4) -> float:
    per = n // threads

    def worker() -> None:
        for _ in range(per):
            run_one(ex, host, command)

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return per * threads / (time.perf_counter() - t0)


def fresh(settings: ExecutorSettings, kh: Path, creds: Path, host: Host, command: str, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        ex = make_executor(settings, kh, creds)
        run_one(ex, host, command)
        ex.close()
    return n / (time.perf_counter() - t0)


def full_path(tmp: Path, kh: Path, creds: Path, srv, command: str):
    """`Executors.execute` as the agent calls it: safety.check, two fsync'd audit lines, scrubbing."""
    from agent.cli.settings import Settings
    from agent.executors.dispatch import Executors
    from halops.calls import ToolCall
    from safety.inventory import Inventory

    inv = Inventory.model_validate(
        {
            "hosts": {
                "bench": {"address": "127.0.0.1", "ssh": {"user": srv.user, "port": srv.port, "key": "key"}}
            }
        }
    )
    ex_settings = ExecutorSettings(
        inventory=tmp / "inventory.yaml", credentials_dir=creds, known_hosts=kh, audit_log=tmp / "audit.jsonl"
    )
    ex = Executors(Settings(executors=ex_settings), inv, env={})
    call = ToolCall(tool="ssh", arguments={"host": "bench", "command": command})

    def one() -> None:
        r = ex.execute(call, approved=True)
        if r.status != "ok":
            raise SystemExit(f"command failed: {r}")

    one()
    return ex, one


def full(one, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        one()
    return n / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commands", type=int, default=40, help="commands per mode per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--command", default="true")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--empty-home", action="store_true", help="remote shell reads no ~/.bashrc")
    ap.add_argument(
        "--full", action="store_true", help="also time Executors.execute (needs safety.check and scrub)"
    )
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="halops-ssh-bench-"))
    try:
        with run_sshd(tmp / "sshd", empty_home=a.empty_home) as srv:
            creds = tmp / "creds"
            creds.mkdir(mode=0o700)
            shutil.copy(srv.client_key, creds / "key")
            (creds / "key").chmod(0o600)
            kh = tmp / "known_hosts"
            kh.write_text(srv.known_hosts_line + "\n")
            settings = ExecutorSettings()
            host = Host(address="127.0.0.1", ssh={"user": srv.user, "port": srv.port, "key": "key"})
            ex = make_executor(settings, kh, creds)
            run_one(ex, host, a.command)  # connect once, warm caches
            results: dict[str, list[float]] = {"reused": [], "reused x4": [], "fresh": []}
            dispatcher, one = full_path(tmp, kh, creds, srv, a.command) if a.full else (None, None)
            if one is not None:
                results["execute()"] = []
            for _ in range(a.rounds):
                if one is not None:
                    results["execute()"].append(full(one, a.commands))
                results["reused"].append(reused(ex, host, a.command, a.commands))
                results["reused x4"].append(reused_threads(ex, host, a.command, a.commands))
                results["fresh"].append(fresh(settings, kh, creds, host, a.command, a.commands))
            connects = ex.connects
            ex.close()
            if dispatcher is not None:
                dispatcher.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    summary = {
        mode: {"median_cmd_per_s": round(statistics.median(v), 2), "runs": [round(x, 2) for x in v]}
        for mode, v in results.items()
    }
    speedup = summary["reused"]["median_cmd_per_s"] / summary["fresh"]["median_cmd_per_s"]
    if a.json:
        doc = {"command": a.command, "empty_home": a.empty_home, "modes": summary}
        print(json.dumps({**doc, "reused_vs_fresh": round(speedup, 2)}))
        return 0
    home = "empty home (no ~/.bashrc)" if a.empty_home else "this box's ~/.bashrc"
    print(f"ssh executor, remote command {a.command!r}, {home}, {a.commands} commands x {a.rounds} rounds")
    print(f"machine: {platform.machine()}, python {platform.python_version()}")
    for mode, s in summary.items():
        per = 1000 / s["median_cmd_per_s"]
        rate = s["median_cmd_per_s"]
        print(f"  {mode:<10} {rate:7.2f} commands/s  ({per:6.1f} ms/command)  runs {s['runs']}")
    print(
        f"  reused connection is {speedup:.2f}x a new connection per command; "
        f"the reused executor connected {connects}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
