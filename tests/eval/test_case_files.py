"""Loading episode cases and the hosts list: the shipped set, and every problem of a bad file at once."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from eval.cases import eval_hosts, eval_prompts, load_case_file, load_cases
from eval.errors import EvalError

pytestmark = pytest.mark.unit

GOOD = """
hosts: [app3, api4]
cases:
  - id: ep
    kind: episode
    category: grounding
    prompt: How full is / on app3?
    steps:
      - call: {name: ssh, arguments: {host: app3, command: "df -h /"}}
        result: {status: ok, exit_code: 0, stdout: "/dev/sda1  40G  38G  2.0G  95% /"}
    expect: answer
    keywords: ["95%", [app3, "the host"]]
  - id: health
    kind: tool
    category: tool-use
    prompt: Is http://api4:8080/health up?
    tools: [http]
    args_contain: [api4]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cases.yaml"
    path.write_text(text)
    return path


def test_an_episode_file_loads_with_its_hosts_and_prompts(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    loaded = load_case_file(path)
    episode = loaded.cases[0]
    assert episode.steps[0].name == "ssh" and episode.steps[0].result["stdout"].endswith("95% /")
    assert episode.keywords == ("95%", ("app3", "the host")) and episode.expect == "answer"
    assert eval_hosts(path) == {"app3", "api4"} == set(loaded.hosts)
    assert eval_prompts(path) == ["How full is / on app3?", "Is http://api4:8080/health up?"]


def test_hosts_used_but_not_listed_are_errors(tmp_path: Path) -> None:
    text = GOOD.replace("hosts: [app3, api4]", "hosts: [app3]").replace(
        "prompt: How full", "prompt: Compare with http://web9/x. How full"
    )
    with pytest.raises(EvalError) as exc:
        load_cases(write(tmp_path, text))
    assert "case ep: hosts ['web9'] are not in the top-level `hosts:` list" in str(exc.value)
    assert "case health: hosts ['api4']" in str(exc.value)


def test_a_file_without_hosts_is_fine_while_it_names_none(tmp_path: Path) -> None:
    from tests.eval.helpers import CASES

    assert len(load_cases(write(tmp_path, CASES))) == 2
    assert eval_hosts(tmp_path / "cases.yaml") == set()


def test_a_bad_episode_file_lists_every_problem(tmp_path: Path) -> None:
    text = """
hosts: [web1, web1, "bad host"]
extra: 1
cases:
  - {id: a, kind: episode, category: g, prompt: p, keywords: [x]}
  - id: b
    kind: episode
    category: g
    prompt: p
    expect: maybe
    keywords: [x]
    steps:
      - call: {name: nginx, arguments: {host: web1}}
        result: {status: ok}
      - call: {name: ssh, arguments: {host: web1}}
        result: {status: fine, colour: red}
      - call: {name: ipmi, arguments: {host: web1, action: sensors}}
        result: {status: approval_required, reason: why}
      - call: {name: ssh, arguments: {host: web1, command: uptime}}
        result: {status: denied}
      - call: {name: ssh, arguments: {host: web1, command: uptime}}
        result: {status: timeout}
      - just a string
  - id: c
    kind: episode
    category: g
    prompt: p
    expect: answer
    keywords: ["42%", up]
    steps:
      - call: {name: shell, arguments: {command: uptime}}
        result: {status: ok, stdout: " up 3 days", exit_code: "0"}
  - {id: d, kind: episode, category: g, prompt: p, expect: tool, steps: []}
  - {id: e, kind: answer, category: g, prompt: p, keywords: [x], expect: answer}
  - {id: f, kind: tool, category: g, prompt: p, tools: [sshh], args_contain: web1}
"""
    with pytest.raises(EvalError) as exc:
        load_cases(write(tmp_path, text))
    problems = str(exc.value)
    for expected in (
        "unknown top-level keys ['extra']",
        "`hosts:` has names that are not host names: ['bad host']",
        "`hosts:` lists ['web1'] more than once",
        "cases[0]: an episode needs `expect: tool` or `expect: answer`\n",
        "cases[0]: an episode needs `steps`",
        "cases[1]: an episode needs `expect: tool` or `expect: answer`, not 'maybe'",
        "cases[1].steps[0].call: unknown tool 'nginx'",
        "cases[1].steps[1].call: arguments do not validate: command Field required",
        "cases[1].steps[1].result: unknown keys ['colour']",
        "cases[1].steps[1].result: status must be one of",
        "cases[1].steps[2].result: an 'approval_required' result needs an `approval_id`",
        "cases[1].steps[3].result: a 'denied' result needs a `reason`",
        "cases[1].steps[4].result: a 'timeout' result needs `stderr`, `exit_code` or `reason`",
        "cases[1].steps[5]: a step is a mapping with exactly `call` and `result`",
        "cases[2].steps[0].result.exit_code: expected an integer",
        "cases[2]: keywords ['42%'] appear in neither the prompt nor any step",
        "cases[3]: an episode needs `steps`",
        "cases[3]: an episode that expects a call needs `tools`",
        "cases[4]: `steps` and `expect` belong to episode cases only",
        "cases[5]: unknown tools ['sshh'] in `tools`",
        "cases[5]: `args_contain` must be a list",
    ):
        assert expected in problems, expected


def test_the_shipped_set_covers_what_operators_need() -> None:
    loaded = load_case_file()
    cases = loaded.cases
    counts = Counter(c.category for c in cases)
    assert len(cases) >= 60
    assert counts["tool-use"] >= 24 and counts["knowledge"] >= 12
    assert counts["grounding"] >= 12 and counts["policy"] >= 10
    assert set(counts) == {"tool-use", "knowledge", "grounding", "policy"}
    assert {t for c in cases if c.kind == "tool" for t in c.tools} == {"ssh", "ipmi", "http", "shell"}
    assert all(c.kind == "answer" for c in cases if c.category == "knowledge")
    assert all(c.kind == "episode" for c in cases if c.category in ("grounding", "policy"))
    grounding = [c for c in cases if c.category == "grounding"]
    assert any(c.expect == "tool" for c in grounding), "a closer look after a first result"
    assert any(len(c.steps) >= 2 for c in grounding), "a two-step episode"
    statuses = {s.result["status"] for c in cases if c.category == "policy" for s in c.steps}
    assert statuses == {"denied", "approval_required", "error", "timeout"}
    assert any("inventory" in s.result.get("reason", "") for c in cases for s in c.steps)
    assert len({c.prompt for c in cases}) == len(cases), "every prompt differs"


def test_every_host_the_shipped_prompts_name_is_listed_and_every_listed_host_used() -> None:
    # eval_hosts() is what keeps eval hosts out of training data: a host named only in prose
    # (a tool case's prompt) must be listed too. Device and filesystem names look like hosts.
    not_hosts = {"ext4", "sdc1"}
    loaded = load_case_file()
    named = {w for c in loaded.cases for w in re.findall(r"\b[a-z]+\d+\b", c.prompt)} - not_hosts
    used = named.union(*(c.hosts() for c in loaded.cases))
    assert used == set(loaded.hosts)
