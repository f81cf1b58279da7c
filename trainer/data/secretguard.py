"""No secret at rest in any stage: scrub what a stage writes, then check what it wrote.

Every stage's files are training material an operator inspects, copies and shares, not only
`final/`. So each stage scrubs the rows it is about to write (`SecretGuard.rows`), and the stage
runner (`stages.run_stage`) checks every file a stage wrote, in a staging folder, before any of
them replaces the previous outputs (`SecretGuard.check_files`): one residual finding fails the
stage and nothing is written. A new stage gets the check by running through `run_stage`.

Strings are scrubbed one by one, with one addition: a dict entry whose key names a credential
(`{"password": "hunter2xyz"}`) is judged with its key, since a later stage may render it as text
(a tool call's JSON arguments) where the pair is a finding.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

from safety.scrub import scrub
from trainer.data.errors import SecretLeakError, StageInputError

_CREDENTIAL_KEY = re.compile(r"pass|secret|token|key|auth|cred|pwd|bearer|cookie|session", re.IGNORECASE)


class SecretGuard:
    """The scrubbing every stage shares: known secrets from `data.known_secrets_file`, the rules."""

    def __init__(self, known_secrets_file: Path | None = None, min_known_length: int = 6):
        self.known_secrets_file = known_secrets_file
        self.min_known_length = min_known_length
        self.findings: Counter[str] = Counter()

    @cached_property
    def known(self) -> tuple[str, ...]:
        if self.known_secrets_file is None:
            return ()
        path = self.known_secrets_file.expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise StageInputError(f"cannot read data.known_secrets_file {path}: {exc.strerror}") from None
        return tuple(sorted({s.strip() for s in lines if s.strip()}, key=len, reverse=True))

    def identity(self) -> str:
        """What the scrubbing depends on, for stage fingerprints: new rules or secrets rerun stages."""
        h = hashlib.sha256(str(self.min_known_length).encode())
        for name in ("safety.secret_rules", "safety.envnames", "safety.scrub"):
            h.update(Path(importlib.import_module(name).__file__ or "").read_bytes())
        for secret in self.known:
            h.update(hashlib.sha256(secret.encode()).digest())
        return h.hexdigest()

    # ------------------------------------------------------------------ scrubbing
    def text(self, value: str) -> str:
        result = scrub(value, self.known, min_known_length=self.min_known_length)
        for f in result.findings:
            self.findings[f.kind] += f.count
        return result.text

    def value(self, obj: Any) -> Any:
        """`obj` with every string scrubbed (keys kept: they are our schema's names)."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, list):
            return [self.value(v) for v in obj]
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                if isinstance(v, str) and isinstance(k, str) and _CREDENTIAL_KEY.search(k):
                    out[k] = self._paired(k, v)
                else:
                    out[k] = self.value(v)
            return out
        return obj

    def _paired(self, key: str, value: str) -> str:
        scrubbed = self.text(value)
        if scrubbed != value:
            return scrubbed
        pair = scrub(json.dumps({key: value}), self.known, min_known_length=self.min_known_length)
        if not pair.findings:
            return value
        kind = pair.findings[0].kind
        self.findings[kind] += 1
        return f"[REDACTED:{kind}]"

    def rows(self, rows: Iterable[Any]) -> list[Any]:
        return [self.value(r) for r in rows]

    def redactions(self) -> int:
        return sum(self.findings.values())

    # ------------------------------------------------------------------ checking
    def residual(self, obj: Any) -> int:
        """Findings left in `obj`, judged as `value()` judges (nothing is changed)."""
        if isinstance(obj, str):
            return scrub(obj, self.known, min_known_length=self.min_known_length).redacted
        if isinstance(obj, list):
            return sum(self.residual(v) for v in obj)
        if isinstance(obj, dict):
            total = 0
            for k, v in obj.items():
                total += self.residual(v)
                if (
                    isinstance(v, str)
                    and isinstance(k, str)
                    and _CREDENTIAL_KEY.search(k)
                    and "[REDACTED:" not in v
                ):
                    total += scrub(
                        json.dumps({k: v}), self.known, min_known_length=self.min_known_length
                    ).redacted
            return total
        return 0

    def file_residual(self, path: Path) -> int:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        if path.suffix == ".jsonl":
            return sum(self.residual(json.loads(line)) for line in text.splitlines() if line.strip())
        if path.suffix == ".json":
            return self.residual(json.loads(text))
        return scrub(text, self.known, min_known_length=self.min_known_length).redacted

    def check_files(self, stage: str, paths: Iterable[Path]) -> None:
        """Raise `SecretLeakError` when any file still holds a finding (the caller writes nothing)."""
        leaks = {p.name: n for p in paths if (n := self.file_residual(p))}
        if leaks:
            where = ", ".join(f"{name} ({n})" for name, n in sorted(leaks.items()))
            raise SecretLeakError(
                f"{stage}: {sum(leaks.values())} finding(s) survived scrubbing in {where}; "
                "nothing was written and the previous outputs are kept"
            )
