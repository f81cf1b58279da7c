"""Claude Code Bash calls → the agent's shell/ssh/http/ipmi calls (toolmap.py), and curate with it."""

from __future__ import annotations

import json
import shlex
from collections import Counter
from pathlib import Path

import pytest

from halops.calls import ARG_MODELS, ToolName, tool_schemas
from halops.parser import parse_reply
from halops.prompt import signature
from tests.data.helpers import FIXTURES, Log, settings_for, text, tool_use
from trainer.data import chatml, pipeline
from trainer.data.stages import Layout
from trainer.data.toolmap import map_call
from trainer.data.validate import format_problems

SHELL = "shell"  # expected: the whole line goes to shell unchanged

CASES = [
    # ssh: options skipped, user@ stripped, the remote command is the rest joined by spaces
    ("ssh web1 uptime", ("ssh", {"host": "web1", "command": "uptime"})),
    ("ssh web1 'df -h | head'", ("ssh", {"host": "web1", "command": "df -h | head"})),
    (
        "ssh -p 2222 -i key root@db2 'systemctl status nginx'",
        ("ssh", {"host": "db2", "command": "systemctl status nginx"}),
    ),
    (
        "ssh -t -o StrictHostKeyChecking=no -oBatchMode=yes -p2222 web1 sudo journalctl -u nginx -n 50",
        ("ssh", {"host": "web1", "command": "sudo journalctl -u nginx -n 50"}),
    ),
    ("ssh -i ~/.ssh/ops -l root db2 uptime", ("ssh", {"host": "db2", "command": "uptime"})),
    ('ssh web1 "cd /srv && git log -1"', ("ssh", {"host": "web1", "command": "cd /srv && git log -1"})),
    ("/usr/bin/ssh web1 uptime", ("ssh", {"host": "web1", "command": "uptime"})),
    ("ssh host", None),  # an interactive login: kept as Bash
    ("ssh -A root@host", None),
    ("ssh web1 uptime | grep load", SHELL),  # a local pipe
    ("ssh web1 uptime && ssh web2 uptime", SHELL),
    ("ssh web1 uptime > /tmp/up", SHELL),
    ('ssh web1 "echo $HOME"', SHELL),  # expanded locally, in double quotes too
    ("ssh web1 echo `hostname`", SHELL),
    ('ssh web1 "uptime; $(whoami)"', SHELL),
    ("ssh web1 ls /var/log/*.log", SHELL),  # a local glob
    ("ssh web1 uptime # load?", SHELL),
    ("ssh web1\nuptime", SHELL),
    ("ssh -N -L 8080:localhost:80 web1", SHELL),  # a tunnel, not a command
    ("ssh -f web1 sleep 60", SHELL),
    ("ssh -Z web1 uptime", SHELL),  # an option not known
    ("ssh ssh://web1 uptime", SHELL),
    ("ssh web1 -p 22 uptime", SHELL),  # options after the destination are not guessed at
    ("ssh $HOST uptime", SHELL),
    # curl
    ("curl http://web1:8080/health", ("http", {"method": "GET", "url": "http://web1:8080/health"})),
    (
        "curl -s -X POST -H 'Content-Type: application/json' -d '{\"a\":1}' https://api4:8080/x",
        (
            "http",
            {
                "method": "POST",
                "url": "https://api4:8080/x",
                "headers": {"Content-Type": "application/json"},
                "body": '{"a":1}',
            },
        ),
    ),
    ("curl -sI https://web1/", ("http", {"method": "HEAD", "url": "https://web1/"})),
    ("curl --head https://web1/", ("http", {"method": "HEAD", "url": "https://web1/"})),
    ("curl -fsSL -m 5 http://web1/x", ("http", {"method": "GET", "url": "http://web1/x"})),
    ("curl -XDELETE http://web1/k/1", ("http", {"method": "DELETE", "url": "http://web1/k/1"})),
    (
        "curl -d a=1 -d b=2 http://web1/f",
        ("http", {"method": "POST", "url": "http://web1/f", "body": "a=1&b=2"}),
    ),
    ("curl --url 'http://web1/?q=up&x=1'", ("http", {"method": "GET", "url": "http://web1/?q=up&x=1"})),
    ("curl -s http://web1:9090/metrics | jq .", SHELL),
    ("curl http://web1/?q=1", SHELL),  # an unquoted glob character
    ("curl -o /tmp/x http://web1/", SHELL),  # writes a file
    ("curl -w '%{http_code}' http://web1/", SHELL),  # an option not understood
    ("curl -k https://web1/", SHELL),  # the http tool always verifies TLS
    ("curl -u admin:pw http://web1/", SHELL),
    ("curl -d @body.json http://web1/", SHELL),  # data from a file
    ("curl -H 'X-Empty;' http://web1/", SHELL),
    ("curl -X post http://web1/", SHELL),  # not a method the http tool takes: fails validation
    ("curl -I -d a=1 http://web1/", SHELL),
    ("curl web1:8080/health", SHELL),  # no http(s) scheme
    ("curl ftp://web1/file", SHELL),
    ("curl http://web1/a http://web1/b", SHELL),
    ("curl --request=POST http://web1/", SHELL),
    # ipmitool: never the password
    (
        "ipmitool -I lanplus -H node12-bmc -U admin -P 'hunter2 secret' power status",
        ("ipmi", {"host": "node12-bmc", "action": "power_status"}),
    ),
    ("ipmitool -H 10.0.0.5 -E chassis power cycle", ("ipmi", {"host": "10.0.0.5", "action": "power_cycle"})),
    ("ipmitool -H n1 -f /root/.ipmi power off", ("ipmi", {"host": "n1", "action": "power_off"})),
    ("ipmitool -H n1 -U a -P b power on", ("ipmi", {"host": "n1", "action": "power_on"})),
    ("ipmitool -H n1 -U a -P b power reset", ("ipmi", {"host": "n1", "action": "power_reset"})),
    ("ipmitool -H n1 -U a -P b chassis status", ("ipmi", {"host": "n1", "action": "chassis_status"})),
    ("ipmitool -H n1 -U a -P b sensor", ("ipmi", {"host": "n1", "action": "sensors"})),
    ("ipmitool -H n1 -U a -P b sdr", ("ipmi", {"host": "n1", "action": "sensors"})),
    ("ipmitool -H n1 -U a -P b sdr list", ("ipmi", {"host": "n1", "action": "sensors"})),
    ("ipmitool -H n1 -U a -P b sel list", ("ipmi", {"host": "n1", "action": "sel_list"})),
    ("ipmitool -H n1 -U a -P b sel elist", ("ipmi", {"host": "n1", "action": "sel_list"})),
    ("ipmitool -H n1 -U a -P b sel clear", ("ipmi", {"host": "n1", "action": "sel_clear"})),
    (
        "ipmitool -I lan -H n1 -U a -P b chassis bootdev pxe",
        ("ipmi", {"host": "n1", "action": "boot_device", "value": "pxe"}),
    ),
    ("ipmitool -H n1 -U a -P b chassis identify", ("ipmi", {"host": "n1", "action": "identify"})),
    (
        "ipmitool -H n1 -U a -P b chassis identify force",
        ("ipmi", {"host": "n1", "action": "identify", "value": "on"}),
    ),
    ("ipmitool sensor", SHELL),  # no -H: the local BMC
    ("ipmitool -I open -H n1 power status", SHELL),
    ("ipmitool -H n1 -P b power soft", SHELL),
    ("ipmitool -H n1 -P b chassis bootdev floppy options=persistent", SHELL),
    ("ipmitool -H n1 -P b sdr type Temperature", SHELL),
    ("ipmitool -H n1 -P b sel list | tail", SHELL),
    # everything else
    ("df -h", SHELL),
    ("systemctl status nginx --no-pager", SHELL),
    ("echo 'unterminated", SHELL),  # shlex cannot parse it: still a command line, so shell
    ("cat <<'EOF' > notes\nit's done\nEOF", SHELL),
    ("sudo ssh web1 uptime", SHELL),
    ("FOO=1 curl http://web1/", SHELL),
]


def _id(case):
    return case[0].replace("\n", "\\n")[:60]


@pytest.mark.unit
@pytest.mark.parametrize(("command", "expected"), CASES, ids=[_id(c) for c in CASES])
def test_map_call(command, expected):
    got = map_call("Bash", {"command": command, "description": "what it does", "timeout": 60000})
    if expected == SHELL:
        expected = ("shell", {"command": command})
    assert got == expected
    if got is not None:
        ARG_MODELS[ToolName(got[0])].model_validate(got[1])  # what the agent's parser would accept


@pytest.mark.unit
def test_the_ipmi_password_never_reaches_the_arguments():
    for command in (
        "ipmitool -I lanplus -H bmc7 -U admin -P Sup3rS3cret! power status",
        "ipmitool -I lanplus -H bmc7 -U admin -PSup3rS3cret! sdr list",
        "ipmitool -H bmc7 -U admin -P 'Sup3rS3cret!' -L ADMINISTRATOR chassis bootdev disk",
    ):
        name, args = map_call("Bash", {"command": command})
        assert name == "ipmi"
        body = json.dumps(args)
        assert "Sup3rS3cret" not in body and "admin" not in body


@pytest.mark.unit
def test_what_is_not_mapped_is_kept_as_it_is():
    assert map_call("Read", {"file_path": "/etc/hosts"}) is None
    assert map_call("shell", {"command": "df -h"}) is None  # already an agent call
    assert map_call("Bash", {"command": "  "}) is None
    assert map_call("Bash", {"description": "no command"}) is None
    assert map_call("Bash", "df -h") is None
    assert map_call("Bash", {"command": "mix phx.server", "run_in_background": True}) is None


@pytest.mark.unit
def test_the_remote_command_is_the_words_as_shlex_gives_them():
    # Quotes removed, nothing expanded, joined by spaces: the string ssh itself sends.
    command = "ssh -p 22 'root@db2' \"systemctl  status\" nginx\\ x 'c\"d'"
    assert shlex.split(command)[4:] == ["systemctl  status", "nginx x", 'c"d']
    assert map_call("Bash", {"command": command}) == (
        "ssh",
        {"host": "db2", "command": 'systemctl  status nginx x c"d'},
    )


# --- chatml: call text, result names, schemas ---------------------------------------------------


def _parallel_turns():
    calls = [
        {"id": "a", "name": "Bash", "input": {"command": "ssh web1 uptime", "description": "load"}},
        {"id": "b", "name": "Read", "input": {"file_path": "/etc/hosts"}},
        {"id": "c", "name": "Bash", "input": {"command": "curl -s http://web1:8080/health"}},
        {"id": "d", "name": "Bash", "input": {"command": "df -h | tail -3"}},
        {"id": "e", "name": "Bash", "input": {"command": "ssh web1"}},
    ]
    for c in calls:
        c["answered"] = True
    return [
        {"role": "user", "text": "is web1 healthy?"},
        {"role": "assistant", "text": "Checking.", "thinking": "", "tool_calls": calls},
        *[
            {"role": "tool", "tool_use_id": c["id"], "name": c["name"], "content": f"out {c['id']}"}
            for c in calls
        ],
        {"role": "assistant", "text": "web1 is fine.", "tool_calls": [], "thinking": ""},
    ]


def _messages(exchange):
    return [exchange.user, *[m for s in exchange.steps for m in s.messages]]


@pytest.mark.unit
def test_parallel_calls_and_their_results_keep_one_name_each():
    (ex,) = chatml.exchanges(
        _parallel_turns(), result_chars=4000, include_thinking=False, map_tools=True
    ).exchanges
    step = ex.steps[0]
    parsed = parse_reply(step.assistant["content"])
    names = [c.tool for c in parsed.calls]
    assert names == ["ssh", "Read", "http", "shell", "Bash"]
    assert [r["name"] for r in step.results] == names
    assert parsed.calls[0].arguments == {"host": "web1", "command": "uptime"}
    assert step.calls == [(c.tool, c.arguments) for c in parsed.calls]
    turns = _parallel_turns()
    turns[2:7] = turns[2:7][::-1]  # results matched by tool_use_id, not by position
    (rev,) = chatml.exchanges(turns, result_chars=4000, include_thinking=False, map_tools=True).exchanges
    assert [(r["name"], r["content"]) for r in rev.steps[0].results] == [
        ("Bash", "out e"),
        ("shell", "out d"),
        ("http", "out c"),
        ("Read", "out b"),
        ("ssh", "out a"),
    ]
    system = chatml.render_system("Be careful.", ex.calls, agent_tools=True)
    example = {
        "messages": [{"role": "system", "content": system}, *_messages(ex)],
        "metadata": {"session_id": "s"},
    }
    assert format_problems(example) == []


@pytest.mark.unit
def test_map_tools_off_is_the_old_rendering():
    turns = _parallel_turns()
    default = chatml.exchanges(turns, result_chars=4000, include_thinking=False).exchanges
    off = chatml.exchanges(turns, result_chars=4000, include_thinking=False, map_tools=False).exchanges
    assert [_messages(e) for e in default] == [_messages(e) for e in off]
    step = off[0].steps[0]
    assert [r["name"] for r in step.results] == ["Bash", "Read", "Bash", "Bash", "Bash"]
    calls = off[0].calls
    assert chatml.render_system("I.", calls) == chatml.render_system("I.", calls, agent_tools=False)


@pytest.mark.unit
def test_agent_tools_get_the_agents_own_schemas_others_stay_inferred():
    agent = {s["function"]["name"]: s for s in tool_schemas()}
    calls = [
        ("Read", {"file_path": "/etc/hosts"}),
        ("ssh", {"host": "web1", "command": "uptime"}),
        ("shell", {"command": "df -h"}),
    ]
    schemas = chatml.tool_schemas(calls, agent_tools=True)
    assert [s["function"]["name"] for s in schemas] == ["shell", "ssh", "Read"]  # the agent's order first
    assert schemas[:2] == [agent["shell"], agent["ssh"]]
    assert schemas[2]["function"]["parameters"]["properties"] == {"file_path": {"type": "string"}}
    system = chatml.render_system("Be careful.", calls, agent_tools=True)
    # Tools appear as the agent renders them (one signature line each), only those used.
    assert signature(agent["ssh"]) in system and signature(agent["shell"]) in system
    assert "ipmi(" not in system and "http(" not in system
    inferred = chatml.render_system("Be careful.", calls)
    assert signature(agent["ssh"]) not in inferred


# --- curate, end to end ---------------------------------------------------------------------------


def _ops_log(path: Path) -> Path:
    log = Log("fleet-1")
    for i in range(3):
        log.user(f"Why does nginx on web{i} give 502? Check systemctl, journalctl, the disk (df -h), the BMC")
        log.assistant(
            [
                text(f"Checking web{i}."),
                tool_use(f"t{i}a", command=f"ssh -p 2222 root@web{i} 'systemctl status nginx | head -5'"),
                tool_use(f"t{i}b", command=f"curl -s http://web{i}:8080/health"),
                tool_use(f"t{i}c", command=f"ipmitool -I lanplus -H web{i}-bmc -U admin -P hunter2 sdr list"),
                tool_use(f"t{i}d", "Read", file_path="/etc/nginx/nginx.conf"),
            ],
            f"m{i}a",
        )
        for tid, out in (
            ("c", "FAN1 | 4200 RPM | ok"),
            ("a", "active (running)"),
            ("d", "worker_processes 4;"),
        ):
            log.result(f"t{i}{tid}", out)
        log.result(f"t{i}b", '{"status": "degraded", "php-fpm": "down"}')
        log.assistant(
            [tool_use(f"t{i}e", command=f"ssh web{i} journalctl -u php-fpm -n 20 | tail -3")], f"m{i}b"
        )
        log.result(f"t{i}e", f"php-fpm: pool www exited, disk /var full on web{i}")
        log.assistant(
            f"web{i}: php-fpm died because /var is full; free space with journalctl --vacuum-size "
            f"and restart php-fpm (needs approval). Exchange {i}.",
            f"m{i}c",
        )
    return log.write(path)


def _curated(settings) -> list[dict]:
    folder = Layout(settings.data_dir).folder("curate")
    return [
        json.loads(line) for p in sorted(folder.glob("sft_*.jsonl")) for line in p.read_text().splitlines()
    ]


def _calls_and_results(example):
    calls, results = [], []
    for m in example["messages"]:
        if m["role"] == "assistant":
            calls += [(c.tool, c.arguments) for c in parse_reply(m["content"]).calls]
        elif m["role"] == "tool":
            results.append(m["name"])
    return calls, results


@pytest.mark.integration
def test_curate_maps_bash_calls_end_to_end(tmp_path, tokenizer_json):
    _ops_log(tmp_path / "src" / "-home-ops" / "fleet-1.jsonl")
    agent = {s["function"]["name"]: s for s in tool_schemas()}
    out = {}
    for flag in (True, False):
        settings = settings_for(
            tmp_path / str(flag), tokenizer_json, sources=[tmp_path / "src"], map_tools=flag
        )
        results = pipeline.run_all(settings)
        assert [r.status for r in results] == ["ran", "ran", "ran", "skipped", "ran"]
        report = json.loads((Layout(settings.data_dir).folder("validate") / "data_report.json").read_text())
        assert report["validate"]["rejected"] == {}  # every example passes validate's format checks
        out[flag] = _curated(settings)
    mapped, plain = out[True], out[False]
    assert [e["id"] for e in mapped] == [e["id"] for e in plain]  # the same examples
    assert {e["metadata"]["strategy"] for e in mapped} >= {"A", "B"}
    for ex in mapped:
        calls, results = _calls_and_results(ex)
        assert [name for name, _ in calls] == results  # parallel calls, results out of order: names agree
        system = ex["messages"][0]["content"]
        for name in {"ssh", "http", "ipmi", "shell"} & set(results):
            assert signature(agent[name]) in system  # the tool as the agent shows it at run time
        assert "\nBash(" not in system and "\nRead(" in system
        assert "hunter2" not in json.dumps(ex) and "admin" not in json.dumps(calls)
    b1 = next(e for e in mapped if e["id"] == "B:fleet-1:1:1")
    calls, _ = _calls_and_results(b1)
    assert calls == [
        ("ssh", {"host": "web0", "command": "systemctl status nginx | head -5"}),
        ("http", {"method": "GET", "url": "http://web0:8080/health"}),
        ("ipmi", {"host": "web0-bmc", "action": "sensors"}),
        ("Read", {"file_path": "/etc/nginx/nginx.conf"}),
        ("shell", {"command": "ssh web0 journalctl -u php-fpm -n 20 | tail -3"}),
    ]
    b1_tools = [m for m in b1["messages"] if m["role"] == "tool"]
    assert [m["content"] for m in b1_tools][:4] == [
        "active (running)",
        '{"status": "degraded", "php-fpm": "down"}',
        "FAN1 | 4200 RPM | ok",
        "worker_processes 4;",
    ]  # each result follows its own call
    for ex in plain:  # map_tools = false: Claude Code's names and inferred schemas, as before
        calls, results = _calls_and_results(ex)
        assert {name for name, _ in calls} == set(results) == {"Bash", "Read"}
        assert "\nBash(" in ex["messages"][0]["content"]
        assert not any(signature(s) in ex["messages"][0]["content"] for s in agent.values())


@pytest.mark.integration
def test_toggling_map_tools_reruns_curate(tmp_path, tokenizer_json):
    _ops_log(tmp_path / "src" / "-home-ops" / "fleet-1.jsonl")
    settings = settings_for(tmp_path, tokenizer_json, sources=[tmp_path / "src"])
    assert settings.data.map_tools is True  # the default
    pipeline.run_all(settings)
    before = _curated(settings)
    off = settings.model_copy(update={"data": settings.data.model_copy(update={"map_tools": False})})
    assert pipeline.run_stage("curate", off).status == "ran"
    assert _curated(off) != before


@pytest.mark.integration
def test_real_fixtures_lose_no_step_and_every_bash_call_is_mapped(tmp_path, tokenizer_json):
    """On the real sessions mapping changes content, not what is kept: the same conversations and
    requests, with the same steps and results. Calls are shorter without Bash's `description`, so
    one over-long request (258c7280..., request 1) fits in 32 chunks instead of 34: the only change
    in the number of examples."""
    per_flag = {}
    for flag in (False, True):
        settings = settings_for(tmp_path / str(flag), tokenizer_json, sources=[FIXTURES], map_tools=flag)
        for stage in ("extract", "qualify", "curate"):
            pipeline.run_stage(stage, settings)
        per_flag[flag] = _curated(settings)
    off, on = per_flag[False], per_flag[True]
    strategies = {f: Counter(e["metadata"]["strategy"] for e in per_flag[f]) for f in per_flag}
    # The agent's shorter system prompt (tool signatures, issue 12) changed the windowing: fewer,
    # longer windows than with full JSON schemas.
    assert strategies[False] == {"B": 145, "D": 28}
    assert strategies[True] == {"B": 141, "D": 28}

    def per_request(examples):
        totals: Counter[tuple[str, str]] = Counter()
        for e in examples:
            request = e["id"].rsplit(":", 1)[0]
            for m in e["messages"][2:]:
                totals[request, m["role"]] += 1
        return totals

    assert per_request(on) == per_request(off)
    names = {f: Counter(n for e in per_flag[f] for n, _ in _calls_and_results(e)[0]) for f in per_flag}
    assert names[False]["Bash"] == 388
    assert names[True]["shell"] == 388 and "Bash" not in names[True]
    assert {k: v for k, v in names[True].items() if k != "shell"} == {
        k: v for k, v in names[False].items() if k != "Bash"
    }
