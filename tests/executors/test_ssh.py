"""The ssh executor against a real OpenSSH sshd on 127.0.0.1."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from agent.executors.hostkeys import fingerprint
from halops.calls import ToolCall
from tests.support.fleet import Fleet, add_ssh_host, other_key
from tests.support.sshd import free_tcp_port, keygen

pytestmark = pytest.mark.integration


def ssh(command: str, host: str = "box") -> ToolCall:
    return ToolCall(tool="ssh", arguments={"host": host, "command": command})


@pytest.fixture
def box(fleet: Fleet, sshd_server):
    add_ssh_host(fleet, sshd_server)
    with fleet.executors() as ex:
        yield ex


def test_success_stdout_stderr_and_exit_code(box) -> None:
    r = box.execute(ssh("echo hello; echo oops >&2"), approved=True)
    assert r.status == "ok", r
    assert r.exit_code == 0
    assert r.stdout == "hello\n"
    assert r.stderr == "oops\n"
    assert not r.truncated
    assert r.duration_ms > 0


def test_non_zero_exit_is_an_error_result(box) -> None:
    r = box.execute(ssh("ls /nonexistent-halops-path"), approved=True)
    assert r.status == "error"
    assert r.exit_code == 2
    assert "No such file" in r.stderr


def test_one_connection_is_reused(box) -> None:
    for _ in range(5):
        assert box.execute(ssh("true"), approved=True).status == "ok"
    assert box.ssh.connects == 1


def test_reconnects_after_the_connection_died(box) -> None:
    assert box.execute(ssh("true"), approved=True).status == "ok"
    # Kill the transport under the executor, as a server restart or network cut would.
    conn = next(iter(box.ssh._conns.values()))
    conn.client.get_transport().sock.close()
    time.sleep(0.2)
    r = box.execute(ssh("echo again"), approved=True)
    assert r.status == "ok", r
    assert r.stdout == "again\n"
    assert box.ssh.connects == 2


def test_connection_lost_during_a_command(box) -> None:
    assert box.execute(ssh("true"), approved=True).status == "ok"
    transport = next(iter(box.ssh._conns.values())).client.get_transport()
    threading.Timer(0.5, transport.sock.close).start()
    t0 = time.monotonic()
    r = box.execute(ssh("sleep 5"), approved=True)
    assert r.status == "error", r
    assert "connection" in r.stderr
    assert time.monotonic() - t0 < 4
    assert box.execute(ssh("echo back"), approved=True).stdout == "back\n"
    assert box.ssh.connects == 2


def test_concurrent_calls_share_the_connection(box) -> None:
    results = []

    def one(i: int) -> None:
        results.append(box.execute(ssh(f"echo {i}"), approved=True))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r.stdout for r in results) == sorted(f"{i}\n" for i in range(8))
    assert all(r.status == "ok" for r in results)
    assert box.ssh.connects == 1


def test_timeout_returns_on_time_and_stops_the_command(box, tmp_path: Path) -> None:
    # The command writes a tick every 0.1 s. After the timeout the channel is closed, so the
    # remote loop dies of SIGPIPE on its next write (root logins ignore the SSH signal request).
    ticks = tmp_path / "ticks"
    t0 = time.monotonic()
    r = box.execute(
        ssh(f"while true; do echo tick; date +%s%N >> {ticks}; sleep 0.1; done"), approved=True, timeout_s=1.5
    )
    assert r.status == "timeout"
    assert r.exit_code is None
    assert "timed out after 1.5 s" in r.stderr
    assert r.stdout.startswith("tick\n")
    assert time.monotonic() - t0 < 4
    time.sleep(0.5)
    n = len(ticks.read_text().splitlines())
    time.sleep(0.6)
    assert len(ticks.read_text().splitlines()) == n, "remote loop survived the timeout"
    # The connection stays usable.
    assert box.execute(ssh("echo still"), approved=True).stdout == "still\n"
    assert box.ssh.connects == 1


def test_oversized_output_is_capped_with_a_marker(box) -> None:
    r = box.execute(ssh("seq 1 200000"), approved=True)
    assert r.status == "ok"
    assert r.truncated
    assert r.stdout.startswith("1\n2\n3\n")
    assert r.stdout.endswith("199999\n200000\n")
    assert "bytes cut here" in r.stdout
    assert len(r.stdout.encode()) < 16384 + 200


def test_secret_in_output_is_scrubbed(box, fleet: Fleet, tmp_path: Path) -> None:
    secret = "Zq8-halops-bmc-pw-3vT9x"
    fleet.credential("box_bmc", secret + "\n")  # a credential the executors know
    fleet.hosts["box"]["bmc"] = {"address": "127.0.0.1", "port": 623, "user": "admin", "password": "box_bmc"}
    log = tmp_path / "app.log"
    log.write_text(f"starting\nconnecting with password {secret} now\ndone\n")
    with fleet.executors() as ex:
        r = ex.execute(ssh(f"cat {log}"), approved=True)
    assert r.status == "ok"
    assert secret not in r.stdout
    assert "[REDACTED" in r.stdout
    assert r.stdout.startswith("starting\n") and r.stdout.endswith("done\n")
    assert secret not in fleet.audit_log.read_text()


def test_unreachable_host(fleet: Fleet, sshd_server) -> None:
    add_ssh_host(fleet, sshd_server, trust=False)
    port = free_tcp_port()  # nothing listens there
    fleet.hosts["box"]["ssh"]["port"] = port
    fleet.known_hosts.write_text(
        sshd_server.known_hosts_line.replace(f":{sshd_server.port} ", f":{port} ") + "\n"
    )
    with fleet.executors() as ex:
        r = ex.execute(ssh("true"), approved=True)
    assert r.status == "error"
    assert "cannot connect" in r.stderr and "refused" in r.stderr.lower()


def test_unknown_host_key_is_rejected(fleet: Fleet, sshd_server) -> None:
    add_ssh_host(fleet, sshd_server, trust=False)
    with fleet.executors() as ex:
        r = ex.execute(ssh("true"), approved=True)
    assert r.status == "error"
    assert "unknown" in r.stderr and "halops inventory trust box" in r.stderr
    assert not fleet.known_hosts.read_text()  # nothing was learned


def test_unknown_key_type_is_rejected(fleet: Fleet, sshd_server, tmp_path: Path) -> None:
    # known_hosts has an entry for the host, but of a type the server does not offer.
    add_ssh_host(fleet, sshd_server, trust=False)
    subprocess.run(["ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", str(tmp_path / "ec")], check=True)
    kind, b64 = (tmp_path / "ec.pub").read_text().split()[:2]
    fleet.known_hosts.write_text(f"[127.0.0.1]:{sshd_server.port} {kind} {b64}\n")
    with fleet.executors() as ex:
        r = ex.execute(ssh("true"), approved=True)
    assert r.status == "error"
    assert "refusing to connect" in r.stderr.lower()


def test_changed_host_key_is_rejected(fleet: Fleet, sshd_server, tmp_path: Path) -> None:
    add_ssh_host(fleet, sshd_server, trust=False)
    impostor = keygen(tmp_path / "impostor")
    kind, b64 = impostor.with_suffix(".pub").read_text().split()[:2]
    fleet.known_hosts.write_text(f"[127.0.0.1]:{sshd_server.port} {kind} {b64}\n")
    with fleet.executors() as ex:
        r = ex.execute(ssh("true"), approved=True)
    assert r.status == "error"
    assert "CHANGED" in r.stderr
    assert "--replace" in r.stderr


def test_wrong_client_key_is_rejected(fleet: Fleet, sshd_server, tmp_path: Path) -> None:
    add_ssh_host(fleet, sshd_server, key=other_key(tmp_path))
    with fleet.executors() as ex:
        r = ex.execute(ssh("true"), approved=True)
    assert r.status == "error"
    assert "authentication" in r.stderr and "box_ssh" in r.stderr


def test_missing_or_open_key_credential(fleet: Fleet, sshd_server) -> None:
    add_ssh_host(fleet, sshd_server)
    (fleet.creds / "box_ssh").chmod(0o644)
    with fleet.executors() as ex:
        r = ex.execute(ssh("true"), approved=True)
        assert r.status == "error"
        assert "chmod 600" in r.stderr
        (fleet.creds / "box_ssh").unlink()
        r = ex.execute(ssh("true"), approved=True)
        assert r.status == "error"
        assert "does not exist" in r.stderr


def test_fingerprint_matches_ssh_keygen(sshd_server) -> None:
    out = subprocess.run(
        ["ssh-keygen", "-lf", str(sshd_server.host_key.with_suffix(".pub"))], capture_output=True, text=True
    ).stdout
    import paramiko

    key = paramiko.PKey.from_type_string(*_pub(sshd_server.host_key.with_suffix(".pub")))
    assert fingerprint(key) in out


def _pub(path: Path) -> tuple[str, bytes]:
    import base64

    kind, b64 = path.read_text().split()[:2]
    return kind, base64.b64decode(b64)
