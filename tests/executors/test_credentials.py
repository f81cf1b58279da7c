"""Credential files: systemd's directory first, modes, names, known secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.executors.credentials import CredentialError, CredentialStore, inventory_credential_names
from safety.inventory import Inventory

pytestmark = pytest.mark.unit


def write(d: Path, name: str, value: str, mode: int = 0o600) -> Path:
    d.mkdir(exist_ok=True)
    p = d / name
    p.write_text(value)
    p.chmod(mode)
    return p


def test_systemd_credentials_directory_wins(tmp_path: Path) -> None:
    fallback, systemd = tmp_path / "fallback", tmp_path / "systemd"
    write(fallback, "pw", "from-fallback")
    write(systemd, "pw", "from-systemd", 0o400)  # systemd's files are 0400
    store = CredentialStore.from_env(fallback, {"CREDENTIALS_DIRECTORY": str(systemd)})
    assert store.from_systemd
    assert store.read("pw") == "from-systemd"
    assert CredentialStore.from_env(fallback, {}).read("pw") == "from-fallback"


def test_one_trailing_newline_is_stripped(tmp_path: Path) -> None:
    write(tmp_path, "pw", "secret\n")
    write(tmp_path, "two", "secret\n\n")
    store = CredentialStore(tmp_path)
    assert store.read("pw") == "secret"
    assert store.read("two") == "secret\n"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_group_or_world_access_is_refused(tmp_path: Path, mode: int) -> None:
    write(tmp_path, "pw", "secret", mode)
    store = CredentialStore(tmp_path)
    assert any("chmod 600" in p for p in store.problems("pw"))
    with pytest.raises(CredentialError, match="chmod 600"):
        store.read("pw")


@pytest.mark.parametrize("name", ["../etc/shadow", "a/b", ".hidden", "", "x" * 300, "a..b"])
def test_names_are_plain_file_names(tmp_path: Path, name: str) -> None:
    store = CredentialStore(tmp_path)
    assert store.problems(name)
    with pytest.raises(CredentialError):
        store.read(name)


def test_missing_empty_and_directory(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    assert "does not exist" in store.problems("nope")[0]
    write(tmp_path, "empty", "")
    with pytest.raises(CredentialError, match="empty"):
        store.read("empty")
    (tmp_path / "dir").mkdir(mode=0o700)
    assert "not a regular file" in store.problems("dir")[0]


def test_changed_file_is_reread_and_old_value_stays_secret(tmp_path: Path) -> None:
    p = write(tmp_path, "pw", "old-password")
    store = CredentialStore(tmp_path)
    assert store.read("pw") == "old-password"
    p.write_text("new-password-longer")
    assert store.read("pw") == "new-password-longer"
    assert set(store.known_secrets()) == {"old-password", "new-password-longer"}


def test_key_lines_are_secrets_too(tmp_path: Path) -> None:
    key = (
        "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
        "short\n"
        "-----END OPENSSH PRIVATE KEY-----\n"
    )
    write(tmp_path, "k", key)
    store = CredentialStore(tmp_path)
    store.read("k")
    secrets = store.known_secrets()
    assert key.rstrip("\n") in secrets
    assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" in secrets
    assert "short" not in secrets and "-----END OPENSSH PRIVATE KEY-----" not in secrets
    assert secrets == tuple(sorted(secrets, key=len, reverse=True))


def test_preload_reports_problems_and_inventory_names(tmp_path: Path) -> None:
    inv = Inventory.model_validate(
        {
            "hosts": {
                "a": {
                    "address": "10.0.0.1",
                    "ssh": {"key": "k"},
                    "bmc": {"address": "10.0.1.1", "user": "u", "password": "p"},
                },
                "b": {"address": "10.0.0.2", "ssh": {"key": "k"}},
            }
        }
    )
    assert inventory_credential_names(inv) == ["k", "p"]
    write(tmp_path, "k", "key")
    store = CredentialStore(tmp_path)
    problems = store.preload(inventory_credential_names(inv))
    assert len(problems) == 1 and "p does not exist" in problems[0]
    assert store.known_secrets() == ("key",)
