"""A real OpenIPMI `ipmi_sim` BMC on a fresh loopback UDP port (recipe: ../shared/TESTING.md).

The BMC (files in `ipmi_sim/`, from ../shared/testing/ipmi) has users admin/secret and test
(no name), a watchdog, and a temperature sensor `MBTemp` read from a file; power state lives in
a file the chassis-control script writes, and every chassis-control call is appended to
`calls.log`, so a test can see that a power cycle really went off and on.

    with run_ipmi_sim() as bmc:
        bmc.port, bmc.power_state(), bmc.set_temperature(150), bmc.calls()

Two ipmi_sim can bind one UDP port silently, so readiness is checked against *our* PID owning
the port (via /proc). SIGTERM takes ~1.2 s.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

FILES = Path(__file__).resolve().parent / "ipmi_sim"
USER = "admin"
PASSWORD = "secret"


def available() -> bool:
    return all(shutil.which(b) for b in ("ipmi_sim", "sdrcomp"))


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class IpmiSim:
    dir: Path
    port: int
    pid: int
    user: str = USER
    password: str = PASSWORD

    def power_state(self) -> str:
        return "on" if (self.dir / "power.state").read_text().strip() == "1" else "off"

    def set_power_state(self, on: bool) -> None:
        (self.dir / "power.state").write_text("1\n" if on else "0\n")

    def set_temperature(self, celsius: int) -> None:
        (self.dir / "MBTemp.val").write_text(f"{celsius}\n")

    def calls(self) -> list[str]:
        log = self.dir / "calls.log"
        return log.read_text().splitlines() if log.exists() else []


def _owns_udp_port(pid: int, port: int) -> bool:
    """Whether process `pid` holds a UDP socket bound to `port` (from /proc, no `ss` needed)."""
    inodes = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    if not inodes:
        return False
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


def _prepare(d: Path, port: int) -> None:
    for name in ("bmc.emu", "bmc.sdrs", "lan.conf", "chassiscontrol.sh"):
        text = (FILES / name).read_text().replace("@DIR@", str(d))
        if name == "lan.conf":
            text = text.replace("127.0.0.1 9623", f"127.0.0.1 {port}")
        (d / name).write_text(text)
    (d / "chassiscontrol.sh").chmod(0o755)
    sdr_dir = d / "state" / "ipmi_sim" / "halopsbmc"
    sdr_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["sdrcomp", "-o", str(sdr_dir / "sdr.20.main"), str(d / "bmc.sdrs")],
        check=True,
        capture_output=True,
    )
    (d / "power.state").write_text("1\n")
    (d / "MBTemp.val").write_text("48\n")


@contextlib.contextmanager
def run_ipmi_sim(directory: Path | None = None, *, ready_timeout: float = 10.0) -> Iterator[IpmiSim]:
    """Start ipmi_sim on a fresh UDP port; yields an `IpmiSim`; stops it by PID on exit."""
    own_dir = directory is None
    d = Path(tempfile.mkdtemp(prefix="halops-ipmi-")) if own_dir else directory
    d.mkdir(parents=True, exist_ok=True)
    proc = None
    try:
        port = free_udp_port()
        _prepare(d, port)
        with (d / "ipmi_sim.log").open("wb") as log:
            proc = subprocess.Popen(
                [
                    "ipmi_sim",
                    "-c",
                    str(d / "lan.conf"),
                    "-f",
                    str(d / "bmc.emu"),
                    "-s",
                    str(d / "state"),
                    "-n",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "IPMI_SIM_DIR": str(d)},
            )
        deadline = time.monotonic() + ready_timeout
        while not _owns_udp_port(proc.pid, port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"ipmi_sim did not start:\n{(d / 'ipmi_sim.log').read_text(errors='replace')}"
                )
            time.sleep(0.05)
        yield IpmiSim(dir=d, port=port, pid=proc.pid)
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if own_dir:
            shutil.rmtree(d, ignore_errors=True)
