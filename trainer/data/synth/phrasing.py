"""Asks built from shared frames and a diagnostic's topic nouns: the noun alone says what to run.

Each diagnostic's own asks (tasks.py) are phrased its own way, so a small model can learn "this
sentence shape → that command" and miss when an operator says it differently (measured: "Are we
running out of inodes on X?" ran `free -m`, "low on disk space" ran `free -m`). Here every frame
is shared by every diagnostic: the frame carries no information, and only the topic ("inode
usage", "GPU memory", "the md arrays") tells the commands apart. The same goes for HTTP asks: the
URL, not the sentence, says `http`.

Nothing here is taken from the eval's wording; the generator's leak check still drops any ask
that equals an eval prompt.
"""

from __future__ import annotations

import random

# {topic} is the diagnostic's noun; {on} is "on web07" or "on this machine".
FRAMES = (
    "Check {topic} {on}.",
    "Can you look at {topic} {on}?",
    "Show me {topic} {on}.",
    "I need {topic} {on}.",
    "Report {topic} {on}.",
    "How does {topic} look {on}?",
    "Quick check of {topic} {on}, please.",
    "Give me {topic} {on}.",
    "Look into {topic} {on}.",
    "{topic} {on}?",
    "please check {topic} {on}",
    "what about {topic} {on}",
    "Is {topic} ok {on}?",
    "Tell me about {topic} {on}.",
    "Take a look at {topic} {on}.",
    "Could you pull {topic} {on}?",
    "Any problem with {topic} {on}?",
    "Find out {topic} {on}.",
)

# Resource frames: {target} is "web07" or "this machine".
RESOURCE_FRAMES = (
    "Is {target} running low on {res}?",
    "Is {target} low on {res}?",
    "Does {target} have enough {res} left?",
    "Is {target} out of {res}?",
    "Has {target} used up its {res}?",
)

TOPICS: dict[str, tuple[str, ...]] = {
    "disk": (
        "disk space", "disk usage", "the filesystem usage", "free disk space", "the disks",
        "storage space", "space on the filesystems", "the root filesystem", "df",
    ),
    "inodes": ("inode usage", "the inodes", "free inodes", "inode exhaustion", "the inode counts"),
    "memory": ("memory", "RAM usage", "free memory", "swap usage", "the swap", "available RAM"),
    "load": ("the load", "the load average", "uptime", "CPU load", "the system load"),
    "service": ("whether {svc} is active", "the {svc} service", "the {svc} unit's state"),
    "service-status": ("the status of {svc}", "systemctl status of {svc}", "{svc}'s health"),
    "journal": ("the {svc} logs", "{svc}'s journal", "recent log lines of {svc}", "the journal of {svc}"),
    "kernel": (
        "kernel errors", "the kernel log", "dmesg", "kernel warnings", "OOM kills",
        "I/O errors in the kernel log", "the kernel ring buffer",
    ),
    "failed": ("failed units", "failed systemd services", "broken units", "units in a failed state"),
    "ports": ("listening ports", "open TCP ports", "listening sockets", "which ports are bound"),
    "kver": ("the kernel version", "the running kernel", "the kernel release", "uname -r"),
    "raid": ("the software RAID", "the md arrays", "RAID health", "/proc/mdstat", "the mdadm mirror"),
    "time": ("time sync", "NTP sync", "the clock", "clock drift", "NTP status", "timedatectl"),
    "gpus": (
        "the GPUs", "GPU memory", "GPU usage", "the NVIDIA cards", "GPU temperatures", "nvidia-smi",
        "GPU utilization",
    ),
}  # fmt: skip

RESOURCES: dict[str, tuple[str, ...]] = {
    "disk": ("disk space", "disk", "free space on its filesystems"),
    "inodes": ("inodes", "free inodes"),
    "memory": ("memory", "RAM", "swap"),
}

# HTTP: an application and its endpoint, the URL given in the ask.
APPS = (
    "the API", "Grafana", "Prometheus", "Alertmanager", "the web app", "Keycloak", "Consul",
    "the gateway", "Elasticsearch", "the billing service", "the metrics exporter", "MinIO",
)  # fmt: skip
HTTP_FRAMES = (
    "Is {app} on {host} up? Its endpoint is {url}.",
    "{app} on {host} should answer at {url}. Does it?",
    "Check whether {app} on {host} is healthy: {url}",
    "Is {app} on {host} ready? It reports that at {url}.",
    "What does {app} on {host} say at {url}?",
    "{app} runs on {host} and serves its status at {url}; check it.",
    "Which version is {app} on {host} running? See {url}.",
    "Ping {app} on {host} at {url}.",
)


def cmd_ask(rng: random.Random, diag_id: str) -> str | None:
    """A shared-frame ask template ({on}, {target}, {svc} left to fill) for a shell/ssh
    diagnostic, or None when it has no topics."""
    topics = TOPICS.get(diag_id)
    if not topics:
        return None
    res = RESOURCES.get(diag_id)
    if res and rng.random() < 0.3:
        return rng.choice(RESOURCE_FRAMES).replace("{res}", rng.choice(res))
    text = rng.choice(FRAMES).replace("{topic}", rng.choice(topics))
    return text[0].upper() + text[1:] if rng.random() < 0.5 else text


def http_ask(rng: random.Random, *, host: str, url: str) -> str:
    return rng.choice(HTTP_FRAMES).format(app=rng.choice(APPS), host=host, url=url)
