"""Uploaded training files: validated as ChatML JSONL before they are accepted, scrubbed, stored.

A file is checked line by line with the data pipeline's own format checks (`trainer.data.validate`),
so what the API accepts is what the trainer can learn from, and every string goes through the
pipeline's scrubber (`SecretGuard`) before anything is written: a credential pasted into a dataset
never reaches the disk. Layout under `<data_dir>/files/`: `<id>.jsonl` (the scrubbed examples) and
`<id>.json` (the OpenAI file object).
"""

from __future__ import annotations

import email.policy
import json
import os
import time
import uuid
from collections.abc import Callable
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from agent.server.errors import ApiError

PURPOSE = "fine-tune"
MAX_LISTED_PROBLEMS = 5
# Uploads need not carry a system prompt (OpenAI's format does not require one); the format checks
# expect the pipeline's shape, which opens with one, so they see a placeholder in front.
_PLACEHOLDER_SYSTEM = {"role": "system", "content": "(system prompt)"}


class UploadError(ApiError):
    def __init__(self, message: str, code: str = "invalid_file"):
        super().__init__(400, message, code=code)


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """multipart/form-data → {field: (filename, bytes)} with the standard library's MIME parser."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise UploadError(
            "POST /v1/files takes multipart/form-data (fields: file, purpose)", "invalid_request"
        )
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise UploadError("malformed multipart body", "invalid_request")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            fields[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return fields


def check_examples(raw: bytes) -> tuple[list[dict[str, Any]], list[str]]:
    """The examples of a ChatML JSONL file, and every problem found (empty when it is valid)."""
    from trainer.data.validate import format_problems

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return [], ["not UTF-8 text"]
    examples: list[dict[str, Any]] = []
    problems: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {lineno}: not JSON ({exc.msg})")
            continue
        messages = record.get("messages") if isinstance(record, dict) else None
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            problems.append(f'line {lineno}: no "messages" list of message objects')
            continue
        shape = _shape(messages)
        if shape:
            problems.append(f"line {lineno}: {shape}")
            continue
        shown = messages if messages[0].get("role") == "system" else [_PLACEHOLDER_SYSTEM, *messages]
        found = format_problems({"messages": shown, "metadata": {"session_id": f"line-{lineno}"}})
        if found:
            problems.append(f"line {lineno}: " + "; ".join(f"{why}: {detail}" for why, detail in found))
            continue
        examples.append({"messages": messages})
    if not examples and not problems:
        problems.append("no examples (the file is empty)")
    return examples, problems


def _shape(messages: list[dict[str, Any]]) -> str | None:
    """What the pipeline's checks would only call "shape", said for someone writing a file by hand."""
    from trainer.data.validate import ROLES

    for i, m in enumerate(messages):
        if m.get("role") not in ROLES:
            return f"message {i}: unknown role {m.get('role')!r} (system, user, assistant, tool)"
        if not isinstance(m.get("content"), str):
            return f"message {i}: content must be a string (tool calls as <tool_call> text)"
    if not any(m["role"] == "user" for m in messages) or not any(m["role"] == "assistant" for m in messages):
        return "needs at least a user and an assistant message"
    return None


class FileStore:
    def __init__(self, root: Path):
        self.root = root

    def _meta(self, file_id: str) -> Path:
        if not file_id.startswith("file-") or not file_id[5:].isalnum():
            raise ApiError(404, f"no file {file_id!r}", code="file_not_found")
        return self.root / f"{file_id}.json"

    def data_path(self, file_id: str) -> Path:
        return self._meta(file_id).with_suffix(".jsonl")

    def get(self, file_id: str) -> dict[str, Any]:
        path = self._meta(file_id)
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            raise ApiError(404, f"no file {file_id!r}", code="file_not_found") from None

    def list(self, purpose: str | None = None) -> list[dict[str, Any]]:
        if not self.root.is_dir():
            return []
        out = []
        for path in self.root.glob("file-*.json"):
            try:
                obj = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if purpose is None or obj.get("purpose") == purpose:
                out.append(obj)
        return sorted(out, key=lambda o: (o.get("created_at", 0), o["id"]), reverse=True)

    def add(self, filename: str, raw: bytes, guard: Any, scrub: Callable[[str], str]) -> dict[str, Any]:
        """Validate, scrub and store; UploadError (nothing written) when it is not ChatML JSONL.

        `guard` is the data pipeline's scrubber (rules + data.known_secrets_file); `scrub` the
        daemon's (the inventory's credentials and the API token), applied after it.
        """
        examples, problems = check_examples(raw)
        if problems:
            more = len(problems) - MAX_LISTED_PROBLEMS
            listed = "; ".join(problems[:MAX_LISTED_PROBLEMS]) + (f"; and {more} more" if more > 0 else "")
            raise UploadError(f"{filename} is not a ChatML JSONL training file: {listed}")
        before = guard.redactions()
        guarded = [guard.value(ex) for ex in examples]
        scrubbed = [_strings(ex, scrub) for ex in guarded]
        redacted = guard.redactions() - before + _changed(guarded, scrubbed)
        body = "".join(json.dumps(ex, ensure_ascii=False) + "\n" for ex in scrubbed).encode()
        file_id = "file-" + uuid.uuid4().hex[:24]
        obj = {
            "id": file_id,
            "object": "file",
            "bytes": len(body),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": PURPOSE,
            "status": "processed",
            "status_details": f"{redacted} secret(s) redacted" if redacted else None,
            "expires_at": None,
            "halops": {"examples": len(scrubbed), "redactions": redacted, "uploaded_bytes": len(raw)},
        }
        self.root.mkdir(parents=True, exist_ok=True)
        _atomic(self.data_path(file_id), body)
        _atomic(self._meta(file_id), json.dumps(obj, indent=2).encode())  # last: the file now exists
        return obj

    def delete(self, file_id: str) -> dict[str, Any]:
        self.get(file_id)
        self._meta(file_id).unlink(missing_ok=True)
        self.data_path(file_id).unlink(missing_ok=True)
        return {"id": file_id, "object": "file", "deleted": True}


def _strings(obj: Any, scrub: Callable[[str], str]) -> Any:
    if isinstance(obj, str):
        return scrub(obj)
    if isinstance(obj, list):
        return [_strings(v, scrub) for v in obj]
    if isinstance(obj, dict):
        return {k: _strings(v, scrub) for k, v in obj.items()}
    return obj


def _changed(before: Any, after: Any) -> int:
    """How many strings the daemon's scrub changed after the guard."""
    if isinstance(before, str):
        return int(before != after)
    if isinstance(before, list):
        return sum(_changed(a, b) for a, b in zip(before, after, strict=True))
    if isinstance(before, dict):
        return sum(_changed(before[k], after[k]) for k in before)
    return 0


def _atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
