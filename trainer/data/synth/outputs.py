"""Command output in the formats the real tools print, rendered from a seeded random state.

Captured output (observations.jsonl, recorded by `bench/synth_capture.py` on this machine and on
the test hosts) shows the formats; these renderers vary the state behind them (a full disk, a
failed unit, a missing GPU) so the model sees healthy and broken hosts in equal measure. Each
renderer returns (stdout, exit_code) and writes what a real host prints, column layout included;
the answer side (`facts.py`) reads the *text*, never the state, so it works on captured output too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

SERVICES = (
    "nginx", "postgresql", "redis-server", "docker", "sshd", "haproxy", "mysql", "prometheus",
    "grafana-server", "kubelet", "containerd", "chronyd", "rsyslog", "cron", "node_exporter",
    "memcached", "rabbitmq-server", "elasticsearch", "php8.2-fpm", "gunicorn", "etcd", "bind9",
    "postfix", "apache2", "zookeeper", "kafka", "minio", "vault", "consul", "nfs-server",
)  # fmt: skip
MOUNTS = ("/", "/var", "/home", "/srv", "/data", "/var/lib/docker", "/var/log", "/opt", "/backup", "/tmp")
KERNELS = (
    "6.1.0-18-amd64", "6.1.0-25-amd64", "5.15.0-97-generic", "6.8.0-45-generic", "5.14.0-427.el9.x86_64",
    "6.6.31-1-lts", "5.10.0-28-amd64", "6.5.0-41-generic", "4.18.0-513.el8.x86_64", "6.12.9-arch1-1",
)  # fmt: skip
GPUS = ("NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3", "NVIDIA L40S", "NVIDIA GeForce RTX 4090",
        "Tesla V100-SXM2-32GB", "NVIDIA A10", "NVIDIA RTX A6000")  # fmt: skip


@dataclass
class Output:
    stdout: str
    exit_code: int = 0
    stderr: str = ""


def _size(gib: float) -> str:
    """df -h / free -h style: 1 decimal below 10, none above, with the unit letter."""
    if gib >= 1024:
        t = gib / 1024
        return f"{t:.1f}T" if t < 10 else f"{t:.0f}T"
    if gib < 1:
        return f"{gib * 1024:.0f}M"
    return f"{gib:.1f}G" if gib < 10 else f"{gib:.0f}G"


def df_h(rng: random.Random, *, full: bool) -> Output:
    mounts = ["/"] + rng.sample(MOUNTS[1:], rng.randint(1, 3))
    hot = rng.choice(mounts) if full else None
    rows = [("Filesystem", "Size", "Used", "Avail", "Use%", "Mounted on")]
    for i, mount in enumerate(mounts):
        size = rng.choice([20, 30, 40, 50, 100, 200, 250, 500, 1000, 2000, 3700])
        pct = rng.randint(91, 100) if mount == hot else rng.randint(4, 78)
        used = size * pct / 100
        dev = f"/dev/{rng.choice(['sda', 'vda', 'nvme0n1p', 'md', 'mapper/vg0-lv'])}{i + 1}"
        rows.append((dev, _size(size), _size(used), _size(max(size - used, 0)), f"{pct}%", mount))
    rows.insert(1, ("tmpfs", "3.2G", "1.4M", "3.2G", "1%", "/run"))
    return Output(_columns(rows, right=(1, 2, 3, 4)))


def df_i(rng: random.Random, *, full: bool) -> Output:
    mounts = ["/"] + rng.sample(MOUNTS[1:], rng.randint(1, 2))
    hot = rng.choice(mounts) if full else None
    rows = [("Filesystem", "Inodes", "IUsed", "IFree", "IUse%", "Mounted on")]
    for i, mount in enumerate(mounts):
        total = rng.choice([655360, 1310720, 2621440, 6553600, 13107200, 26214400])
        pct = rng.randint(92, 100) if mount == hot else rng.randint(1, 60)
        used = total * pct // 100
        rows.append((f"/dev/sda{i + 1}", str(total), str(used), str(total - used), f"{pct}%", mount))
    return Output(_columns(rows, right=(1, 2, 3, 4)))


def free_m(rng: random.Random, *, full: bool) -> Output:
    total = rng.choice([3931, 7951, 15990, 32096, 64302, 128700, 257800])
    used_pct = rng.uniform(0.88, 0.97) if full else rng.uniform(0.15, 0.6)
    used = int(total * used_pct)
    cache = int((total - used) * rng.uniform(0.3, 0.8))
    free = total - used - cache
    shared = rng.randint(10, 900)
    avail = free + int(cache * 0.8)
    swap = rng.choice([0, 2047, 4095, 8191])
    swap_used = int(swap * (rng.uniform(0.4, 0.95) if full else rng.uniform(0, 0.05)))
    rows = [
        ("", "total", "used", "free", "shared", "buff/cache", "available"),
        ("Mem:", total, used, free, shared, cache, avail),
        ("Swap:", swap, swap_used, swap - swap_used, "", "", ""),
    ]
    return Output(_columns([tuple(str(c) for c in r) for r in rows], right=(1, 2, 3, 4, 5, 6)))


def uptime(rng: random.Random, *, full: bool) -> Output:
    days = rng.randint(0, 420)
    cores = rng.choice([2, 4, 8, 16, 32, 64])
    base = cores * (rng.uniform(1.5, 4.0) if full else rng.uniform(0.02, 0.6))
    loads = [base * rng.uniform(0.8, 1.2) for _ in range(3)]
    clock = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    up = (
        f"{days} days, {rng.randint(0, 23)}:{rng.randint(0, 59):02d}" if days else f"{rng.randint(1, 59)} min"
    )
    users = rng.randint(0, 4)
    text = (
        f" {clock} up {up},  {users} user{'s' if users != 1 else ''},  load average: "
        + ", ".join(f"{x:.2f}" for x in loads)
        + "\n"
    )
    return Output(text)


def nproc(rng: random.Random, cores: int) -> Output:
    return Output(f"{cores}\n")


def is_active(rng: random.Random, service: str, *, full: bool) -> Output:
    state = rng.choice(["failed", "inactive"]) if full else "active"
    return Output(state + "\n", 0 if state == "active" else 3)


def status(rng: random.Random, service: str, *, full: bool) -> Output:
    pid = rng.randint(400, 99999)
    since = f"{rng.choice(['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'])} 2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} UTC"
    if full:
        code = rng.choice([1, 2, 137, 143, 203])
        active = f"failed (Result: exit-code) since {since}"
        main = f"    Process: {pid} ExecStart=/usr/sbin/{service} (code=exited, status={code})"
        exit_code = 3
    else:
        active = f"active (running) since {since}"
        main = f"   Main PID: {pid} ({service})\n      Tasks: {rng.randint(1, 60)}\n     Memory: {rng.randint(3, 900)}.{rng.randint(0, 9)}M"
        exit_code = 0
    text = (
        f"● {service}.service - {service} daemon\n"
        f"     Loaded: loaded (/lib/systemd/system/{service}.service; enabled; preset: enabled)\n"
        f"     Active: {active}\n{main}\n"
    )
    return Output(text, exit_code)


JOURNAL_ERRORS = (
    "bind() to 0.0.0.0:{port} failed (98: Address already in use)",
    "could not open configuration file \"/etc/{svc}/{svc}.conf\": Permission denied",
    "FATAL:  data directory \"/var/lib/{svc}/data\" has invalid permissions",
    "Out of memory: Killed process {pid} ({svc})",
    "connection to upstream 10.0.{a}.{b}:{port} timed out",
    "No space left on device",
    "certificate has expired or is not yet valid",
)  # fmt: skip


def journal(rng: random.Random, service: str, *, full: bool, host: str) -> Output:
    lines = []
    month = rng.choice(["Jan", "Mar", "May", "Jul", "Sep", "Nov", "Dec"])
    day = rng.randint(1, 28)
    error = rng.choice(JOURNAL_ERRORS).format(
        port=rng.choice([80, 443, 5432, 6379, 8080]), svc=service, pid=rng.randint(500, 90000),
        a=rng.randint(0, 255), b=rng.randint(1, 254),
    )  # fmt: skip
    second = rng.randint(0, 40000)
    for i in range(rng.randint(3, 6)):
        second += rng.randint(1, 3000)
        t = f"{month} {day:02d} {second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
        if full and i >= 2:
            lines.append(f"{t} {host} {service}[{rng.randint(500, 9999)}]: {error}")
        else:
            lines.append(f"{t} {host} systemd[1]: Started {service}.service - {service} daemon.")
    if full:
        lines.append(
            f"{t} {host} systemd[1]: {service}.service: Main process exited, code=exited, status=1/FAILURE"
        )
        lines.append(f"{t} {host} systemd[1]: {service}.service: Failed with result 'exit-code'.")
    return Output("\n".join(lines) + "\n")


KERNEL_ERRORS = (
    "EXT4-fs error (device {dev}): ext4_find_entry:1539: inode #{n}: comm {svc}: reading directory lblock 0",
    "blk_update_request: I/O error, dev {dev}, sector {n} op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0",
    "Out of memory: Killed process {n} ({svc}) total-vm:{m}kB, anon-rss:{m}kB",
    "mce: [Hardware Error]: Machine check events logged",
    "nvme nvme0: I/O {n} QID 3 timeout, aborting",
    "ata{a}.00: failed command: READ FPDMA QUEUED",
    "NETDEV WATCHDOG: eth0 (ixgbe): transmit queue {a} timed out",
)  # fmt: skip


def dmesg(rng: random.Random, *, full: bool) -> Output:
    if not full:
        return Output("")
    lines = []
    t = rng.uniform(100, 900000)
    for _ in range(rng.randint(1, 4)):
        t += rng.uniform(0.1, 3000)
        msg = rng.choice(KERNEL_ERRORS).format(
            dev=rng.choice(["sda1", "sdb", "nvme0n1", "dm-0"]), n=rng.randint(1000, 9999999),
            svc=rng.choice(SERVICES), m=rng.randint(100000, 9000000), a=rng.randint(1, 8),
        )  # fmt: skip
        lines.append(f"[{t:12.6f}] {msg}")
    return Output("\n".join(lines) + "\n")


def failed_units(rng: random.Random, *, full: bool) -> Output:
    units = rng.sample(SERVICES, rng.randint(1, 2)) if full else []
    head = "  UNIT                 LOAD   ACTIVE SUB    DESCRIPTION\n"
    body = "".join(f"● {u + '.service':<20} loaded failed failed {u} daemon\n" for u in units)
    foot = (
        "\nLOAD   = Reflects whether the unit definition was properly loaded.\n"
        "ACTIVE = The high-level unit activation state, i.e. generalization of SUB.\n"
        "SUB    = The low-level unit activation state, values depend on unit type.\n"
        f"{len(units)} loaded units listed.\n"
    )
    return Output(
        head + body + foot if units else "  UNIT LOAD ACTIVE SUB DESCRIPTION\n0 loaded units listed.\n"
    )


PORTS = {22: "sshd", 80: "nginx", 443: "nginx", 5432: "postgres", 6379: "redis-server", 3306: "mysqld",
         9100: "node_exporter", 8080: "java", 9090: "prometheus", 2379: "etcd", 53: "named"}  # fmt: skip


def ss_tlnp(rng: random.Random, *, full: bool) -> Output:
    ports = sorted(rng.sample(list(PORTS), rng.randint(2, 6)))
    rows = [("State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port", "Process")]
    for p in ports:
        addr = rng.choice(["0.0.0.0", "127.0.0.1", "*", "[::]"])
        rows.append(
            ("LISTEN", "0", str(rng.choice([128, 511, 4096])), f"{addr}:{p}", "0.0.0.0:*",
             f'users:(("{PORTS[p]}",pid={rng.randint(300, 60000)},fd={rng.randint(3, 40)}))')
        )  # fmt: skip
    return Output(_columns(rows))


def uname_r(rng: random.Random) -> Output:
    return Output(rng.choice(KERNELS) + "\n")


def mdstat(rng: random.Random, *, full: bool) -> Output:
    n = rng.choice([2, 4])
    level = "raid1" if n == 2 else rng.choice(["raid5", "raid6", "raid10"])
    disks = [f"sd{chr(ord('a') + i)}1[{i}]" for i in range(n)]
    blocks = rng.choice([976630464, 1953382464, 3906886464])
    if full:
        bad = rng.randrange(n)
        disks[bad] = disks[bad].replace("]", "](F)")
        state = "".join("_" if i == bad else "U" for i in range(n))
    else:
        state = "U" * n
    text = (
        f"Personalities : [{level}] [linear] [multipath]\n"
        f"md0 : active {level} {' '.join(disks)}\n"
        f"      {blocks} blocks super 1.2 [{n}/{state.count('U')}] [{state}]\n"
        "      bitmap: 1/8 pages [4KB], 65536KB chunk\n\nunused devices: <none>\n"
    )
    return Output(text)


def timedatectl(rng: random.Random, *, full: bool) -> Output:
    synced = "no" if full else "yes"
    text = (
        f"               Local time: Tue 2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} UTC\n"
        "           Universal time: (same)\n"
        "                Time zone: Etc/UTC (UTC, +0000)\n"
        f"System clock synchronized: {synced}\n"
        f"              NTP service: {'inactive' if full and rng.random() < 0.5 else 'active'}\n"
        "          RTC in local TZ: no\n"
    )
    return Output(text)


def nvidia_smi(rng: random.Random, *, full: bool) -> Output:
    if full and rng.random() < 0.4:
        return Output(
            "", 9,
            "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure "
            "that the latest NVIDIA driver is installed and running.\n",
        )  # fmt: skip
    name = rng.choice(GPUS)
    total = 81920 if "80" in name else rng.choice([24576, 46068, 32768, 23028])
    count = rng.choice([1, 2, 4, 8])
    rows = ["index, name, memory.used [MiB], memory.total [MiB], utilization.gpu [%], temperature.gpu"]
    for i in range(count):
        used = rng.randint(0, total)
        temp = rng.randint(86, 95) if full else rng.randint(30, 72)
        rows.append(f"{i}, {name}, {used} MiB, {total} MiB, {rng.randint(0, 100)} %, {temp}")
    return Output("\n".join(rows) + "\n")


def _columns(rows: list[tuple[str, ...]], right: tuple[int, ...] = ()) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- BMC (the ipmi executor's text)

SENSOR_NAMES = (("CPU1 Temp", "Temperature", "°C", 35, 70, 92), ("CPU2 Temp", "Temperature", "°C", 35, 70, 95),
                ("Inlet Temp", "Temperature", "°C", 18, 28, 44), ("MB Temp", "Temperature", "°C", 30, 50, 80),
                ("FAN1", "Fan", "RPM", 3000, 9000, 0), ("FAN2", "Fan", "RPM", 3000, 9000, 0),
                ("PSU1 Input", "Power Supply", "W", 180, 600, 0), ("12V", "Voltage", "V", 11.8, 12.2, 10.9))  # fmt: skip


def ipmi_power(rng: random.Random, *, full: bool) -> Output:
    return Output(f"power: {'off' if full else 'on'}\n")


def ipmi_sensors(rng: random.Random, *, full: bool) -> Output:
    chosen = rng.sample(SENSOR_NAMES, rng.randint(3, len(SENSOR_NAMES)))
    bad = rng.choice(chosen) if full else None
    lines = []
    for name, kind, unit, lo, hi, alarm in chosen:
        if bad is not None and name == bad[0]:
            value, health = (alarm, "critical") if alarm else (0, "critical")
        else:
            value = rng.uniform(lo, hi)
            health = "ok"
        shown = f"{value:.0f}" if unit in ("°C", "RPM", "W") else f"{value:.2f}"
        lines.append(f"{name}: {shown} {unit} ({kind}, {health})")
    return Output("\n".join(lines) + "\n")


SEL_EVENTS = (("Memory", "Correctable ECC", "DIMM A2"), ("Power Supply", "Power Supply AC lost", "PSU2"),
              ("Processor", "IERR", "CPU1"), ("Fan", "Lower Critical going low", "FAN3"),
              ("Temperature", "Upper Critical going high", "CPU2 Temp"), ("Drive Slot", "Drive Fault", "Bay 4"))  # fmt: skip


def ipmi_sel(rng: random.Random, *, full: bool) -> Output:
    if not full:
        return Output("event log is empty\n")
    lines = []
    for _ in range(rng.randint(1, 4)):
        comp, event, data = rng.choice(SEL_EVENTS)
        when = f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        lines.append(f"{when} | {comp} | {event} | {data}")
    return Output("\n".join(lines) + "\n")


def ipmi_chassis(rng: random.Random, *, full: bool) -> Output:
    on = not (full and rng.random() < 0.5)
    fan = full and on
    text = (
        f"power: {'on' if on else 'off'}\npower overload: False\npower interlock: False\n"
        f"main power fault: {full and not on}\npower control fault: False\n"
        "power restore policy: previous\n"
        f"last power event: {'ac-failed' if full and not on else 'none'}\n"
        f"chassis intrusion: False\nfront panel lockout: False\ndrive fault: False\ncooling/fan fault: {fan}\n"
    )
    return Output(text)


# ---------------------------------------------------------------- HTTP (the http executor's text)


def http_health(rng: random.Random, *, full: bool, path: str) -> Output:
    if full:
        code, reason = rng.choice(
            [(503, "Service Unavailable"), (500, "Internal Server Error"), (502, "Bad Gateway")]
        )
        body = rng.choice(
            ['{"status": "down", "checks": {"database": "timeout"}}', '{"status": "fail", "error": "redis: connection refused"}',
             "<html><body><h1>502 Bad Gateway</h1></body></html>"]
        )  # fmt: skip
    else:
        code, reason = 200, "OK"
        body = rng.choice(
            ['{"status": "ok"}', '{"status": "ok", "version": "%d.%d.%d", "uptime_s": %d}'
             % (rng.randint(1, 4), rng.randint(0, 20), rng.randint(0, 9), rng.randint(60, 9000000)),
             '{"status": "pass", "checks": {"database": "ok", "cache": "ok"}}']
        )  # fmt: skip
    kind = "text/html" if body.startswith("<") else "application/json"
    head = f"HTTP/1.1 {code} {reason}\ncontent-type: {kind}\ncontent-length: {len(body)}\n\n"
    return Output(head + body, code)
