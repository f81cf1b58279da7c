"""The ssh executor: run a command on an inventory host over one reused, strictly checked connection.

- Host keys come only from the configured known_hosts file (RejectPolicy): an unknown or changed
  key is refused, never learned. `halops inventory trust HOST` is the only way a key gets in.
- Authentication is the inventory's key credential only: no ~/.ssh key discovery, no agent (an
  agent would let a compromised host use our identity elsewhere), no password prompts.
- One connection per host, shared by all threads (paramiko multiplexes channels over a transport
  and is thread-safe at that level); a per-host lock serializes connecting. A connection that died
  is replaced once per call, transparently; a second failure is the call's result.
- The command sent is the one safety rebuilt from its parse (`Decision.command`), every word
  re-quoted: the remote login shell then sees exactly what the policy judged.
"""

from __future__ import annotations

import hashlib
import io
import logging
import select
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paramiko
from paramiko.common import cMSG_CHANNEL_REQUEST
from paramiko.message import Message

from agent.executors.config import ExecutorSettings
from agent.executors.credentials import CredentialError, CredentialStore
from agent.executors.hostkeys import HostKeyError, fingerprint, known_host_name, lookup
from agent.executors.output import Streams
from agent.executors.result import ExecutorFailure, Outcome, Status
from safety.inventory import Host

log = logging.getLogger(__name__)
_READ = 65536


SshFailure = ExecutorFailure


@dataclass
class _Conn:
    client: paramiko.SSHClient
    ident: tuple  # what the connection was made with; a changed inventory entry reconnects

    def alive(self) -> bool:
        transport = self.client.get_transport()
        return transport is not None and transport.is_active()


class SshExecutor:
    def __init__(self, settings: ExecutorSettings, known_hosts: Path, credentials: CredentialStore):
        self.settings = settings
        self.known_hosts = known_hosts
        self.credentials = credentials
        self._conns: dict[str, _Conn] = {}
        self._host_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()  # guards the two dicts, never held while connecting
        self._pkeys: dict[str, paramiko.PKey] = {}  # parsed keys by sha256 of the key text
        self.connects = 0  # connections opened so far (tests and the benchmark read it)

    # ---- public ----------------------------------------------------------------------------

    def run(
        self, name: str, host: Host, command: str, streams: Streams, timeout: float | None = None
    ) -> Outcome:
        if host.ssh is None:
            return streams.outcome(Status.ERROR, note=f"host {name!r} has no ssh entry in the inventory")
        timeout = timeout or self.settings.ssh_command_timeout_s
        deadline = time.monotonic() + timeout
        try:
            chan = self._open_channel(name, host)
        except SshFailure as exc:
            return streams.outcome(exc.status, note=str(exc))
        try:
            chan.exec_command(command)
            return self._collect(name, chan, streams, deadline, timeout)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            self._drop_transport(name, chan.get_transport())
            return streams.outcome(
                Status.ERROR, note=f"ssh {name}: connection failed during the command: {exc}"
            )
        finally:
            chan.close()

    def close(self) -> None:
        with self._lock:
            conns, self._conns = list(self._conns.values()), {}
        for conn in conns:
            conn.client.close()

    # ---- connections -----------------------------------------------------------------------

    def _host_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._host_locks.setdefault(name, threading.Lock())

    def _open_channel(self, name: str, host: Host) -> paramiko.Channel:
        """A session channel on the host's connection; reconnects once if the reused one died."""
        conn, fresh = self._connection(name, host)
        try:
            return conn.client.get_transport().open_session(timeout=self.settings.ssh_connect_timeout_s)
        except (paramiko.SSHException, EOFError, OSError, AttributeError) as exc:
            self._drop(name, conn)
            if fresh:
                raise SshFailure(Status.ERROR, f"ssh {name}: cannot open a session: {exc}") from None
        conn, _ = self._connection(name, host)
        try:
            return conn.client.get_transport().open_session(timeout=self.settings.ssh_connect_timeout_s)
        except (paramiko.SSHException, EOFError, OSError, AttributeError) as exc:
            self._drop(name, conn)
            raise SshFailure(Status.ERROR, f"ssh {name}: cannot open a session: {exc}") from None

    def _connection(self, name: str, host: Host) -> tuple[_Conn, bool]:
        """(connection, newly made). Holds the host's lock while connecting, not while running."""
        assert host.ssh is not None
        try:
            key_text = self.credentials.read(host.ssh.key)
        except CredentialError as exc:
            raise SshFailure(Status.ERROR, f"ssh {name}: {exc}") from None
        ident = (host.address, host.ssh.port, host.ssh.user, hashlib.sha256(key_text.encode()).hexdigest())
        with self._host_lock(name):
            with self._lock:
                conn = self._conns.get(name)
            if conn is not None and conn.ident == ident and conn.alive():
                return conn, False
            if conn is not None:
                self._drop(name, conn)
            client = self._connect(name, host, self._pkey(key_text, host.ssh.key))
            conn = _Conn(client, ident)
            with self._lock:
                self._conns[name] = conn
            return conn, True

    def _drop(self, name: str, conn: _Conn | None = None) -> None:
        with self._lock:
            current = self._conns.get(name)
            if current is not None and (conn is None or current is conn):
                del self._conns[name]
        target = conn or current
        if target is not None:
            target.client.close()

    def _drop_transport(self, name: str, transport: paramiko.Transport | None) -> None:
        """Drop the host's connection only if it is still the one that failed (another thread
        may already have replaced it)."""
        with self._lock:
            current = self._conns.get(name)
        if current is not None and current.client.get_transport() is transport:
            self._drop(name, current)

    def _pkey(self, key_text: str, cred_name: str) -> paramiko.PKey:
        digest = hashlib.sha256(key_text.encode()).hexdigest()
        with self._lock:
            if digest in self._pkeys:
                return self._pkeys[digest]
        try:
            pkey = load_private_key(key_text, cred_name)
        except ValueError as exc:
            raise SshFailure(Status.ERROR, f"ssh: {exc}") from None
        with self._lock:
            self._pkeys[digest] = pkey
        return pkey

    def _connect(self, name: str, host: Host, pkey: paramiko.PKey) -> paramiko.SSHClient:
        ssh = host.ssh
        assert ssh is not None
        where = f"{ssh.user}@{host.address}:{ssh.port}"
        timeout = self.settings.ssh_connect_timeout_s
        try:
            trusted = lookup(self.known_hosts, host.address, ssh.port)
        except HostKeyError as exc:
            raise SshFailure(Status.ERROR, f"ssh {name}: {exc}") from None
        if not trusted:
            raise SshFailure(
                Status.ERROR,
                f"ssh {name}: host key of {known_host_name(host.address, ssh.port)} is unknown "
                f"(not in {self.known_hosts}); refusing to connect. An operator must verify and "
                f"record it with `halops inventory trust {name}`.",
            )
        try:
            # Our own socket: TCP_NODELAY, else Nagle and delayed ACKs add ~40 ms to every
            # channel open on a reused connection.
            sock = socket.create_connection((host.address, ssh.port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except TimeoutError:
            raise SshFailure(
                Status.TIMEOUT, f"ssh {name}: connecting to {where} timed out after {timeout:g} s"
            ) from None
        except OSError as exc:  # refused, unreachable, DNS failure
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise SshFailure(Status.ERROR, f"ssh {name}: cannot connect to {where}: {reason}") from None
        client = paramiko.SSHClient()
        client.load_host_keys(str(self.known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(
                hostname=host.address,
                port=ssh.port,
                username=ssh.user,
                pkey=pkey,
                sock=sock,
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
                channel_timeout=timeout,
                look_for_keys=False,
                allow_agent=False,
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise SshFailure(
                Status.ERROR,
                f"ssh {name}: host key of {known_host_name(host.address, ssh.port)} has CHANGED: "
                f"the server presents {exc.key.get_name()} {fingerprint(exc.key)}, known_hosts has "
                f"{fingerprint(exc.expected_key)}. Refusing to connect (this can be a "
                f"man-in-the-middle). If the host was reinstalled, verify the new key and run "
                f"`halops inventory trust {name} --replace`.",
            ) from None
        except paramiko.AuthenticationException as exc:
            client.close()
            raise SshFailure(
                Status.ERROR,
                f"ssh {name}: authentication as {where} with key credential {ssh.key!r} failed "
                f"({exc}); is its public key in the user's authorized_keys?",
            ) from None
        except TimeoutError:
            client.close()
            raise SshFailure(
                Status.TIMEOUT, f"ssh {name}: connecting to {where} timed out after {timeout:g} s"
            ) from None
        except paramiko.SSHException as exc:
            client.close()
            if "known_hosts" in str(exc):  # RejectPolicy: the server offered a key type we lack
                raise SshFailure(
                    Status.ERROR,
                    f"ssh {name}: the server's host key is not in {self.known_hosts}; refusing to "
                    f"connect. Verify and record it with `halops inventory trust {name}`.",
                ) from None
            raise SshFailure(Status.ERROR, f"ssh {name}: SSH handshake with {where} failed: {exc}") from None
        except (OSError, EOFError) as exc:  # reset or closed during the handshake
            client.close()
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise SshFailure(Status.ERROR, f"ssh {name}: connection to {where} failed: {reason}") from None
        transport = client.get_transport()
        if transport is not None and self.settings.ssh_keepalive_s:
            transport.set_keepalive(int(max(1, self.settings.ssh_keepalive_s)))
        with self._lock:
            self.connects += 1
        return client

    # ---- one command -----------------------------------------------------------------------

    def _collect(
        self, name: str, chan: paramiko.Channel, streams: Streams, deadline: float, timeout: float
    ) -> Outcome:
        """Copy output into the captures until the server closes the channel or the deadline."""
        fd = chan.fileno()  # a pipe paramiko sets when either stream has data or the channel closed
        while True:
            while chan.recv_ready():
                streams.stdout.write(chan.recv(_READ))
            while chan.recv_stderr_ready():
                streams.stderr.write(chan.recv_stderr(_READ))
            if chan.eof_received and not chan.recv_ready() and not chan.recv_stderr_ready():
                break
            if chan.closed:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _send_kill(chan)
                return streams.outcome(
                    Status.TIMEOUT,
                    note=f"timed out after {timeout:g} s; the channel was closed and the server "
                    f"asked to kill the command",
                )
            select.select([fd], [], [], min(remaining, 1.0))
        # The exit status follows EOF; it can lag a moment behind it.
        remaining = max(0.0, deadline - time.monotonic())
        if not chan.status_event.wait(min(remaining, 5.0) or 0.01):
            if chan.closed or not chan.get_transport().is_active():
                self._drop_transport(name, chan.get_transport())
                return streams.outcome(
                    Status.ERROR, note=f"ssh {name}: connection lost before the command finished"
                )
            _send_kill(chan)
            return streams.outcome(
                Status.TIMEOUT, note=f"timed out after {timeout:g} s waiting for the exit status"
            )
        code = chan.recv_exit_status()
        transport = chan.get_transport()
        if code == -1 and (transport is None or not transport.is_active()):
            self._drop_transport(name, transport)
            return streams.outcome(
                Status.ERROR, note=f"ssh {name}: connection lost before the command finished"
            )
        if code == -1:  # the server sent no exit-status (killed by a signal: exit-signal instead)
            return streams.outcome(Status.ERROR, None, note="the remote command was killed by a signal")
        return streams.outcome(Status.OK if code == 0 else Status.ERROR, code)


def load_private_key(key_text: str, cred_name: str) -> paramiko.PKey:
    """Parse an unencrypted ed25519/ecdsa/rsa private key; ValueError says what is wrong."""
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return cls.from_private_key(io.StringIO(key_text))
        except paramiko.PasswordRequiredException:
            raise ValueError(
                f"key credential {cred_name!r} is encrypted; halops needs an unencrypted key "
                f"(protected by the 0600 credential file or systemd's LoadCredential=)"
            ) from None
        except (paramiko.SSHException, ValueError, IndexError, TypeError):
            continue
    raise ValueError(f"key credential {cred_name!r} is not an OpenSSH/PEM ed25519, ecdsa or rsa private key")


def _send_kill(chan: paramiko.Channel) -> None:
    """RFC 4254 §6.9 "signal" request: ask the server to SIGKILL the remote command.

    paramiko has no public call for it, so the request is built by hand. OpenSSH (≥ 7.9) honours
    it only for sessions under privilege separation, i.e. *not* for root logins ("session
    signalling requires privilege separation"), and only for the session's top process. The
    channel is closed right after in every case: a command that keeps writing then dies of
    SIGPIPE; a silent one (`sleep 600` as root) runs on until it ends. No pty is requested to
    get SIGHUP semantics instead: a pty merges stderr into stdout, rewrites line endings and
    makes tools like systemctl start pagers.
    """
    try:
        msg = Message()
        msg.add_byte(cMSG_CHANNEL_REQUEST)
        msg.add_int(chan.remote_chanid)
        msg.add_string("signal")
        msg.add_boolean(False)
        msg.add_string("KILL")
        chan.get_transport()._send_user_message(msg)
    except Exception as exc:  # best effort: closing the channel follows anyway
        log.debug("ssh signal request failed: %s", exc)
