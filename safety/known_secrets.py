"""The encodings under which a known secret value shows up in output.

A BMC password leaks as itself, URL-encoded in a connection string, JSON-escaped in a log line, or
inside base64 (`Authorization: Basic ...`, Kubernetes secrets). Base64 depends on the secret's
offset modulo 3 inside the encoded blob, so each of the three alignments gets its own "core": the
characters determined by the secret's bytes alone.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

# Base64 cores shorter than this would match random base64 text by chance.
MIN_B64_CORE = 8


@dataclass(frozen=True)
class Variant:
    text: str
    base64: bool  # the match sits inside a base64 run: redact the whole run


def _b64_cores(raw: bytes) -> list[str]:
    out: list[str] = []
    for pad in range(3):
        enc = base64.b64encode(b"\0" * pad + raw).decode("ascii")
        start = (pad * 8 + 5) // 6  # characters that still carry bits of the padding
        end = ((pad + len(raw)) // 3) * 4  # later characters depend on what follows the secret
        core = enc[start:end]
        if len(core) >= MIN_B64_CORE:
            out.append(core)
            urlsafe = core.replace("+", "-").replace("/", "_")
            if urlsafe != core:
                out.append(urlsafe)
    return out


def variants(secrets: list[str] | tuple[str, ...], min_length: int) -> tuple[Variant, ...]:
    """Every searchable form of every secret, longest first (so the longest match wins)."""
    found: dict[str, bool] = {}
    for secret in secrets:
        # A multi-line secret (a key file) is searched line by line: output is scrubbed per line.
        for part in secret.splitlines() or [secret]:
            part = part.strip("\r")
            if len(part.strip()) < min_length:
                continue
            for form in (
                part,
                quote(part, safe=""),
                quote_plus(part),
                quote(part, safe="/:@"),
                json.dumps(part, ensure_ascii=False)[1:-1],
            ):
                found.setdefault(form, False)
            for core in _b64_cores(part.encode("utf-8", "surrogatepass")):
                found.setdefault(core, True)
    return tuple(sorted((Variant(t, b) for t, b in found.items()), key=lambda v: (-len(v.text), v.text)))
