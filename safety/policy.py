"""The command policy: a YAML document, validated into pydantic models.

The shipped default (`default_policy.yaml` beside this file) is the whole policy. A deployment file
either replaces it or, with `extends: default`, adds to it: lists are appended, mappings merged key
by key, scalars replaced, and `disable_rules` removes default rules by id. The logic that reads the
policy lives in `safety.shellcheck` and friends; everything an operator may want to tune is here.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from halops.errors import ConfigError
from safety.decision import Verdict
from safety.paths import PathRules, Paths

DEFAULT_POLICY = "default_policy.yaml"


class PolicyError(ConfigError):
    """A policy file is unreadable or invalid; `problems` lists each (key, message)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Model):
    """A declarative rule on one program's arguments. Every condition given must hold."""

    id: str = Field(description="Unique id, prefixed by the verdict: 'deny.mkfs', 'allow.df'.")
    verdict: Verdict
    reason: str = Field(description="One sentence shown to the model and the operator.")
    programs: list[str] = Field(description="Program names (basename, fnmatch globs).")
    subcommands: list[str] | None = Field(
        None, description="First positional word(s) must be one of these ('container ls' = two words)."
    )
    value_options: list[str] = Field(
        default_factory=list, description="Options that take the next word as their value."
    )
    options_any: list[str] | None = Field(None, description="At least one of these options is present.")
    options_none: list[str] | None = Field(None, description="None of these options is present.")
    options_only: list[str] | None = Field(None, description="No option outside this list is present.")
    options_required: list[str] | None = Field(
        None, description="At least one of these options must be present (top needs -b)."
    )
    args_any: list[str] | None = Field(None, description="A positional (after subcommands) matches a glob.")
    args_none: list[str] | None = Field(None, description="No positional matches any of these globs.")
    max_positionals: int | None = Field(None, ge=0, description="At most this many positionals.")
    text_regex: str | None = Field(
        None, description="Case-insensitive regex searched in the arguments and static stdin."
    )
    harm: str | None = Field(
        None,
        description="Deny rules: the class of harm the call would do ('data', 'firewall', 'kernel'...), "
        "shown by `halops safety explain`.",
    )

    @model_validator(mode="after")
    def _check(self) -> Rule:
        if not self.id.startswith(self.verdict.value + "."):
            raise ValueError(f"rule id {self.id!r} must start with '{self.verdict.value}.'")
        if self.text_regex is not None:
            try:
                re.compile(self.text_regex)
            except re.error as exc:
                raise ValueError(f"text_regex of {self.id}: {exc}") from exc
        return self

    @property
    def compiled_regex(self) -> re.Pattern[str] | None:
        return _compile(self.text_regex) if self.text_regex else None


class Wrapper(_Model):
    """A program that runs another command given in its arguments (sudo, env, timeout...)."""

    value_options: list[str] = Field(default_factory=list, description="Options taking a value.")
    flag_options: list[str] = Field(
        default_factory=list,
        description="Known flags. Any other option is ambiguous: both readings are checked.",
    )
    string_options: list[str] = Field(
        default_factory=list, description="Options whose value is a whole shell command (su -c)."
    )
    lookup_options: list[str] = Field(
        default_factory=list, description="Options that make it only look the command up (command -v)."
    )
    skip_positionals: int = Field(0, ge=0, description="Positionals before the command (timeout 5).")
    join_rest: bool = Field(False, description="The rest is joined into one shell string (watch).")
    unknown_args: bool = Field(False, description="Appends arguments read at run time (xargs).")
    min_verdict: Verdict = Field(Verdict.ALLOW, description="Verdict floor for anything run this way.")
    reason: str = Field("", description="Why the floor exists.")


class Interpreter(_Model):
    """A language runtime; code given inline is scanned, never trusted."""

    code_options: list[str] = Field(description="Options whose value is program text (-c, -e).")
    value_options: list[str] = Field(default_factory=list, description="Options taking a value.")


class NetworkClient(_Model):
    """A program that talks to another host: its destination must be in the inventory."""

    value_options: list[str] = Field(default_factory=list, description="Options taking a value.")
    destination_options: list[str] = Field(
        default_factory=list, description="Options whose value is a destination (curl --url, -x)."
    )
    destinations: Literal["positionals", "first_positional", "none"] = Field(
        "positionals", description="Which positionals are destinations."
    )
    exec_options: list[str] = Field(
        default_factory=list, description="Options that attach a program to the socket (nc -e)."
    )
    diagnostic: bool = Field(False, description="Probes only (ping, dig): literal outside hosts are fine.")


class Policy(_Model):
    """The whole policy. Build with `load_policy()`."""

    version: Literal[1] = 1
    max_argument_bytes: int = Field(8192, gt=0, description="Larger tool arguments are denied.")
    max_depth: int = Field(6, ge=1, description="Nesting of wrappers and `sh -c` before giving up.")
    loopback_hosts: list[str] = Field(description="Names of the host a command runs on.")
    blocked_hosts: list[str] = Field(description="Never contacted: names, addresses or CIDR networks.")
    shells: list[str] = Field(description="Shell programs: `-c` strings and stdin scripts are parsed.")
    shell_value_options: list[str] = Field(default_factory=list, description="Shell options with a value.")
    source_builtins: list[str] = Field(description="Builtins that run a file as script (source, .).")
    eval_builtins: list[str] = Field(description="Builtins that run their joined arguments (eval).")
    interpreters: dict[str, Interpreter] = Field(description="Program glob -> inline code options.")
    wrappers: dict[str, Wrapper] = Field(description="Program -> how it runs another command.")
    container_exec: dict[str, list[str]] = Field(
        description="Program -> subcommand that runs a command in a container (docker: exec)."
    )
    network: dict[str, NetworkClient] = Field(description="Program -> how to find its destinations.")
    paths: Paths
    recursive_destroyers: dict[str, list[str]] = Field(
        description="Program -> options that make it recursive (rm: -r): denied on protected paths."
    )
    device_writers: list[str] = Field(description="Programs that write to the files they are given.")
    dangerous_variables: list[str] = Field(description="Setting these changes what runs: approve.")
    awk_programs: list[str] = Field(description="awk flavours: programs using system() or pipes approve.")
    sed_programs: list[str] = Field(description="sed flavours: -i and e/w commands approve.")
    kill_programs: list[str] = Field(description="kill-like programs: PID 1 / -1 is denied.")
    pattern_kill_programs: list[str] = Field(description="pkill-like: a match-everything pattern is denied.")
    http_read_methods: list[str] = Field(description="HTTP methods allowed without approval.")
    ipmi: dict[str, Verdict] = Field(description="IPMI action -> verdict.")
    critical_sysctls: list[str] = Field(
        default_factory=list,
        description="Kernel settings (globs, dotted) whose change can panic or starve the host: "
        "writing one, by sysctl or under /proc/sys, is denied.",
    )
    schedule_files: list[str] = Field(
        default_factory=list,
        description="Crontabs and cron script folders: text written there is checked as the "
        "commands it schedules.",
    )
    disable_rules: list[str] = Field(default_factory=list, description="Rule ids to drop.")
    rules: list[Rule] = Field(description="Declarative rules, all evaluated on every command.")

    @field_validator("blocked_hosts")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for item in v:
            if "/" in item:
                ipaddress.ip_network(item, strict=False)
        return v

    @model_validator(mode="after")
    def _unique(self) -> Policy:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"duplicate rule id {rule.id!r}")
            seen.add(rule.id)
        return self

    @cached_property
    def rules_in_force(self) -> list[Rule]:
        """`rules` minus `disable_rules`."""
        dropped = set(self.disable_rules)
        return [r for r in self.rules if r.id not in dropped]

    @cached_property
    def _rule_index(self) -> tuple[dict[str, list[int]], list[int]]:
        exact: dict[str, list[int]] = {}
        globbed: list[int] = []
        for i, rule in enumerate(self.rules_in_force):
            for pattern in rule.programs:
                if any(c in pattern for c in "*?["):
                    globbed.append(i)
                else:
                    exact.setdefault(pattern, []).append(i)
        return exact, sorted(set(globbed))

    def rules_for(self, program: str) -> list[Rule]:
        """The rules whose `programs` name `program`, in policy order (indexed: this runs per command)."""
        cache = self.__dict__.setdefault("_rules_for_cache", {})
        found = cache.get(program)
        if found is None:
            exact, globbed = self._rule_index
            ids = set(exact.get(program, ()))
            ids.update(
                i
                for i in globbed
                if any(fnmatch.fnmatchcase(program, p) for p in self.rules_in_force[i].programs)
            )
            found = [self.rules_in_force[i] for i in sorted(ids)]
            if len(cache) < 4096:
                cache[program] = found
        return found

    @cached_property
    def path_rules(self) -> PathRules:
        return PathRules(self.paths, self.critical_sysctls)

    def wrapper_for(self, program: str) -> Wrapper | None:
        return self.wrappers.get(program)

    def interpreter_for(self, program: str) -> Interpreter | None:
        for pattern, spec in self.interpreters.items():
            if fnmatch.fnmatchcase(program, pattern):
                return spec
        return None


@lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _merge(base: Any, extra: Any) -> Any:
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for key, value in extra.items():
            out[key] = _merge(base[key], value) if key in base else value
        return out
    if isinstance(base, list) and isinstance(extra, list):
        return base + extra
    return extra


def _read_yaml(text: str, origin: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy {origin} is not valid YAML", [("(file)", str(exc))]) from exc
    if not isinstance(data, dict):
        raise PolicyError(f"policy {origin} must be a mapping", [("(file)", "top level is not a mapping")])
    return data


@lru_cache(maxsize=1)
def _default_raw() -> str:
    return resources.files("safety").joinpath(DEFAULT_POLICY).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def default_policy() -> Policy:
    """The shipped policy (parsed once per process)."""
    return _validate(_read_yaml(_default_raw(), DEFAULT_POLICY), DEFAULT_POLICY)


def load_policy(path: Path | str | None = None) -> Policy:
    """The policy at `path`, or the shipped default when `path` is None.

    Raises `PolicyError` (a `ConfigError`) listing every problem with its key.
    """
    if path is None:
        return default_policy()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"policy {path} is not readable", [("(file)", str(exc))]) from exc
    data = _read_yaml(text, str(path))
    extends = data.pop("extends", None)
    if extends not in (None, "default"):
        raise PolicyError(f"policy {path}: unknown base", [("extends", "only 'default' is supported")])
    if extends == "default":
        data = _merge(_read_yaml(_default_raw(), DEFAULT_POLICY), data)
    return _validate(data, str(path))


def _validate(data: dict[str, Any], origin: str) -> Policy:
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = [(".".join(str(p) for p in e["loc"]) or "(policy)", e["msg"]) for e in exc.errors()]
        raise PolicyError(f"{len(problems)} problem(s) in policy {origin}", problems) from exc
