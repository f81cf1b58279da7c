"""Secrets named by an env-style variable, in prose and YAML, as they show up in ops sessions.

Generated (seeded) for the scrubber's recall test: names, sentence shapes and value alphabets are
combined at random, so the rules cannot be fitted to a list. `BENIGN_PROSE` holds the same names
next to words that are not secrets: they must stay untouched.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

_PREFIXES = [
    "X",
    "APP",
    "DB",
    "PG",
    "REDIS",
    "GRAFANA_ADMIN",
    "MINIO_ROOT",
    "S3",
    "SMTP",
    "KEYCLOAK_CLIENT",
    "CI_JOB",
    "HARBOR_ROBOT",
    "RABBITMQ_DEFAULT",
    "ES",
    "VAULT",
    "NPM_AUTH",
    "BACKUP",
    "LDAP_BIND",
    "OIDC_CLIENT",
    "MATRIX_BOT",
    "NEXTCLOUD_ADMIN",
    "GITEA_RUNNER",
    "TAILSCALE_AUTH",
    "RESTIC",
    "BORG",
    "WG_PRIVATE",
    "MYSQL_ROOT",
    "POSTGRES",
    "MONGO_INITDB_ROOT",
    "CLOUDFLARE_API",
    "HCLOUD",
    "PROXMOX_API",
    "ZABBIX",
    "ALERTMANAGER",
    "OPSGENIE",
    "TELEGRAM_BOT",
    "SIGNING",
    "ENCRYPTION",
    "SESSION",
    "COOKIE",
    "JWT",
    "WEBHOOK",
    "INTERNAL_API",
    "METRICS_BASIC_AUTH",
    "ACME_EAB_HMAC",
]
_SUFFIXES = [
    "TOKEN",
    "ACCESS_TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASS",
    "KEY",
    "API_KEY",
    "SECRET_KEY",
    "AUTH_TOKEN",
    "AUTH",
    "CREDENTIALS",
    "PRIVATE_KEY",
    "PASSPHRASE",
    "HMAC_KEY",
]
_ALPHABETS = [
    string.ascii_letters + string.digits,
    string.hexdigits.lower()[:16],
    string.ascii_letters + string.digits + "+/",
    string.ascii_letters + string.digits + "-_",
    string.ascii_letters + string.digits + "!#%&*+-.:=?@^_~",
    string.ascii_letters + string.digits + "!@#$%^&*()[]{}<>;,|~",
]
_PROSE = [
    "Authorization header for {n} is {v}",
    "the value of {n} is {v}",
    "{n} is {v}",
    "{n} is now {v} (rotated this morning)",
    "set {n} to {v} in the unit file and restart",
    "I found {n} set to {v} in /etc/default/app",
    "use {n} {v} for the staging cluster",
    "{n} was rotated; the new one is {v}",
    "{n}, which is {v}, expires next week",
    "please export {n} as {v} before running the job",
    "Environment={n}={v}",
    "  - {n}={v}",
    "docker run -e {n}={v} app:latest",
    "{n} -> {v}",
    "value for `{n}`: `{v}`",
    "{n} (prod): {v}",
    "| {n} | {v} |",
    "<{n}> = {v}",
]
_YAML = [
    "  {n}: {v}",
    "    {n}: '{v}'",
    '{n}: "{v}"',
    "  {n}: {v}  # from the vault",
    "- {{name: {n}, value: {v}}}",
    "{n}:   {v}",
    "  {n}: {v}\t",
]
_WEBHOOK = [
    "{n}=https://{h}/hooks/{v}",
    "{n}: https://{h}:8443/api/webhooks/{v}",
    "the alert goes to {n} which is https://{h}/services/{v}",
]
_WEBHOOK_NAMES = [
    "SLACK_WEBHOOK_URL",
    "ALERT_WEBHOOK",
    "TEAMS_WEBHOOK_URL",
    "MATTERMOST_HOOK_URL",
    "DISCORD_WEBHOOK",
    "CHAT_WEBHOOK_URL",
    "GOTIFY_WEBHOOK",
]
_HOSTS = [
    "hooks.internal.example",
    "chat.ops.example",
    "10.20.0.7",
    "mm.example.org",
    "alerts.lan",
    "gotify.home.arpa",
    "[fd00::7]",
]


@dataclass(frozen=True)
class Sample:
    text: str
    secret: str
    style: str


def _value(r: random.Random) -> str:
    alphabet = r.choice(_ALPHABETS)
    while True:
        v = "".join(r.choice(alphabet) for _ in range(r.randint(12, 40)))
        # A machine-made value: at least a digit and a letter, not starting with a YAML indicator.
        if any(c.isdigit() for c in v) and any(c.isalpha() for c in v) and v[0] not in "!&*[]{}|>#%@`-?:,<=":
            return v


def _name(r: random.Random) -> str:
    return f"{r.choice(_PREFIXES)}_{r.choice(_SUFFIXES)}"


def samples(n: int = 600, seed: int = 13) -> list[Sample]:
    r = random.Random(seed)
    out: list[Sample] = []
    for i in range(n):
        kind = ("prose", "yaml", "webhook")[i % 3] if i % 3 != 2 or i % 9 == 8 else ("prose", "yaml")[i % 2]
        if kind == "webhook":
            v = "".join(r.choice(string.ascii_letters + string.digits) for _ in range(r.randint(24, 48)))
            text = r.choice(_WEBHOOK).format(n=r.choice(_WEBHOOK_NAMES), h=r.choice(_HOSTS), v=v)
        else:
            v = _value(r)
            template = r.choice(_PROSE if kind == "prose" else _YAML)
            # Characters the surrounding syntax would need quoted are left out of those shapes.
            drop = "`|" if "`" in template or "|" in template else ",{}[]" if "{{" in template else ""
            v = "".join(c for c in v if c not in drop) or "x1y2z3w4q5"
            text = template.format(n=_name(r), v=v)
        out.append(Sample(text, v, kind))
    return out


BENIGN_PROSE = [
    "X_ACCESS_TOKEN is rotated every 30 days",
    "DB_PASSWORD is required",
    "set GITHUB_TOKEN in the repository settings",
    "REDIS_PASSWORD is empty on this host",
    "the JWT_SECRET is read from /etc/app/jwt.key",
    "SMTP_PASSWORD is set to ${SMTP_PASSWORD} in the compose file",
    "APP_SECRET_KEY is not set",
    "VAULT_TOKEN was revoked at 10:42",
    "ENCRYPTION_KEY -> see the runbook",
    "  DB_PASSWORD: ${DB_PASSWORD}",
    "  POSTGRES_PASSWORD_FILE: /run/secrets/db",
    "  API_KEY: <your key here>",
    "TOKEN_TTL is 3600",
    "SESSION_SECRET is too short (16 characters, need 32)",
    "WEBHOOK_URL is https://hooks.internal.example/",
    "SLACK_WEBHOOK_URL is unset, alerts go to email",
    "MYSQL_ROOT_PASSWORD is stored in the vault under kv/mysql",
    "PGPASSWORD is passed through the environment, not the command line",
    "the KEYCLOAK_CLIENT_SECRET is the one from realm settings",
    "CI_JOB_TOKEN is only valid during the job",
    "RESTIC_PASSWORD_COMMAND: cat /etc/restic/pass",
    "BACKUP_KEY is configured",
    "SECRET_KEY_BASE is generated by rails secret",
    "AUTH_TOKEN expired, re-run the login",
    "- name: DB_PASSWORD",
    "  valueFrom: {secretKeyRef: {name: db, key: password}}",
]
