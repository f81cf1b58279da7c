"""Secrets named by an environment-variable-style name, wherever the value sits next to it.

Operators and models write `X_ACCESS_TOKEN is <value>`, `set DB_PASSWORD to <value>`,
`| SMTP_PASS | <value> |`, `- {name: S3_SECRET, value: <value>}` and YAML `NAME: <value>` whose value
holds characters (`;`, `}`, `#`) that end a token for the generic `name=value` rules. An UPPER_SNAKE
name ending in a credential word is a strong signal, so here the value may follow it in prose; the
value itself must still look machine-made (digits and letters, or mixed case, enough entropy, not a
path, placeholder, URL, version or another variable's name).

Webhook URLs named so (`ALERT_WEBHOOK=https://any.host/...`) lose their path: the token is there,
whatever the host.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from safety.secret_rules import REDACTED, SecretRule, entropy

_WORDS = (
    r"PASSPHRASE|PASSWORD|PASSWD|PASS|PWD|TOKEN|SECRET|APIKEY|KEY|AUTH|CREDENTIALS|CREDENTIAL|CREDS|HMAC|DSN"
)
# Name parts that make it about a credential, not the credential itself.
_QUALIFIER = re.compile(
    r"_(?:FILE|PATH|DIR|URL|URI|HOST|PORT|TTL|EXPIRY|EXPIRES|EXPIRATION|TIMEOUT|LENGTH|LEN|SIZE|ID|IDS|NAME|USER|"
    r"USERNAME|TYPE|HEADER|FIELD|COMMAND|CMD|MODE|METHOD|ENABLED|ENABLE|REQUIRED|POLICY|ROTATION|VERSION|PREFIX|"
    r"HINT|FORMAT|ALGORITHM|ALG|REF|REGION|ENDPOINT|SCOPE|SCOPES|PROVIDER|BACKEND|ISSUER|AUDIENCE|KIND|"
    r"COUNT|MIN|MAX|LIMIT|SALT_ROUNDS|ROUNDS)(?=_|$)"
)
# After the name: closing punctuation, an optional `(prod)`, then a separator or a short phrase.
_CONNECTOR = re.compile(
    r"[`'\"\]>)]*[ \t]*(?:\([^()\n]{0,24}\)[ \t]*)?"
    r"(?:"
    r"(?:[:=|]|->|=>|:=)"
    r"|,?[ \t]*(?:value|val)[ \t]*[:=]"
    r"|,?[ \t]+(?:which|that)[ \t]+is"
    r"|(?:[ \t]+[a-z][a-z,;]{0,14}){0,5}?[ \t]+(?:is(?:[ \t]+now)?|are|to|as|equals|reads)"
    r"|[ \t]+(?=[^ \t\n]{8,})"
    r")[ \t]*"
)
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*\Z")
_PLACEHOLDER = re.compile(
    r"(?:\$\{?[\w.-]*\}?|<[^>]*>|%\(?\w*\)?s?|\{\{.*\}\}|\*{3,}|x{4,}|\.{3,}|(?:redacted|changeme|example\w*|"
    r"dummy|none|null|unset|empty|hidden|masked|required|optional|todo|tbd)\b.*)\Z",
    re.IGNORECASE,
)
_VERSIONISH = re.compile(r"v?\d{1,8}(?:[._:-]\d+)*(?:[-+~][0-9A-Za-z.]{1,12})?\Z", re.IGNORECASE)
_PATHISH = re.compile(r"(?:~|\.{1,2})?(?:/[a-z0-9._@%+-]*)+\Z")
_WORDISH = re.compile(r"[A-Za-z]+(?:[._:/-]+[A-Za-z]+)*[.,;:!?)]*\Z")
_TRAILING = ".,;:)]}>|"


def _name_start(line: str, start: int) -> int:
    i = start
    while i > 0 and start - i < 60 and (line[i - 1].isupper() or line[i - 1].isdigit() or line[i - 1] == "_"):
        i -= 1
    return i


def _env_name(line: str, m: re.Match[str]) -> str | None:
    """The whole UPPER_SNAKE name around the keyword, or None when it is not one."""
    start = _name_start(line, m.start())
    if start > 0 and (line[start - 1].isalnum() or line[start - 1] in "-.$"):
        return None  # part of a lower-case word, a path or `$VAR` (a reference, not a value)
    name = line[start : m.end("name")]
    if not _ENV_NAME.match(name) or ("_" not in name and len(name) < 8) or _QUALIFIER.search(name):
        return None
    return name


def _value(line: str, pos: int, separator: str) -> tuple[int, int] | None:
    if pos >= len(line):
        return None
    c = line[pos]
    if c in "\"'`":
        end = line.find(c, pos + 1)
        return (pos + 1, end) if end > pos + 1 else None
    if separator.strip().endswith((":", "=")):
        # `NAME: value` / `NAME=value` to the end of the line: YAML and env files, where `;` `}` `#`
        # inside a value are its own characters (a comment needs a space before `#`).
        rest = line[pos:].split(" #", 1)[0].rstrip()
        if rest and not any(ch.isspace() for ch in rest) and not rest.endswith("}"):
            return pos, pos + len(rest)
    end = pos
    while end < len(line) and not line[end].isspace():
        end += 1
    while end > pos + 1 and line[end - 1] in _TRAILING and line[end - 1] not in line[pos : end - 1]:
        end -= 1  # `..., which is V, expires`: the comma is prose (kept when the value has others)
    return (pos, end) if end > pos else None


def plausible(value: str) -> bool:
    """A value that looks machine-made (a generated token or password), not a word, path or reference."""
    v = value.strip()
    if len(v) < 8 or v.startswith(REDACTED) or _PLACEHOLDER.match(v) or "://" in v:
        return False
    if _VERSIONISH.match(v) or _WORDISH.match(v) or _ENV_NAME.match(v) or _PATHISH.match(v):
        return False
    if v.isdigit() and len(v) < 12:
        return False
    digits = any(c.isdigit() for c in v)
    letters = any(c.isalpha() for c in v)
    mixed = any(c.isupper() for c in v) and any(c.islower() for c in v)
    return ((digits and letters) or (mixed and len(v) >= 12)) and entropy(v) >= 2.8


@dataclass(frozen=True)
class EnvNameRule(SecretRule):
    def spans(self, m: re.Match[str]) -> Iterator[tuple[int, int]]:
        line = m.string
        if _env_name(line, m) is None:
            return
        conn = _CONNECTOR.match(line, m.end("name"))
        if conn is None:
            return
        span = _value(line, conn.end(), conn.group(0))
        if span is not None and plausible(line[span[0] : span[1]]):
            yield span


@dataclass(frozen=True)
class WebhookRule(SecretRule):
    def spans(self, m: re.Match[str]) -> Iterator[tuple[int, int]]:
        start, end = m.span("path")
        path = m.string[start:end]
        if not path.startswith(REDACTED) and any(
            entropy(seg) >= 3.0 and len(seg) >= 16 for seg in re.split(r"[/?&=]", path)
        ):
            yield start, end


ENV_RULES: list[SecretRule] = [
    EnvNameRule(
        "secret",
        rf"(?P<name>(?:{_WORDS})(?:_[A-Z0-9]+){{0,3}})(?![A-Za-z0-9])",
        trigger=rf"(?:{_WORDS})",
        anchored=True,
    ),
    WebhookRule(
        "webhook-url",
        r"(?P<name>WEBHOOK|HOOK_URL)[A-Z0-9_]{0,20}[`'\"]?[ \t]*(?:[:=]|[ \t][a-z ]{1,20})[ \t]*[`'\"]?"
        r"https?://(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d+)?(?P<path>/[^\s\"'`<>]*)",
        trigger=r"(?:WEBHOOK|HOOK_URL)",
        anchored=True,
    ),
]
