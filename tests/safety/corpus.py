# ruff: noqa: E501  (realistic output lines are long)
"""Realistic ops output for the scrubber's benign-line test and benchmark (deterministic)."""

from __future__ import annotations

import json
import random
import string

_HOSTS = ["web1", "web2", "db1", "gpu3", "nas1", "lb1"]
_UNITS = [
    "nginx.service",
    "postgresql.service",
    "docker.service",
    "sshd.service",
    "halops.service",
    "systemd-journald.service",
    "cron.service",
    "node-exporter.service",
    "zfs-zed.service",
]
_USERS = ["root", "www-data", "postgres", "halops", "alice", "nobody"]
_IMAGES = [
    "nginx:1.25-alpine",
    "postgres:16",
    "grafana/grafana:10.2.3",
    "prom/prometheus:v2.48.0",
    "redis:7.2",
    "ghcr.io/example/api:2024.11.3",
    "quay.io/coreos/etcd:v3.5.10",
]
_PATHS = [
    "/var/log/nginx/access.log",
    "/etc/nginx/nginx.conf",
    "/srv/app/releases/2024-11-21/app.py",
    "/usr/lib/python3/dist-packages/apt/cache.py",
    "/var/lib/docker/overlay2",
    "/home/alice/report.csv",
]
_MSGS = [
    "request completed",
    "cache miss",
    "connection reset by peer",
    "upstream timed out",
    "retrying in 5s",
    "health check ok",
    "slow query",
    "checkpoint complete",
    "worker started",
    "rotated log file",
    "GC pause",
    "config reloaded",
    "disk usage above threshold",
]
_UA = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Safari/537.36",
    "curl/8.4.0",
    "Prometheus/2.48.0",
    "kube-probe/1.28",
    "python-requests/2.31.0",
]


def _hex(r: random.Random, n: int) -> str:
    return "".join(r.choice("0123456789abcdef") for _ in range(n))


def _ts(r: random.Random) -> str:
    return f"Nov 22 {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"


def _ip(r: random.Random) -> str:
    return f"10.{r.randint(0, 3)}.{r.randint(0, 255)}.{r.randint(1, 254)}"


def journal(r: random.Random) -> str:
    host = r.choice(_HOSTS)
    k = r.randint(0, 7)
    if k == 0:
        fp = "".join(r.choice(string.ascii_letters + string.digits + "+/") for _ in range(43))
        return (
            f"{_ts(r)} {host} sshd[{r.randint(300, 99999)}]: Accepted publickey for {r.choice(_USERS)} "
            f"from {_ip(r)} port {r.randint(1024, 65535)} ssh2: ED25519 SHA256:{fp}"
        )
    if k == 1:
        return f"{_ts(r)} {host} systemd[1]: Started {r.choice(_UNITS)} - {r.choice(_MSGS).capitalize()}."
    if k == 2:
        return (
            f"{_ts(r)} {host} kernel: [{r.randint(1, 999999)}.{r.randint(0, 999999):06d}] EXT4-fs (sda1): "
            f"mounted filesystem {_hex(r, 8)}-{_hex(r, 4)}-{_hex(r, 4)}-{_hex(r, 4)}-{_hex(r, 12)} r/w."
        )
    if k == 3:
        return (
            f"{_ts(r)} {host} CRON[{r.randint(300, 99999)}]: pam_unix(cron:session): session opened for "
            f"user {r.choice(_USERS)}(uid=0) by (uid=0)"
        )
    if k == 4:
        return (
            f"{_ts(r)} {host} sshd[{r.randint(300, 99999)}]: Failed password for invalid user "
            f"{r.choice(['admin', 'test', 'oracle', 'ubuntu'])} from {_ip(r)} port {r.randint(1024, 65535)} ssh2"
        )
    if k == 5:
        return (
            f'{_ts(r)} {host} dockerd[{r.randint(300, 9999)}]: time="2024-11-22T03:{r.randint(10, 59)}:00Z" '
            f'level=info msg="{r.choice(_MSGS)}" container={_hex(r, 64)} module=libcontainerd'
        )
    if k == 6:
        return (
            f"{_ts(r)} {host} nginx[{r.randint(300, 9999)}]: {_ip(r)} - - [22/Nov/2024:03:14:15 +0000] "
            f'"GET /api/v1/items?page={r.randint(1, 50)}&sort=desc HTTP/1.1" {r.choice([200, 200, 304, 404, 502])} '
            f'{r.randint(100, 90000)} "-" "{r.choice(_UA)}"'
        )
    return (
        f"{_ts(r)} {host} postgres[{r.randint(300, 9999)}]: [{r.randint(1, 9)}-1] LOG:  duration: "
        f"{r.uniform(0.1, 900):.3f} ms  statement: SELECT id, name FROM users WHERE id = {r.randint(1, 10**6)}"
    )


def ps_line(r: random.Random) -> str:
    cmd = r.choice(
        [
            "/usr/sbin/nginx -g daemon off;",
            "postgres: checkpointer",
            "/usr/bin/dockerd -H fd://",
            "python3 -m halops.agent --config /etc/halops/halops.toml",
            "[kworker/u8:2-events_unbound]",
            "/usr/lib/systemd/systemd-journald",
            "sshd: alice@pts/0",
            "node /srv/app/server.js --port 3000",
        ]
    )
    return (
        f"{r.choice(_USERS):<10}{r.randint(1, 99999):>7} {r.uniform(0, 99):4.1f} {r.uniform(0, 30):4.1f} "
        f"{r.randint(1000, 9999999):>8} {r.randint(100, 999999):>7} ?        Ss   Nov21   {r.randint(0, 99)}:{r.randint(0, 59):02d} {cmd}"
    )


def df_line(r: random.Random) -> str:
    dev = r.choice(["/dev/sda1", "/dev/nvme0n1p2", "tmpfs", "/dev/mapper/vg0-root", "tank/data", "overlay"])
    return (
        f"{dev:<22}{r.randint(1, 999)}G {r.randint(1, 999)}G {r.randint(1, 999)}G {r.randint(1, 99):>3}% "
        f"{r.choice(['/', '/boot', '/var/lib/docker', '/srv', '/run', '/tank/data'])}"
    )


def docker_line(r: random.Random) -> str:
    return (
        f'{_hex(r, 12)}   {r.choice(_IMAGES):<32} "/docker-entrypoint.…"   {r.randint(1, 9)} days ago   '
        f"Up {r.randint(1, 59)} hours   0.0.0.0:{r.randint(1000, 9999)}->80/tcp   {r.choice(['web', 'api', 'db'])}-{r.randint(1, 9)}"
    )


def kubectl_line(r: random.Random) -> str:
    name = f"{r.choice(['api', 'web', 'worker', 'redis'])}-{_hex(r, 9)}-{''.join(r.choice('bcdfghjklmnpqrstvwxz2456789') for _ in range(5))}"
    return f"{name:<40} {r.randint(1, 2)}/2     Running   {r.randint(0, 5)}          {r.randint(1, 30)}d"


def json_line(r: random.Random) -> str:
    return json.dumps(
        {
            "ts": f"2024-11-22T03:{r.randint(10, 59)}:{r.randint(10, 59)}.{r.randint(100, 999)}Z",
            "level": r.choice(["info", "info", "warn", "error", "debug"]),
            "msg": r.choice(_MSGS),
            "request_id": f"{_hex(r, 8)}-{_hex(r, 4)}-{_hex(r, 4)}-{_hex(r, 4)}-{_hex(r, 12)}",
            "trace_id": _hex(r, 32),
            "method": r.choice(["GET", "POST"]),
            "path": f"/api/v1/{r.choice(['orders', 'users', 'health'])}/{r.randint(1, 99999)}",
            "status": r.choice([200, 201, 400, 500]),
            "duration_ms": round(r.uniform(0.2, 1500), 2),
            "user_agent": r.choice(_UA),
            "file": r.choice(_PATHS),
        }
    )


def misc_line(r: random.Random) -> str:
    k = r.randint(0, 5)
    if k == 0:
        return f"Mem:           {r.randint(1, 512)}Gi        {r.randint(1, 256)}Gi        {r.randint(1, 64)}Gi       {r.randint(1, 999)}Mi"
    if k == 1:
        return f"sda      8:0    0 {r.randint(100, 999)}.{r.randint(1, 9)}G  0 disk\n├─sda1   8:1    0   512M  0 part /boot/efi"
    if k == 2:
        return f"  pool: tank\n state: ONLINE\n  scan: scrub repaired 0B in 0{r.randint(1, 9)}:12:33 with 0 errors on Sun Nov 17"
    if k == 3:
        return f"[  {r.randint(1, 99999)}.{r.randint(0, 999999):06d}] nvme nvme0: I/O {r.randint(1, 999)} QID {r.randint(1, 8)} timeout, aborting"
    if k == 4:
        return f'tcp   LISTEN 0      4096   {_ip(r)}:{r.randint(1, 65535)}      0.0.0.0:*    users:(("nginx",pid={r.randint(1, 99999)},fd=6))'
    return f"| {r.randint(0, 7)}  NVIDIA A100-SXM4-80GB  On | 00000000:{r.randint(10, 99)}:00.0 Off | 0 | {r.randint(30, 80)}C  P0  {r.randint(50, 400)}W / 400W | {r.randint(1, 80000)}MiB / 81920MiB | {r.randint(0, 100)}%"


def config_line(r: random.Random) -> str:
    """key=value shapes that look like credentials to a careless scrubber but are not."""
    k = r.randint(0, 17)
    if k == 0:
        return f"InvocationID={_hex(r, 32)}"
    if k == 1:
        return f"_BOOT_ID={_hex(r, 32)}"
    if k == 2:
        return f"    Container ID:   containerd://{_hex(r, 64)}"
    if k == 3:
        return f"    Image ID:       docker.io/library/nginx@sha256:{_hex(r, 64)}"
    if k == 4:
        return f'            "Id": "sha256:{_hex(r, 64)}",'
    if k == 5:
        return f"UUID={_hex(r, 8)}-{_hex(r, 4)}-{_hex(r, 4)}-{_hex(r, 4)}-{_hex(r, 12)} / ext4 defaults 0 1"
    if k == 6:
        return f"net.ipv4.tcp_keepalive_time = {r.randint(60, 7200)}"
    if k == 7:
        return (
            f"{_ts(r)} {r.choice(_HOSTS)} sshd[{r.randint(300, 99999)}]: pam_unix(sshd:auth): authentication "
            f"failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={_ip(r)}  user=root"
        )
    if k == 8:
        return f"commit {_hex(r, 40)}\nAuthor: Alice Example <alice@example.com>"
    if k == 9:
        return f'            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin", "NGINX_VERSION=1.25.{r.randint(1, 9)}", "PKG_RELEASE=1~bookworm"],'
    if k == 10:
        return f'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api-{r.randint(1, 9)}\n  resourceVersion: "{r.randint(10**6, 10**7)}"'
    if k == 11:
        return f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{''.join(r.choice(string.ascii_letters + string.digits) for _ in range(43))} alice@laptop"
    if k == 12:
        return f"{_ts(r)} {r.choice(_HOSTS)} sshd[{r.randint(300, 99999)}]: Accepted password for {r.choice(_USERS)} from {_ip(r)} port {r.randint(1024, 65535)} ssh2"
    if k == 13:
        return f'{{"level":"warn","msg":"token expired","auth_method":"oidc","session_id":"{_hex(r, 8)}-{_hex(r, 4)}-{_hex(r, 4)}-{_hex(r, 4)}-{_hex(r, 12)}","key_id":"{_hex(r, 16)}"}}'
    if k == 14:
        return f"        Signature Algorithm: sha256WithRSAEncryption\n        Serial Number: {':'.join(_hex(r, 2) for _ in range(16))}"
    if k == 15:
        return "Environment=PYTHONUNBUFFERED=1 HALOPS_DATA_DIR=/var/lib/halops LANG=C.UTF-8"
    if k == 16:
        return f"    secretName: tls-{r.choice(['api', 'web'])}-cert\n    type: kubernetes.io/tls"
    return f"password_expiry_days={r.randint(30, 365)} token_ttl={r.randint(60, 3600)}s auth_backend=ldap key_length=4096"


GENERATORS = [
    journal,
    journal,
    journal,
    ps_line,
    df_line,
    docker_line,
    kubectl_line,
    json_line,
    json_line,
    misc_line,
    config_line,
]


def benign_lines(n: int, seed: int = 7) -> list[str]:
    r = random.Random(seed)
    return [r.choice(GENERATORS)(r) for _ in range(n)]


OPS_GENERATORS = [g for g in GENERATORS if g is not config_line]


def corpus(
    target_bytes: int, seed: int = 7, secrets: list[str] | None = None, every: int = 5000, generators=None
) -> str:
    """About target_bytes of ops output; every `every` lines one of `secrets` is embedded."""
    generators = generators or GENERATORS
    r = random.Random(seed)
    out: list[str] = []
    size = 0
    i = 0
    while size < target_bytes:
        line = r.choice(generators)(r)
        if secrets and i % every == every - 1:
            line = r.choice(secrets)
        out.append(line)
        size += len(line) + 1
        i += 1
    return "\n".join(out) + "\n"
