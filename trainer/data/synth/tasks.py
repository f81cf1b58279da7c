"""What operators ask, and the call that answers it: the catalogue the episodes are drawn from.

A `Diagnostic` is one everyday task (disk usage, a unit's journal, BMC sensors...): the ways people
ask for it, the commands that answer it, how the output looks (a renderer in outputs.py) and how to
read it (a reader in facts.py). The same diagnostic runs through `ssh` on an inventory host or
through `shell` on the halops host itself; the phrasing says which.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from trainer.data.synth import facts
from trainer.data.synth import outputs as out

Render = Callable[[random.Random, dict, bool], out.Output]


@dataclass(frozen=True)
class Diagnostic:
    id: str
    tool: str  # "cmd" (ssh or shell), "ipmi" or "http"
    asks: tuple[str, ...]
    commands: tuple[str, ...]  # cmd: command templates; ipmi: the action; http: URL path templates
    render: Render
    read: facts.Reader
    follow_up: str | None = None  # a diagnostic that looks closer when the first shows trouble
    needs: tuple[str, ...] = field(default=())  # params the templates use: svc


def _r(fn: Callable[..., out.Output], *keys: str) -> Render:
    return lambda rng, p, full: fn(rng, *[p[k] for k in keys], full=full)


CMD = (
    Diagnostic(
        "disk",
        "cmd",
        (
            "How much disk space is left {on}?",
            "Is any filesystem filling up {on}?",
            "Are we running out of disk {on}?",
            "Which mount is the fullest {on}?",
            "Show me filesystem usage {on}.",
            "check free space {on}",
            "What's the disk situation {on}?",
            "Is the root partition {on} close to full?",
            "df {on} please",
            "Give me the disk usage {on}.",
            "How full are the filesystems {on}?",
            "Any disks over 90% {on}?",
        ),
        ("df -h", "df -h", "df -hP"),
        _r(out.df_h),
        facts.df,
    ),
    Diagnostic(
        "inodes",
        "cmd",
        (
            "Are we out of inodes {on}?",
            "Check inode usage {on}.",
            "Writes fail with 'No space left' but df shows space {on}: inodes?",
            "How many inodes are free {on}?",
            "inode usage {on}?",
        ),
        ("df -i",),
        _r(out.df_i),
        facts.df_inodes,
    ),
    Diagnostic(
        "memory",
        "cmd",
        (
            "How much RAM is available {on}?",
            "Is {target} swapping?",
            "Check memory usage {on}.",
            "What's the memory pressure {on}?",
            "free memory {on}?",
            "Is {target} low on memory?",
            "How much swap is used {on}?",
        ),
        ("free -m",),
        _r(out.free_m),
        facts.free,
    ),
    Diagnostic(
        "load",
        "cmd",
        (
            "What's the load average {on}?",
            "How long has {target} been up?",
            "Is {target} overloaded right now?",
            "uptime {on}",
            "When did {target} last reboot?",
            "Check the load {on}.",
            "Run uptime {on} and tell me the load.",
        ),
        ("uptime",),
        _r(out.uptime),
        facts.load,
    ),
    Diagnostic(
        "service",
        "cmd",
        (
            "Is {svc} up {on}?",
            "Check whether {svc} is active {on}.",
            "Is the {svc} service running {on}?",
            "status of {svc} {on}?",
            "Did {svc} die {on}?",
            "Make sure {svc} is running {on}.",
        ),
        ("systemctl is-active {svc}",),
        lambda rng, p, full: out.is_active(rng, p["svc"], full=full),
        facts.service_state,
        follow_up="journal",
        needs=("svc",),
    ),
    Diagnostic(
        "service-status",
        "cmd",
        (
            "What's the status of {svc} {on}?",
            "Show systemctl status for {svc} {on}.",
            "Is {svc} healthy {on}?",
            "Did {svc} crash {on}?",
            "How is {svc} doing {on}?",
        ),
        ("systemctl status {svc} --no-pager",),
        lambda rng, p, full: out.status(rng, p["svc"], full=full),
        facts.service_status,
        needs=("svc",),
    ),
    Diagnostic(
        "journal",
        "cmd",
        (
            "Show the recent logs of {svc} {on}.",
            "Why did {svc} fail {on}? Look at its journal.",
            "What does the journal say about {svc} {on}?",
            "last log lines for {svc} {on}",
            "Any errors in {svc}'s logs {on}?",
        ),
        ("journalctl -u {svc} -n 50 --no-pager", "journalctl -u {svc} -n 20 --no-pager"),
        lambda rng, p, full: out.journal(rng, p["svc"], full=full, host=p["hostname"]),
        facts.journal,
        needs=("svc",),
    ),
    Diagnostic(
        "kernel",
        "cmd",
        (
            "Any kernel errors {on}?",
            "Check dmesg {on} for problems.",
            "Did the kernel log anything bad {on} lately?",
            "Look for I/O errors in the kernel log {on}.",
            "Has the OOM killer fired {on}?",
            "recent kernel warnings {on}?",
        ),
        # dmesg first: the command every runbook names; journalctl -k where dmesg is restricted.
        ("dmesg --level=err,warn | tail -n 20",) * 2 + ("journalctl -k -p err -n 20 --no-pager",),
        _r(out.dmesg),
        facts.kernel,
    ),
    Diagnostic(
        "failed",
        "cmd",
        (
            "Are there failed systemd units {on}?",
            "List failed services {on}.",
            "Is anything broken in systemd {on}?",
            "Which units failed {on}?",
            "systemctl --failed {on}",
        ),
        ("systemctl --failed --no-pager",),
        _r(out.failed_units),
        facts.failed_units,
    ),
    Diagnostic(
        "ports",
        "cmd",
        (
            "Which ports are listening {on}?",
            "What's listening on TCP {on}?",
            "Is anything bound to port 80 {on}?",
            "List open listening sockets {on}.",
            "Show the services with open ports {on}.",
        ),
        ("ss -tlnp",),
        _r(out.ss_tlnp),
        facts.ports,
    ),
    Diagnostic(
        "kver",
        "cmd",
        (
            "Which kernel is {target} running?",
            "What kernel version does {target} run?",
            "uname -r {on}",
            "Tell me the kernel release {on}.",
            "Is {target} on the new kernel yet? Which version does it run?",
        ),
        ("uname -r",),
        lambda rng, p, full: out.uname_r(rng),
        facts.kernel_version,
    ),
    Diagnostic(
        "raid",
        "cmd",
        (
            "Is the software RAID healthy {on}?",
            "Check the md arrays {on}.",
            "Is a RAID member failed {on}?",
            "mdstat {on}?",
            "Is the mirror degraded {on}?",
        ),
        ("cat /proc/mdstat",),
        _r(out.mdstat),
        facts.raid,
    ),
    Diagnostic(
        "time",
        "cmd",
        (
            "Is the clock synced {on}?",
            "Check NTP {on}.",
            "Is time sync working {on}?",
            "Is the system clock synchronized {on}?",
            "timedatectl {on}",
        ),
        ("timedatectl",),
        _r(out.timedatectl),
        facts.timesync,
    ),
    Diagnostic(
        "gpus",
        "cmd",
        (
            "How many GPUs does {target} see?",
            "Check the GPUs {on}.",
            "Is the NVIDIA driver working {on}?",
            "GPU memory use {on}?",
            "Are the GPUs {on} running hot?",
            "nvidia-smi {on}",
        ),
        (
            "nvidia-smi --query-gpu=index,name,memory.used,memory.total,utilization.gpu,temperature.gpu "
            "--format=csv",
        ),
        _r(out.nvidia_smi),
        facts.gpus,
    ),
)

IPMI = (
    Diagnostic(
        "bmc-power",
        "ipmi",
        (
            "Is {host} powered on? Check its BMC.",
            "What's the power state of {host}?",
            "{host} is not answering ssh; is it even powered on?",
            "Ask the BMC whether {host} is on.",
            "power status of {host} via IPMI",
            "Is {host} switched off?",
        ),
        ("power_status",),
        lambda rng, p, full: out.ipmi_power(rng, full=full),
        facts.bmc_power,
    ),
    Diagnostic(
        "bmc-sensors",
        "ipmi",
        (
            "What do {host}'s hardware sensors say?",
            "Check the temperatures on {host} through the BMC.",
            "Are {host}'s fans ok?",
            "Read the IPMI sensors of {host}.",
            "Is {host} overheating?",
            "sensor readings for {host}",
        ),
        ("sensors",),
        lambda rng, p, full: out.ipmi_sensors(rng, full=full),
        facts.bmc_sensors,
    ),
    Diagnostic(
        "bmc-sel",
        "ipmi",
        (
            "Any hardware events in {host}'s event log?",
            "Show the SEL of {host}.",
            "Did {host}'s BMC log any errors?",
            "Check {host}'s IPMI event log for memory errors.",
            "What's in the system event log of {host}?",
        ),
        ("sel_list",),
        lambda rng, p, full: out.ipmi_sel(rng, full=full),
        facts.bmc_sel,
    ),
    Diagnostic(
        "bmc-chassis",
        "ipmi",
        (
            "What's the chassis status of {host}?",
            "Any chassis faults on {host}?",
            "Check {host}'s chassis for power or fan faults.",
        ),
        ("chassis_status",),
        lambda rng, p, full: out.ipmi_chassis(rng, full=full),
        facts.bmc_chassis,
    ),
)

HTTP = (
    Diagnostic(
        "http-health",
        "http",
        (
            "Is the service on {host} healthy? Its health endpoint is {url}.",
            "Check {url}.",
            "Does {url} answer?",
            "Hit the health check at {url}.",
            "What does {url} return?",
            "Is {host}'s API up? Try {url}.",
            "curl {url}",
            "What version does {url} report?",
            "{host} publishes its build info at {url}; what is it running?",
            "Is {host} ready for traffic? See {url}.",
            "GET {url} and tell me what it says.",
            "Fetch {url} for me.",
            "Is the endpoint {url} up?",
        ),
        (
            "/health", "/healthz", "/status", "/api/health", "/-/healthy", "/ready", "/readyz", "/livez",
            "/-/ready", "/version", "/api/version", "/info", "/ping", "/api/v1/status",
        ),  # fmt: skip
        lambda rng, p, full: out.http_health(rng, full=full, path=p["path"]),
        facts.http,
    ),
)

BY_ID = {d.id: d for d in CMD + IPMI + HTTP}

# Where a shell diagnostic runs: how people name the halops host itself.
LOCAL_PLACES = (
    ("on this machine", "this machine", "on this machine"),
    ("here", "this box", "here"),
    ("on the halops host", "the halops host", "on the halops host"),
    ("locally", "this host", "locally"),
    ("on this box", "this box", "on this box"),
    ("on the local machine", "the local machine", "on the local machine"),
    ("on this server", "this server", "on this server"),
    ("on the halops box", "the halops box", "on the halops box"),
    ("on your own host", "your own host", "on your own host"),
    ("on the host you run on", "the host you run on", "on the host you run on"),
    ("on this node", "this node", "on this node"),
)
