"""The shell executor: run a command on the halops host itself, as an argv, never `shell=True`.

What runs is what safety parsed, in one of two forms:
- `Decision.argv` (one simple command, no redirections): executed directly, no shell at all, so
  nothing in it can be re-interpreted.
- `Decision.command` (a pipeline, `&&` lists, redirections): those need a shell to compose, so it
  runs as `bash --noprofile --norc -c COMMAND`. bash, because the policy parses with the bash
  grammar (tree-sitter-bash): the shell that runs the line reads it as the parser did. No startup
  files and no BASH_ENV/ENV/exported functions in the environment: nothing outside the checked line
  (an alias, a function, `set -x` via SHELLOPTS) can change what its words mean.

The child gets its own session (process group): a timeout kills the whole pipeline, not just bash.
Its environment is ours minus halops' own settings, credentials and anything secret-looking.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping

from agent.executors.config import ExecutorSettings
from agent.executors.output import Streams
from agent.executors.result import Outcome, Status
from safety.decision import Decision

BASH = ["bash", "--noprofile", "--norc", "-c"]
_READ = 65536
_KILL_GRACE_S = 2.0  # SIGTERM first; SIGKILL if the group is still there after this
_DRAIN_GRACE_S = 1.0  # after exit, wait this long for background children holding the pipes

# Variables that change how bash or the dynamic loader behave, or hand out access.
_DROP_EXACT = {
    "BASH_ENV",  # a file non-interactive bash sources before the command
    "ENV",  # the same for sh
    "SHELLOPTS",
    "BASHOPTS",
    "PROMPT_COMMAND",
    "PS4",
    "LD_PRELOAD",
    "LD_AUDIT",
    "SSH_AUTH_SOCK",  # our ssh-agent, if any
    "CREDENTIALS_DIRECTORY",  # systemd's directory of halops' credentials
    "NOTIFY_SOCKET",
    "LISTEN_FDS",
    "LISTEN_PID",
}
_DROP_PREFIX = ("HALOPS_", "BASH_FUNC_")
_SECRET_NAME = re.compile(r"PASSW|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AUTH", re.I)


def clean_env(env: Mapping[str, str], secrets: Iterable[str] = ()) -> dict[str, str]:
    """`env` without halops settings, credentials, secret-looking names or known secret values."""
    values = {s for s in secrets if s}
    out = {}
    for name, value in env.items():
        if name in _DROP_EXACT or name.startswith(_DROP_PREFIX) or _SECRET_NAME.search(name):
            continue
        if value in values:
            continue
        out[name] = value
    return out


class ShellExecutor:
    def __init__(self, settings: ExecutorSettings, secrets: Callable[[], Iterable[str]] = tuple):
        self.settings = settings
        self._secrets = secrets

    def run(self, decision: Decision, streams: Streams, timeout: float | None = None) -> Outcome:
        timeout = timeout or self.settings.shell_timeout_s
        if decision.argv:
            argv = list(decision.argv)
        elif decision.command:
            argv = [*BASH, decision.command]
        else:
            return streams.outcome(Status.ERROR, note="safety returned no command to run")
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=clean_env(os.environ, self._secrets()),
                start_new_session=True,
                close_fds=True,
            )
        except FileNotFoundError:
            return streams.outcome(Status.ERROR, 127, note=f"command not found: {argv[0]}")
        except PermissionError:
            return streams.outcome(Status.ERROR, 126, note=f"permission denied: {argv[0]}")
        except OSError as exc:
            return streams.outcome(Status.ERROR, note=f"cannot start {argv[0]}: {exc.strerror or exc}")
        timed_out, lingering = _pump(proc, streams, time.monotonic() + timeout)
        if timed_out:
            _kill_group(proc)
            return streams.outcome(
                Status.TIMEOUT,
                None,
                note=f"timed out after {timeout:g} s; the command's process group was killed",
            )
        code = proc.wait()
        note = None
        if lingering:
            note = "background processes kept the output open; output read until the command exited"
            _kill_group(proc)
        if code < 0:  # killed by a signal: report it the way a shell would
            return streams.outcome(Status.ERROR, 128 - code, note=f"killed by signal {-code}")
        return streams.outcome(Status.OK if code == 0 else Status.ERROR, code, note=note)


def _pump(proc: subprocess.Popen, streams: Streams, deadline: float) -> tuple[bool, bool]:
    """Read both pipes until EOF or the deadline, in this thread. Returns (timed_out, lingering).

    One selector loop instead of a reader thread per pipe: no thread can be left blocked on a pipe
    that a background grandchild holds open.
    """
    sel = selectors.DefaultSelector()
    for pipe, sink in ((proc.stdout, streams.stdout), (proc.stderr, streams.stderr)):
        os.set_blocking(pipe.fileno(), False)
        sel.register(pipe, selectors.EVENT_READ, sink)
    exited_at = None
    try:
        while sel.get_map():
            now = time.monotonic()
            if now >= deadline:
                return True, False
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > _DRAIN_GRACE_S:
                return False, True
            wait = min(deadline - now, 0.2 if exited_at is None else _DRAIN_GRACE_S)
            for key, _ in sel.select(wait):
                try:
                    data = os.read(key.fd, _READ)
                except BlockingIOError:
                    continue
                if data:
                    key.data.write(data)
                else:
                    sel.unregister(key.fileobj)
        return False, False
    finally:
        sel.close()
        for pipe in (proc.stdout, proc.stderr):
            pipe.close()


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM the command's process group, then SIGKILL whatever is left of it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(_KILL_GRACE_S)
    # Members other than the leader may have ignored SIGTERM; the group id outlives the leader.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(_KILL_GRACE_S)
