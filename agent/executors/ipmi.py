"""The ipmi executor: the safety issue's BMC actions over IPMI 2.0 (RMCP+, UDP 623) with pyghmi.

BMCs are fragile peers: few concurrent sessions, slow sensor repositories, and user lockout after a
handful of failed logins. Hence:
- one pyghmi session per BMC, kept and reused (pyghmi keeps it alive); a broken one is replaced;
- one action at a time per BMC (a lock), each on a worker thread so the caller gets an answer at
  the wall-clock limit even when pyghmi's own retransmissions take longer;
- no retries of our own on top of pyghmi's, and after a rejected login *no* further login to that
  BMC for `ipmi_auth_cooldown_s` (unless its password file changes): a model that keeps calling
  would otherwise lock the account for the humans too. The result says so plainly.
- state-changing actions are never repeated automatically: a lost session during power_cycle
  leaves "did it happen?" to a power_status call, not to a second cycle.

pyghmi quirk worked around here: user and password are passed as bytes. pyghmi compares them with
its cached sessions' (bytes) fields; given str, the cache lookup misses and a second login to the
same BMC can wait forever on a half-registered session.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pyghmi import exceptions as pyghmi_exc
from pyghmi.ipmi import command as pyghmi_command
from pyghmi.ipmi.private import session as pyghmi_session

from agent.executors.config import ExecutorSettings
from agent.executors.credentials import CredentialError, CredentialStore
from agent.executors.output import Streams
from agent.executors.result import ExecutorFailure, Outcome, Status
from halops.calls import IpmiAction, IpmiArgs
from safety.inventory import BmcEndpoint, Host

READ_ONLY = {
    IpmiAction.POWER_STATUS,
    IpmiAction.CHASSIS_STATUS,
    IpmiAction.SENSORS,
    IpmiAction.SEL_LIST,
}
# Words in pyghmi's login errors that mean "the BMC refused these credentials".
_AUTH_WORDS = (
    "incorrect password",
    "unauthorized name",
    "unauthorized role",
    "invalid username",
    "privilege level",
    "rakp",
    "authentication",
)
# The tool's boot_device values (safety's list) -> pyghmi's names.
_BOOT_DEVICES = {
    "pxe": "network",
    "disk": "hd",
    "safe": "safe",
    "cdrom": "optical",
    "bios": "setup",
    "floppy": "floppy",
    "none": "default",
    "default": "default",
}


IpmiFailure = ExecutorFailure


@dataclass
class _Bmc:
    """State kept per (address, port, user)."""

    lock: threading.Lock = field(default_factory=threading.Lock)  # one action at a time
    command: object | None = None  # pyghmi.ipmi.command.Command with a logged-in session
    password_sha: str | None = None
    auth_failed_at: float | None = None  # monotonic time of the last rejected login
    auth_error: str = ""


class IpmiExecutor:
    def __init__(self, settings: ExecutorSettings, credentials: CredentialStore):
        self.settings = settings
        self.credentials = credentials
        self._bmcs: dict[tuple[str, int, str], _Bmc] = {}
        self._lock = threading.Lock()
        self.logins = 0  # sessions opened so far (tests read it to see reuse)

    def run(
        self, name: str, host: Host, args: IpmiArgs, streams: Streams, timeout: float | None = None
    ) -> Outcome:
        if host.bmc is None:
            return streams.outcome(Status.ERROR, note=f"host {name!r} has no bmc entry in the inventory")
        bmc_cfg = host.bmc
        timeout = timeout or self.settings.ipmi_timeout_s
        deadline = time.monotonic() + timeout
        try:
            password = self.credentials.read(bmc_cfg.password)
        except CredentialError as exc:
            return streams.outcome(Status.ERROR, note=f"ipmi {name}: {exc}")
        pw_sha = hashlib.sha256(password.encode()).hexdigest()
        bmc = self._bmc(bmc_cfg)
        refused = self._cooldown(name, bmc_cfg, bmc, pw_sha)
        if refused:
            return streams.outcome(Status.ERROR, note=refused)
        if not bmc.lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return streams.outcome(
                Status.TIMEOUT,
                note=f"ipmi {name}: the BMC is still busy with an earlier call after {timeout:g} s",
            )
        box: dict[str, object] = {}

        def work() -> None:
            try:
                box["text"] = self._run_locked(name, bmc_cfg, bmc, password, pw_sha, args, deadline)
            except IpmiFailure as exc:
                box["failure"] = exc
            except Exception as exc:  # pyghmi raises more than IpmiException (asserts, socket errors)
                box["failure"] = IpmiFailure(Status.ERROR, f"ipmi {name}: {type(exc).__name__}: {exc}")
            finally:
                bmc.lock.release()

        worker = threading.Thread(target=work, name=f"ipmi-{name}", daemon=True)
        worker.start()
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            # pyghmi gives up on its own within seconds; the lock frees when it does.
            return streams.outcome(
                Status.TIMEOUT,
                note=f"ipmi {name}: {args.action.value} did not finish within {timeout:g} s",
            )
        if "failure" in box:
            failure = box["failure"]
            assert isinstance(failure, IpmiFailure)
            return streams.outcome(failure.status, note=str(failure))
        streams.stdout.write_text(str(box.get("text", "")))
        return streams.outcome(Status.OK, 0)

    def close(self) -> None:
        with self._lock:
            bmcs, self._bmcs = list(self._bmcs.values()), {}
        for bmc in bmcs:
            session = getattr(bmc.command, "ipmi_session", None)
            if session is not None and not getattr(session, "broken", True):
                try:
                    session.logout()
                except Exception:  # best effort: the BMC times the session out anyway
                    pass

    # ---- sessions ---------------------------------------------------------------------------

    def _bmc(self, cfg: BmcEndpoint) -> _Bmc:
        with self._lock:
            return self._bmcs.setdefault((cfg.address, cfg.port, cfg.user), _Bmc())

    def _cooldown(self, name: str, cfg: BmcEndpoint, bmc: _Bmc, pw_sha: str) -> str | None:
        """Why no login may be attempted now, or None. A changed password file lifts the block."""
        if bmc.auth_failed_at is None or bmc.password_sha != pw_sha:
            return None
        left = self.settings.ipmi_auth_cooldown_s - (time.monotonic() - bmc.auth_failed_at)
        if left <= 0:
            return None
        return (
            f"ipmi {name}: not attempting to log in to the BMC at {cfg.address}:{cfg.port}: it rejected "
            f"user {cfg.user!r} {time.monotonic() - bmc.auth_failed_at:.0f} s ago ({bmc.auth_error}). "
            f"Repeated failed logins make BMCs lock the account (or the source address), so halops "
            f"waits {left:.0f} more s. Fix the password file {cfg.password!r} (a changed file is "
            f"tried at once) or check the BMC for a locked account."
        )

    def _session(self, name: str, cfg: BmcEndpoint, bmc: _Bmc, password: str, pw_sha: str):
        """The BMC's logged-in pyghmi Command, logging in when there is none or it broke."""
        cmd = bmc.command
        session = getattr(cmd, "ipmi_session", None)
        if cmd is not None and bmc.password_sha == pw_sha and session is not None and not session.broken:
            return cmd
        bmc.command = None
        user_b, pw_b = cfg.user.encode(), password.encode()
        # A session pyghmi abandoned half-way stays in this table and would capture the next login.
        pyghmi_session.Session.initting_sessions.pop((cfg.address, user_b, pw_b, cfg.port, None), None)
        try:
            cmd = pyghmi_command.Command(bmc=cfg.address, userid=user_b, password=pw_b, port=cfg.port)
        except pyghmi_exc.IpmiException as exc:
            raise self._login_failure(name, cfg, bmc, pw_sha, exc) from None
        except OSError as exc:  # DNS failure, no route
            raise IpmiFailure(
                Status.ERROR, f"ipmi {name}: cannot reach {cfg.address}:{cfg.port}: {exc}"
            ) from None
        with self._lock:
            self.logins += 1
        bmc.command, bmc.password_sha, bmc.auth_failed_at, bmc.auth_error = cmd, pw_sha, None, ""
        return cmd

    def _login_failure(
        self, name: str, cfg: BmcEndpoint, bmc: _Bmc, pw_sha: str, exc: Exception
    ) -> IpmiFailure:
        text = str(exc) if exc.args and exc.args[0] else ""
        low = text.lower()
        if any(word in low for word in _AUTH_WORDS):
            bmc.auth_failed_at, bmc.password_sha, bmc.auth_error = time.monotonic(), pw_sha, text
            return IpmiFailure(
                Status.ERROR,
                f"ipmi {name}: the BMC at {cfg.address}:{cfg.port} rejected the login as {cfg.user!r}: "
                f"{text}. Wrong password (file {cfg.password!r}) or user, or the account is locked out. "
                f"halops will not try this BMC again for {self.settings.ipmi_auth_cooldown_s:g} s "
                f"unless the password file changes.",
            )
        if "insufficient resources" in low:
            return IpmiFailure(
                Status.ERROR,
                f"ipmi {name}: the BMC at {cfg.address}:{cfg.port} has no free session slots ({text}); "
                f"other tools hold its sessions. Try again in a few minutes.",
            )
        return IpmiFailure(
            Status.ERROR,
            f"ipmi {name}: no answer from a BMC at {cfg.address}:{cfg.port} (UDP, IPMI 2.0 RMCP+)"
            f"{': ' + text if text and text != 'timeout' else ''}. The BMC is unreachable, the port "
            f"is wrong, or IPMI over LAN is disabled on it.",
        )

    # ---- actions ----------------------------------------------------------------------------

    def _run_locked(
        self,
        name: str,
        cfg: BmcEndpoint,
        bmc: _Bmc,
        password: str,
        pw_sha: str,
        args: IpmiArgs,
        deadline: float,
    ) -> str:
        cmd = self._session(name, cfg, bmc, password, pw_sha)
        try:
            return _ACTIONS[args.action](cmd, args.value, deadline)
        except pyghmi_exc.IpmiException as exc:
            session = getattr(cmd, "ipmi_session", None)
            lost = session is None or session.broken
            if lost:
                bmc.command = None
            if lost and args.action in READ_ONLY and time.monotonic() < deadline:
                # The kept session died (BMC reboot, idle expiry): one fresh login, once, for reads.
                cmd = self._session(name, cfg, bmc, password, pw_sha)
                try:
                    return _ACTIONS[args.action](cmd, args.value, deadline)
                except pyghmi_exc.IpmiException as exc2:
                    raise IpmiFailure(
                        Status.ERROR, f"ipmi {name}: {args.action.value} failed: {exc2}"
                    ) from None
            hint = (
                " The session was lost: the action may or may not have reached the BMC; check with "
                "power_status before repeating it."
                if lost and args.action not in READ_ONLY
                else ""
            )
            raise IpmiFailure(
                Status.ERROR, f"ipmi {name}: {args.action.value} failed: {exc}.{hint}"
            ) from None
        except ValueError as exc:  # bad `value` for the action
            raise IpmiFailure(Status.ERROR, f"ipmi {name}: {exc}") from None


def _check(rsp: dict) -> dict:
    if "error" in rsp:
        raise pyghmi_exc.IpmiException(rsp["error"], rsp.get("code"))
    return rsp


def _wait_s(deadline: float) -> int:
    """pyghmi's `wait=` counts ~1 s polls; keep them inside our deadline."""
    return max(1, int(deadline - time.monotonic()) - 1)


def _power_status(cmd, value, deadline) -> str:
    return f"power: {cmd.get_power()['powerstate']}\n"


def _set_power(state: str) -> Callable:
    def run(cmd, value, deadline) -> str:
        rsp = cmd.set_power(state, wait=_wait_s(deadline) if state in ("on", "off") else False)
        now = rsp.get("powerstate") or rsp.get("pendingpowerstate")
        return f"power {state} requested; power: {now}\n"

    return run


def _power_cycle(cmd, value, deadline) -> str:
    # Chassis Control 02h (power cycle): pyghmi's set_power has no cycle. Off, then on, by the BMC.
    rsp = cmd.raw_command(netfn=0, command=2, data=[2])
    if rsp.get("code") == 0xD5:
        raise ValueError("the BMC refuses a power cycle in the present state (is the host off? use power_on)")
    _check(rsp)
    return "power cycle requested (the BMC turns the host off, then on)\n"


_RESTORE = {0: "always-off", 1: "previous", 2: "always-on", 3: "unknown"}


def _chassis_status(cmd, value, deadline) -> str:
    data = _check(cmd.raw_command(netfn=0, command=1))["data"]
    cur = data[0]
    last = data[1] if len(data) > 1 else 0
    misc = data[2] if len(data) > 2 else 0
    lines = [
        f"power: {'on' if cur & 1 else 'off'}",
        f"power overload: {bool(cur & 2)}",
        f"power interlock: {bool(cur & 4)}",
        f"main power fault: {bool(cur & 8)}",
        f"power control fault: {bool(cur & 16)}",
        f"power restore policy: {_RESTORE[(cur >> 5) & 3]}",
        f"last power event: {_last_event(last)}",
        f"chassis intrusion: {bool(misc & 1)}",
        f"front panel lockout: {bool(misc & 2)}",
        f"drive fault: {bool(misc & 4)}",
        f"cooling/fan fault: {bool(misc & 8)}",
    ]
    return "\n".join(lines) + "\n"


def _last_event(bits: int) -> str:
    names = ["ac-failed", "overload", "interlock", "fault", "ipmi-command"]
    hit = [n for i, n in enumerate(names) if bits & (1 << i)]
    return ", ".join(hit) or "none"


def _sensors(cmd, value, deadline) -> str:
    lines = []
    for r in cmd.get_sensor_data():
        reading = "n/a" if r.value is None else f"{r.value:g} {r.units}".strip()
        health = _health(r.health)
        states = f" [{', '.join(r.states)}]" if r.states else ""
        lines.append(f"{r.name}: {reading} ({r.type}, {health}){states}")
    return "\n".join(lines) + "\n" if lines else "no sensors reported\n"


def _health(bits: int) -> str:
    # pyghmi's health is a bit set (warning 1, critical 2, failed 4): name the worst.
    for bit, word in ((4, "failed"), (2, "critical"), (1, "warning")):
        if bits & bit:
            return word
    return "ok"


def _format_event(ev: dict) -> str:
    when = ev.get("timestamp") or f"t+{ev.get('timecode', '?')}"
    parts = [str(when), str(ev.get("component", "")), str(ev.get("event", ""))]
    if ev.get("event_data"):
        parts.append(str(ev["event_data"]))
    if ev.get("deassertion") and "deassert" not in str(ev.get("event", "")).lower():
        parts.append("deasserted")
    return " | ".join(p for p in parts if p)


def _sel_list(cmd, value, deadline) -> str:
    events = [_format_event(ev) for ev in cmd.get_event_log()]
    return "\n".join(events) + "\n" if events else "event log is empty\n"


def _sel_clear(cmd, value, deadline) -> str:
    # pyghmi fetches and clears in one go so nothing logged in between is lost; show what went.
    events = [_format_event(ev) for ev in cmd.get_event_log(clear=True)]
    head = f"event log cleared ({len(events)} entries were in it)\n"
    return head + ("\n".join(events) + "\n" if events else "")


def _boot_device(cmd, value, deadline) -> str:
    if value is None:
        info = cmd.get_bootdev()
        return f"boot device: {info.get('bootdev')} (persistent: {info.get('persistent')})\n"
    dev = _BOOT_DEVICES.get(value.strip().lower())
    if dev is None:
        raise ValueError(f"boot_device value must be one of {', '.join(_BOOT_DEVICES)}; got {value!r}")
    rsp = cmd.set_bootdev(dev)
    if isinstance(rsp, dict) and "error" in rsp:
        raise ValueError(rsp["error"])
    return f"next boot from: {value} (one time)\n"


def _identify(cmd, value, deadline) -> str:
    v = (value or "on").strip().lower()
    if v.isdigit():
        seconds = min(int(v), 255)
        cmd.set_identify(duration=seconds)
        return f"identify light: on for {seconds} s\n"
    if v not in ("on", "off", "force"):
        raise ValueError(f"identify value must be on, off, force or a number of seconds; got {value!r}")
    cmd.set_identify(on=v != "off")  # on = forced on until turned off
    return f"identify light: {'off' if v == 'off' else 'on'}\n"


_ACTIONS: dict[IpmiAction, Callable] = {
    IpmiAction.POWER_STATUS: _power_status,
    IpmiAction.POWER_ON: _set_power("on"),
    IpmiAction.POWER_OFF: _set_power("off"),
    IpmiAction.POWER_RESET: _set_power("reset"),
    IpmiAction.POWER_CYCLE: _power_cycle,
    IpmiAction.CHASSIS_STATUS: _chassis_status,
    IpmiAction.SENSORS: _sensors,
    IpmiAction.SEL_LIST: _sel_list,
    IpmiAction.SEL_CLEAR: _sel_clear,
    IpmiAction.BOOT_DEVICE: _boot_device,
    IpmiAction.IDENTIFY: _identify,
}
