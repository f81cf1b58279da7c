"""Settings of the data pipeline (section `[data]`).

Every knob of `halops data ...` lives here, with its default; nothing is read at import time. The
stages take the whole `Settings` (they also need `data_dir`, the agent's instructions and the
scrubber's settings) and read this section from it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Ops vocabulary per domain. A session's domain is the one with most hits; its domain relevance
# grows with the number of distinct keywords it uses (see qualify.py).
DEFAULT_OPS_KEYWORDS: dict[str, list[str]] = {
    "systemd": ["systemctl", "journalctl", "systemd", "unit file", "daemon-reload", "timer", "service"],
    "containers": ["docker", "podman", "kubectl", "kubernetes", "helm", "container", "compose", "pod"],
    "networking": [
        "dns",
        "iptables",
        "nftables",
        "firewall",
        "ping",
        "traceroute",
        "tcpdump",
        "netstat",
        "ip addr",
        "route",
        "vlan",
        "wireguard",
        "haproxy",
        "port",
    ],
    "web": ["nginx", "apache", "caddy", "tls", "certificate", "letsencrypt", "certbot", "http", "proxy"],
    "storage": [
        "disk",
        "df -h",
        "mount",
        "zfs",
        "lvm",
        "raid",
        "mdadm",
        "smartctl",
        "fstab",
        "nfs",
        "backup",
    ],
    "databases": ["postgres", "mysql", "mariadb", "redis", "sqlite", "psql", "replication", "vacuum"],
    "hardware": ["ipmi", "ipmitool", "bmc", "sensor", "fan", "power supply", "bios", "firmware", "gpu"],
    "observability": ["prometheus", "grafana", "alert", "metrics", "logs", "loki", "uptime", "load average"],
    "security": ["ssh", "sshd", "fail2ban", "sudo", "permission", "selinux", "apparmor", "audit", "ssh key"],
    "packages": ["apt", "dnf", "yum", "pacman", "upgrade", "package", "kernel", "reboot", "cron"],
}

DEFAULT_WEIGHTS: dict[str, float] = {
    "completion": 0.25,
    "depth": 0.15,
    "domain": 0.25,
    "tools": 0.15,
    "thinking": 0.05,
    "errors": 0.15,
}
DIMENSIONS = tuple(DEFAULT_WEIGHTS)


class DataSettings(BaseModel):
    """The training data pipeline: `halops data extract | qualify | curate | augment | validate`."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    # --- sources -------------------------------------------------------------------------------
    sources: list[Path] = Field(
        default_factory=lambda: [Path("~/.claude/projects")],
        description="Where extract looks for Claude Code sessions (each a folder of project folders, "
        "or one project folder) and for `halops agent export-transcripts` JSONL files, recognised by "
        "their content. `--source DIR` replaces this list for one run.",
    )
    skills_dir: Path = Field(
        Path("~/.claude/skills"),
        description="Skill documents for strategy C: every `*/SKILL.md` below this folder.",
    )
    # --- qualify -------------------------------------------------------------------------------
    ops_keywords: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_OPS_KEYWORDS.items()},
        description="Ops vocabulary per domain (matched as whole words, case-insensitively, in user "
        "requests and tool arguments). Drives the domain relevance dimension and the per-domain counts.",
    )
    domain_saturation: int = Field(
        6, ge=1, description="Distinct ops keywords at which domain relevance reaches 1.0."
    )
    depth_saturation: int = Field(
        30, ge=1, description="Assistant turns at which the depth dimension reaches 1.0 (log scale)."
    )
    tools_saturation: int = Field(
        20, ge=1, description="Tool calls at which the call half of tool richness reaches 1.0."
    )
    distinct_tools_saturation: int = Field(
        5, ge=1, description="Distinct tools at which the variety half of tool richness reaches 1.0."
    )
    weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_WEIGHTS),
        description="Weight of each quality dimension (completion, depth, domain, tools, thinking, "
        "errors) in the session score, normalised by their sum; a dimension left out keeps its default.",
    )
    tier_a: float = Field(0.7, ge=0, le=1, description="Score at or above which a session is tier A.")
    tier_b: float = Field(0.4, ge=0, le=1, description="Score at or above which a session is tier B.")
    # --- curate --------------------------------------------------------------------------------
    max_seq_tokens: int = Field(
        4096, ge=256, description="Longest example in target-model tokens; longer sessions are windowed."
    )
    min_seq_tokens: int = Field(
        24, ge=1, description="Shorter examples are rejected by validate (nothing to learn from)."
    )
    tokenizer: Path | None = Field(
        None,
        description="Target tokenizer: a `tokenizer.json`, a folder holding one, or a GGUF file. "
        "Empty: the bundled SmolLM2 GGUF. Never downloaded from a model hub.",
    )
    max_tool_result_chars: int = Field(
        4000,
        ge=200,
        description="Characters of one tool result kept in an example (head and tail, like the agent "
        "shows the model at run time).",
    )
    min_question_chars: int = Field(
        10, ge=1, description="Shorter user requests ('ok', 'go on') make no single-turn example."
    )
    subagent_tiers: list[str] = Field(
        default_factory=lambda: ["A", "B", "C"],
        description="Tiers of subagent runs that become strategy D examples.",
    )
    include_thinking: bool = Field(
        False,
        description="Put the assistant's thinking in the example as a `<think>` block before its answer. "
        "Off: thinking only feeds the thinking dimension.",
    )
    map_tools: bool = Field(
        True,
        description="Rewrite Claude Code Bash calls as the agent's shell/ssh/http/ipmi calls, shown with "
        "the agent's own tool schemas, so a fine-tune learns the tools the agent offers. Off: Claude "
        "Code's tool names, with schemas inferred from the calls.",
    )
    # --- augment -------------------------------------------------------------------------------
    augment_base_url: str | None = Field(
        None,
        description="OpenAI-compatible base URL (with /v1) for the optional augment stage, e.g. the "
        "local model server. Empty: augment is skipped.",
    )
    augment_model: str = Field("halops-local", description="Model name sent to the augment endpoint.")
    augment_api_key_file: Path | None = Field(
        None, description="File holding the augment endpoint's bearer token, if it needs one."
    )
    augment_per_skill: int = Field(
        5, ge=0, le=50, description="Extra question/answer pairs asked per skill document."
    )
    augment_timeout_s: float = Field(120.0, gt=0, description="Seconds per augment request.")
    # --- validate ------------------------------------------------------------------------------
    dedup_threshold: float = Field(
        0.85,
        gt=0,
        lt=1,
        description="Estimated Jaccard similarity above which an example is a near duplicate.",
    )
    dedup_num_perm: int = Field(128, ge=16, le=1024, description="MinHash permutations per signature.")
    dedup_bands: int = Field(
        16, ge=1, description="LSH bands; must divide dedup_num_perm (16 x 8 rows: 99% recall at 0.85)."
    )
    dedup_shingle_words: int = Field(3, ge=1, le=8, description="Words per shingle for MinHash.")
    split_ratios: tuple[float, float, float] = Field(
        (0.90, 0.05, 0.05), description="Train, validation and test shares (grouped by session)."
    )
    seed: int = Field(20261122, description="Seed of every random choice (split order, MinHash).")
    # --- synth ---------------------------------------------------------------------------------
    synth_episodes: int = Field(
        2000,
        ge=0,
        description="Fleet-skill episodes `halops data synth` generates in the agent's own format "
        "(tool use, follow-ups, policy answers, restraint); `data all` adds them to final/. 0: off.",
    )
    synth_excerpt_share: float = Field(
        0.15, ge=0, le=1, description="Share of synth episodes whose prompt carries runbook excerpts."
    )
    known_secrets_file: Path | None = Field(
        None,
        description="File of known secret values, one per line, redacted wherever they appear "
        "(in addition to the scrubber's rules).",
    )

    @field_validator("weights")
    @classmethod
    def _complete_weights(cls, v: dict[str, float]) -> dict[str, float]:
        # A config that tunes one weight must not silently zero the other five.
        return {**DEFAULT_WEIGHTS, **v}

    @model_validator(mode="after")
    def _consistent(self) -> DataSettings:
        unknown = sorted(set(self.weights) - set(DIMENSIONS))
        if unknown:
            raise ValueError(f"unknown quality dimension(s) in weights: {', '.join(unknown)}")
        if any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) <= 0:
            raise ValueError("weights must be >= 0 and not all zero")
        if self.tier_b > self.tier_a:
            raise ValueError("tier_b must not be above tier_a")
        if self.dedup_num_perm % self.dedup_bands:
            raise ValueError("dedup_bands must divide dedup_num_perm")
        if any(r < 0 for r in self.split_ratios) or abs(sum(self.split_ratios) - 1.0) > 1e-6:
            raise ValueError("split_ratios must be three shares >= 0 adding up to 1")
        bad = sorted(set(self.subagent_tiers) - {"A", "B", "C"})
        if bad:
            raise ValueError(f"subagent_tiers: unknown tier(s) {', '.join(bad)}")
        return self
