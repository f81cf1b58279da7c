"""Hand-written Claude Code logs and settings for the data pipeline tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.cli.settings import Settings
from trainer.data.config import DataSettings

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / ".." / "shared" / "fixtures" / "claude-projects"


class Log:
    """Builds one session file: records chain onto the previous one unless `parent=` says otherwise."""

    def __init__(self, session: str = "sess-1", version: str = "2.1.39", **common: Any):
        self.session = session
        self.version = version
        self.common = common
        self.lines: list[str] = []
        self.last: str | None = None
        self.n = 0

    def _record(self, kind: str, parent: str | None | type, **fields: Any) -> str:
        self.n += 1
        uid = fields.pop("uuid", None) or f"{self.session}-{self.n}"
        rec = {
            "type": kind,
            "uuid": uid,
            "parentUuid": self.last if parent is Log else parent,
            "sessionId": self.session,
            "version": self.version,
            "timestamp": f"2026-01-01T00:{self.n // 60:02d}:{self.n % 60:02d}Z",
            "isSidechain": False,
            **self.common,
            **fields,
        }
        self.lines.append(json.dumps(rec))
        self.last = uid
        return uid

    def user(self, text: str, parent: str | None | type = None, **fields: Any) -> str:
        return self._record(
            "user", Log if parent is None else parent, message={"role": "user", "content": text}, **fields
        )

    def assistant(
        self, blocks: list[dict[str, Any]] | str, msg_id: str, parent: str | None | type = None, **fields: Any
    ) -> str:
        content = [{"type": "text", "text": blocks}] if isinstance(blocks, str) else blocks
        message = {"id": msg_id, "role": "assistant", "model": "claude-test", "content": content}
        return self._record("assistant", Log if parent is None else parent, message=message, **fields)

    def result(
        self,
        tool_id: str,
        content: str,
        parent: str | None | type = None,
        is_error: bool = False,
        **fields: Any,
    ) -> str:
        block = {"type": "tool_result", "tool_use_id": tool_id, "content": content, "is_error": is_error}
        return self._record(
            "user", Log if parent is None else parent, message={"role": "user", "content": [block]}, **fields
        )

    def progress(self) -> str:
        return self._record("progress", Log, data={"type": "hook_progress"})

    def raw(self, line: str) -> None:
        self.lines.append(line)

    def write(self, path: Path, *, newline_at_end: bool = True) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(self.lines) + ("\n" if newline_at_end else ""))
        return path


def tool_use(tool_id: str, name: str = "Bash", **args: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": args or {"command": "uptime"}}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def ops_session(path: Path, session: str, *, exchanges: int = 3, secret: str | None = None) -> Path:
    """A tidy tier-A-looking ops session: several requests, each answered after two tool calls."""
    log = Log(session)
    for i in range(exchanges):
        ask = f"Why does nginx on web{i} give 502? See systemctl, journalctl, the disk (df -h), the port"
        if secret and i == 0:
            ask += f"; the API token is {secret}"
        log.user(ask)
        log.assistant(
            [
                {"type": "thinking", "thinking": "Look at the service first."},
                text(f"Checking nginx on web{i}."),
                tool_use(f"{session}-t{i}a", command="systemctl status nginx"),
            ],
            f"{session}-m{i}a",
        )
        log.result(f"{session}-t{i}a", f"nginx.service active (running) on web{i}; upstream php-fpm refused")
        log.assistant(
            [tool_use(f"{session}-t{i}b", command=f"journalctl -u php-fpm -n 20 --no-pager # {i}")],
            f"{session}-m{i}b",
        )
        log.result(f"{session}-t{i}b", f"php-fpm: pool www exited, disk /var full ({90 + i}%) on web{i}")
        log.assistant(
            f"web{i}: php-fpm died because /var is full; free space with journalctl --vacuum-size "
            f"and restart php-fpm (needs approval). Exchange {i}.",
            f"{session}-m{i}c",
        )
    return log.write(path)


def settings_for(tmp: Path, tokenizer: Path, **data: Any) -> Settings:
    data.setdefault("skills_dir", tmp / "no-skills")
    # The session strategies' tests count exact outputs: synth episodes only where a test asks.
    data.setdefault("synth_episodes", 0)
    return Settings(data_dir=tmp / "state", data=DataSettings(tokenizer=tokenizer, **data))
