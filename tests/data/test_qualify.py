"""The six quality dimensions, the score and the tiers, on conversations built by hand."""

from __future__ import annotations

import math

import pytest

from trainer.data.config import DataSettings
from trainer.data.qualify import Keywords, qualify_one

pytestmark = pytest.mark.unit


def _conv(turns, **extra):
    return {"id": "c", "session_id": "c", "kind": "session", "source": "claude-code", "turns": turns, **extra}


def _asst(text="", calls=(), thinking=""):
    return {"role": "assistant", "text": text, "tool_calls": list(calls), "thinking": thinking}


def _call(i, name="Bash", answered=True, **args):
    return {"id": f"t{i}", "name": name, "input": args or {"command": "uptime"}, "answered": answered}


def _result(i, error=False):
    return {"role": "tool", "tool_use_id": f"t{i}", "name": "Bash", "content": "ok", "is_error": error}


DS = DataSettings()
KW = Keywords.from_settings(DS.ops_keywords)


def test_dimensions_follow_their_documented_formulas():
    turns = [
        {"role": "user", "text": "nginx on web1 is down, check systemctl and the disk"},
        _asst(
            "Looking.",
            [_call(1, command="systemctl status nginx"), _call(2, "Read", file_path="/etc/fstab")],
            thinking="first the unit",
        ),
        _result(1),
        _result(2, error=True),
        _asst("", [_call(3, answered=False, command="journalctl -u nginx")]),
        {"role": "context", "kind": "interrupt", "text": "[Request interrupted by user]"},
        {"role": "user", "text": "ok"},
        _asst("nginx failed on a full disk."),
    ]
    row = qualify_one(_conv(turns), DS, KW)
    d, s = row["dimensions"], row["signals"]
    assert s["keywords"] == ["disk", "fstab", "journalctl", "nginx", "systemctl"]
    assert d["completion"] == pytest.approx(0.5 + 0.25 * (1 - 1 / 3) + 0.25 * (1 - 1 / 2), abs=1e-4)
    assert d["depth"] == pytest.approx(math.log1p(3) / math.log1p(30), abs=1e-4)
    assert d["domain"] == pytest.approx(5 / 6, abs=1e-4)
    assert d["tools"] == pytest.approx(0.5 * 2 / 5 + 0.5 * 3 / 20, abs=1e-4)
    assert d["thinking"] == pytest.approx(2 / 3, abs=1e-4)
    assert d["errors"] == pytest.approx(0.5)
    weights = DS.weights
    assert row["score"] == pytest.approx(sum(weights[k] * d[k] for k in d) / sum(weights.values()), abs=1e-3)
    assert row["domain"] in {"systemd", "storage", "web"}


def test_tiers_use_the_configured_cut_offs():
    rich = [
        {"role": "user", "text": "disk full on db1: df -h, journalctl, systemctl, docker, nginx, postgres"}
    ]
    for i in range(12):
        rich += [
            _asst("step", [_call(i, ["Bash", "Read", "Grep", "Edit", "Write"][i % 5], command="df -h")]),
            _result(i),
        ]
    rich.append(_asst("Fixed: rotated the postgres logs.", thinking="t"))
    assert qualify_one(_conv(rich), DS, KW)["tier"] == "A"
    poor = [{"role": "user", "text": "hi"}, _asst("")]
    assert qualify_one(_conv(poor), DS, KW)["tier"] == "C"
    lenient = DataSettings(tier_a=0.99, tier_b=0.0)
    assert qualify_one(_conv(rich), lenient, KW)["tier"] == "B"


def test_operator_feedback_decides_completion_of_agent_transcripts():
    turns = [{"role": "user", "text": "restart nginx"}, _asst("")]
    up = qualify_one(_conv(turns, feedback=1, source="halops-agent"), DS, KW)
    down = qualify_one(_conv(turns, feedback=-1, source="halops-agent"), DS, KW)
    assert (up["dimensions"]["completion"], down["dimensions"]["completion"]) == (1.0, 0.0)


def test_keywords_match_whole_words_only():
    kw = Keywords.from_settings({"net": ["port", "ip addr"]})
    assert kw.hits("see the report; ip addr show; port 443") == {"net": {"port", "ip addr"}}
    assert kw.hits("important reports") == {"net": set()}
