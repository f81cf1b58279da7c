"""Path normalisation and the policy's path classes (credentials, protected, devices).

Policy globs are segment-aware: `*` and `?` stay inside one path component, `**` crosses them, so
`/var/*` protects `/var/lib` without protecting `/var/log/nginx/old`.
"""

from __future__ import annotations

import fnmatch
import itertools
import posixpath
import re
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

from safety.shellwords import DYN, Word

# Stand-ins for a `*` when checking whether a shell glob could name a credential file.
_STAR_SAMPLES = ("/root", "/home/user", "~", "x", "rsa", "self", "1")


@lru_cache(maxsize=4096)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            negate = body[:1] in ("!", "^")
            # Each member escaped on its own; only `a-z` ranges keep their meaning.
            members = re.sub(r"(?<!^)(?<!-)-(?!$)", "\x00", body[1:] if negate else body)
            escaped = "-".join(re.escape(part) for part in members.split("\x00"))
            out.append(f"[{'^' if negate else ''}{escaped}]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    try:
        return re.compile("".join(out) + r"\Z", re.DOTALL)
    except re.error:  # a bracket expression bash would read literally (`[z-a]`)
        return re.compile(re.escape(pattern) + r"\Z", re.DOTALL)


def glob_match(path: str, pattern: str) -> bool:
    return _glob_regex(pattern).match(path) is not None


class _GlobSet:
    """Several policy globs as one regex: a path is tested once, not once per glob."""

    def __init__(self, patterns: list[str]):
        body = "|".join(f"(?:{_glob_regex(p).pattern})" for p in patterns) or "(?!)"
        self._rx = re.compile(body, re.DOTALL)

    def match(self, path: str) -> bool:
        return self._rx.match(path) is not None


def normalize(value: str, cwd: str | None = None, tilde: bool = True) -> str:
    """Resolve `//`, `/./`, `..` and `~` textually (no filesystem access)."""
    if tilde and value.startswith("~"):
        head, sep, rest = value.partition("/")
        if head == "~":
            base = "~"
        elif head == "~root":
            base = "/root"
        else:
            base = "/home/" + head[1:]
        if not rest:
            return base
        joined = posixpath.normpath("/" + rest)
        return base + ("" if joined == "/" else joined)
    if value.startswith("/"):
        return "/" + posixpath.normpath(value).lstrip("/")
    if cwd is not None and value:
        return normalize(posixpath.join(cwd, value), None, tilde=False)
    return posixpath.normpath(value) if value else value


def word_path(word: Word, cwd: str | None) -> str:
    return normalize(word.value, cwd, tilde=word.tilde or word.value.startswith("~"))


class Paths(BaseModel):
    """The policy's `paths:` section (part of `safety.policy.Policy`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    credentials: list[str] = Field(description="Globs of credential files: reading one is denied.")
    credentials_except: list[str] = Field(default_factory=list, description="Globs that are not secret.")
    protected: list[str] = Field(description="System and home paths: recursive destruction is denied.")
    block_devices: list[str] = Field(description="Globs of disks and memory devices: writes are denied.")
    critical_files: list[str] = Field(description="Files whose overwrite breaks the host: denied.")
    harmless_writes: list[str] = Field(description="Redirect targets that are not writes (/dev/null).")
    metadata_only_programs: list[str] = Field(
        default_factory=list, description="Programs that do not read contents (ls, stat)."
    )
    standard_bin_dirs: list[str] = Field(
        description="A program named by path counts as itself only from these directories."
    )
    system_tree: list[str] = Field(
        default_factory=list,
        description="Directories every program depends on: moving, renaming or re-permissioning one "
        "(or mirroring into it with --delete) is denied.",
    )
    system_programs: list[str] = Field(
        default_factory=list,
        description="Shells, the loader and login programs: replacing, moving or disabling one is denied.",
    )


class PathRules:
    """The policy's path classes, compiled once per policy."""

    def __init__(self, paths: Paths, critical_sysctls: list[str] | None = None):
        self.paths = paths
        self._system_tree = _GlobSet(paths.system_tree)
        self._system_programs = _GlobSet(paths.system_programs)
        # /proc/sys/kernel/panic is kernel.panic: one list decides both spellings. `key=value`
        # entries are critical only with such a value; through /proc/sys the value is not seen,
        # so there the key alone counts (`sysctl -w` shows the value and is judged precisely).
        entries = critical_sysctls or []
        self._sysctls = _GlobSet([k.replace(".", "/") for k in entries if "=" not in k])
        self._sysctl_values = [tuple(k.split("=", 1)) for k in entries if "=" in k]
        self._sysctl_keys = _GlobSet([k.split("=", 1)[0].replace(".", "/") for k in entries])
        self._credentials = _GlobSet(paths.credentials)
        self._not_credentials = _GlobSet(paths.credentials_except)
        self._protected = _GlobSet(paths.protected)
        self._devices = _GlobSet(paths.block_devices)
        self._critical = _GlobSet(paths.critical_files)
        self._harmless = _GlobSet(paths.harmless_writes)
        self.examples = self._credential_examples()

    def _credential_examples(self) -> list[str]:
        out: list[str] = []
        for pattern in self.paths.credentials:
            parts = re.split(r"\*\*|\*", pattern)
            for fill in itertools.product(_STAR_SAMPLES, repeat=len(parts) - 1):
                candidate = parts[0] + "".join(f + p for f, p in zip(fill, parts[1:], strict=True))
                candidate = candidate.replace("//", "/")
                if candidate and self.is_credential(candidate):
                    out.append(candidate)
        return sorted(set(out))

    def is_credential(self, path: str) -> bool:
        if not path:
            return False
        candidates = [path] if path.startswith(("/", "~")) else [path, "/" + path]
        for cand in candidates:
            if self._not_credentials.match(cand):
                return False
            if self._credentials.match(cand):
                return True
        return False

    def glob_may_be_credential(self, pattern: str) -> bool:
        """Whether a shell glob (`/etc/sha*`, `~/.ssh/*`) could expand to a credential file."""
        return any(glob_match(example, pattern) for example in self.examples)

    def reads_credentials(self, word: Word, cwd: str | None) -> bool:
        path = word_path(word, cwd)
        if self.is_credential(path):
            return True
        return word.glob and self.glob_may_be_credential(path)

    def holds_credentials(self, path: str) -> bool:
        """Whether a directory (read recursively) contains a credential location."""
        if path in ("", "."):
            return True  # unknown working directory
        prefix = path.rstrip("/") + "/"
        return path == "/" or any(e.startswith(prefix) for e in self.examples)

    def is_protected(self, path: str) -> bool:
        path = path.rstrip("/") or "/"
        if self._protected.match(path):
            return True
        # `*`, `.`, `..` with an unknown working directory may be anything, `/` included.
        if not path.startswith(("/", "~")):
            first = path.split("/", 1)[0]
            return path in (".", "..") or first == ".." or path in ("*", ".*", "*.*", "./*")
        return False

    def glob_hits_protected(self, pattern: str) -> bool:
        """A glob that can expand to a protected path, or to everything inside one (`/usr/*`)."""
        if self.is_protected(pattern):
            return True
        probes = [p for p in self.paths.protected if "*" not in p] + ["/home/user", "~"]
        if any(glob_match(p, pattern) for p in probes):
            return True
        parent, _, last = pattern.rstrip("/").rpartition("/")
        return last in ("*", ".*", "*.*") and self.is_protected(parent or "/")

    def is_block_device(self, path: str) -> bool:
        return self._devices.match(path)

    def is_critical(self, path: str) -> bool:
        return (
            self._critical.match(path) or self._system_programs.match(path) or self.is_critical_sysctl(path)
        )

    def is_critical_sysctl(self, path: str) -> bool:
        """`path` is /proc/sys/<a critical kernel setting>."""
        return path.startswith("/proc/sys/") and self._sysctl_keys.match(
            path[len("/proc/sys/") :].split("=")[0]
        )

    def sysctl_is_critical(self, key: str, value: str) -> bool:
        key = key.strip().replace("/", ".")
        if self._sysctls.match(key.replace(".", "/")):
            return True
        return any(
            fnmatch.fnmatchcase(key, k) and fnmatch.fnmatchcase(value.strip(), v)
            for k, v in self._sysctl_values
        )

    def is_system(self, path: str) -> bool:
        """A system directory or program: what moving, renaming or chmod-ing breaks the host."""
        path = path.rstrip("/") or "/"
        return self._system_tree.match(path) or self._system_programs.match(path)

    def glob_hits_system(self, pattern: str) -> bool:
        """A glob that can expand to a system directory or program (`/usr/*`, `/bin/ba*`)."""
        probes = [
            p for p in self.paths.system_tree + self.paths.system_programs if not any(c in p for c in "*?[")
        ]
        return self.is_system(pattern) or any(glob_match(p, pattern) for p in probes)

    def is_harmless_write(self, path: str) -> bool:
        return self._harmless.match(path)


def is_socket_path(value: str) -> bool:
    """bash's /dev/tcp and /dev/udp pseudo-files open network connections."""
    norm = normalize(value) if value.startswith("/") else value
    return norm.startswith(("/dev/tcp/", "/dev/udp/")) or "/dev/tcp/" in value or "/dev/udp/" in value


def has_dynamic(value: str) -> bool:
    return DYN in value
