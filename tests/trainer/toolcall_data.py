"""A tiny tool-call dataset in the data pipeline's schema (ChatML with `<tool_call>` text)."""

from __future__ import annotations

import json
from pathlib import Path

SYSTEM = "You are halops, an ops agent. Call a tool with <tool_call>{json}</tool_call>."
TASKS = [
    ("Check disk usage on {h}.", "df -h", "/dev/sda1 40G 31G 9G 78% /", "Disk on {h} is 78% full."),
    ("How much memory is free on {h}?", "free -m", "Mem: 7976 5120 2856", "{h} has 2856 MB free."),
    ("Show uptime of {h}.", "uptime", "up 12 days, load 0.31", "{h} has been up 12 days."),
    ("Is nginx running on {h}?", "systemctl is-active nginx", "active", "nginx is active on {h}."),
    (
        "List the last errors in syslog on {h}.",
        "grep -i error /var/log/syslog | tail -5",
        "Nov 21 disk warning",
        "One recent error on {h}: a disk warning.",
    ),
    (
        "Which process uses the most CPU on {h}?",
        "ps aux --sort=-%cpu | head -2",
        "postgres 41.0",
        "postgres uses the most CPU on {h}.",
    ),
]
HOSTS = ["web1", "db2", "cache3", "api4", "lb5", "mon6"]


def example(task: tuple[str, str, str, str], host: str) -> dict:
    ask, cmd, result, answer = task
    call = json.dumps({"name": "Bash", "arguments": {"command": f"ssh {host} {cmd}"}})
    return {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": ask.format(h=host)},
            {"role": "assistant", "content": f"<tool_call>\n{call}\n</tool_call>"},
            {"role": "tool", "name": "Bash", "content": result},
            {"role": "assistant", "content": answer.format(h=host)},
        ]
    }


def write_dataset(root: Path, n_train: int = 12, n_val: int = 4) -> Path:
    """train/val/test JSONL under root; held-back (val/test) pairs never appear in train."""
    pairs = [(t, h) for i, t in enumerate(TASKS) for j, h in enumerate(HOSTS) if (i + j) % 3 == 0]
    held = [(t, h) for i, t in enumerate(TASKS) for j, h in enumerate(HOSTS) if (i + j) % 3 == 1]
    root.mkdir(parents=True, exist_ok=True)
    splits = {"train": pairs[:n_train], "val": held[:n_val], "test": held[n_val : n_val + 4]}
    for name, rows in splits.items():
        with (root / f"{name}.jsonl").open("w") as fh:
            for task, host in rows:
                fh.write(json.dumps(example(task, host)) + "\n")
    return root


def held_back_prompts(n: int = 4) -> list[list[dict]]:
    """System + user messages of test examples, to ask a model for its first move."""
    held = [(t, h) for i, t in enumerate(TASKS) for j, h in enumerate(HOSTS) if (i + j) % 3 == 2]
    picked = [held[k * len(held) // n] for k in range(n)]
    return [example(t, h)["messages"][:2] for t, h in picked]
