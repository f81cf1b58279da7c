"""The registry's HTTP routes on the real agent app (uvicorn on loopback, the app's guards on):
/v1/models, /v1/halops/models/... Tiny GGUF files: only the registry's bookkeeping is tested."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import httpx
import openai
import pytest

from agent.daemon import Daemon
from eval.registry.pairs import add_pair
from eval.registry.registry import Registry
from eval.registry.versions import REJECTED_FILE, report_file
from eval.report import CaseResult, EvalReport
from tests.support.daemon import agent_settings, serve_daemon
from tests.support.procs import free_port

pytestmark = pytest.mark.integration
TOKEN = "registry-test-token"


class NoTools:
    def run(self, call, *, context, timeout_s):  # pragma: no cover - no chat in these tests
        raise AssertionError("no tool runs here")


def scored(scores: dict[str, float]) -> EvalReport:
    cats = {"disk": "tool-use", "bmc": "knowledge", "smart": "knowledge"}
    return EvalReport("m", "c.yaml", results=[CaseResult(i, cats[i], s, "") for i, s in scores.items()])


@pytest.fixture
def api(tmp_path: Path):
    settings = agent_settings(tmp_path, f"http://127.0.0.1:{free_port()}/v1")
    reg = Registry.for_settings(settings)
    for n, text in enumerate(["base weights", "better weights", "worse weights"]):
        src = tmp_path / f"m{n}.gguf"
        src.write_text(text)
        reg.store.add_version(src, n)
    reg.register(1, {"kind": "retrain", "job_id": "job-1"})
    reg.store.activate(0)
    reg.activate(1)  # v0 → v1, recorded as the CLI's
    (reg.store.version_path(2).parent / REJECTED_FILE).write_text(json.dumps({"reasons": ["too weak"]}))
    scored({"disk": 1.0, "bmc": 0.0, "smart": 0.5}).save(report_file(reg.reports_dir, 0))
    scored({"disk": 1.0, "bmc": 1.0, "smart": 0.0}).save(report_file(reg.reports_dir, 1))
    daemon = Daemon(settings, tools=NoTools(), scrub=lambda s: s, token=TOKEN)
    with serve_daemon(daemon) as base:
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        yield base, client, reg
        client.close()
    reg.close()


def test_models_lists_the_agent_first_then_every_version(api):
    base, _, _ = api
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=TOKEN)
    models = client.models.list().data
    assert [m.id for m in models] == ["halops", "halops-v0", "halops-v1", "halops-v2"]
    v1 = models[2].model_extra["halops"]
    assert (
        v1["version"] == 1
        and v1["state"] == "active"
        and v1["source"] == {"kind": "retrain", "job_id": "job-1"}
    )
    assert v1["eval"] == {"overall": 0.6667, "by_category": {"knowledge": 0.5, "tool-use": 1.0}}
    assert v1["size"] == len("better weights") and len(v1["sha256"]) == 64 and v1["reasons"] == []
    v2 = models[3].model_extra["halops"]
    assert v2["state"] == "rejected" and v2["reasons"] == ["too weak"] and v2["eval"] is None
    assert models[1].model_extra["halops"]["state"] == "archived"
    assert httpx.get(f"{base}/v1/models").status_code == 401, "the bearer token guards it too"


def test_show_and_history(api):
    _, client, _ = api
    for ref in ("1", "v1", "halops-v1"):
        r = client.get(f"/v1/halops/models/{ref}")
        assert r.status_code == 200 and r.json()["id"] == "halops-v1" and r.json()["object"] == "model"
    r = client.get("/v1/halops/models/9")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}
    [event] = client.get("/v1/halops/models/history").json()["data"]
    assert set(event) == {"id", "at", "version", "previous", "actor", "action", "reason", "verdict"}
    assert (event["action"], event["version"], event["previous"], event["actor"]) == ("activate", 1, 0, "cli")


def test_activate_refuses_a_rejected_version_without_force_and_rollback_goes_back(api):
    _, client, reg = api
    link = os.readlink(reg.store.current_link)
    r = client.post("/v1/halops/models/2/activate", json={})
    assert (
        r.status_code == 409
        and r.json()["error"]["code"] == "conflict"
        and "too weak" in r.json()["error"]["message"]
    )
    assert client.post("/v1/halops/models/7/activate").status_code == 404
    assert os.readlink(reg.store.current_link) == link and len(reg.history()) == 1, "nothing changed"

    r = client.post("/v1/halops/models/2/activate", json={"force": True, "reason": "see how it does"})
    assert r.status_code == 200 and r.json()["halops"]["state"] == "active" and r.json()["reloaded"] is None
    assert reg.store.active_version() == 2

    r = client.post("/v1/halops/models/rollback", json={"reason": "it did badly"})
    assert r.status_code == 200 and r.json()["id"] == "halops-v1" and reg.store.active_version() == 1
    r = client.post("/v1/halops/models/rollback")
    assert r.status_code == 200 and r.json()["id"] == "halops-v0"
    r = client.post("/v1/halops/models/rollback")
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    history = client.get("/v1/halops/models/history").json()["data"]
    assert [(h["action"], h["version"], h["actor"]) for h in history] == [
        ("activate", 1, "cli"),
        ("activate", 2, "api"),
        ("rollback", 1, "api"),
        ("rollback", 0, "api"),
    ]
    assert history[1]["reason"] == "see how it does"


def test_a_foreign_origin_cannot_activate(api):
    _, client, reg = api
    r = client.post("/v1/halops/models/0/activate", headers={"Origin": "http://attacker.example"})
    assert r.status_code == 403 and reg.store.active_version() == 1


def test_compare_case_by_case(api):
    _, client, _ = api
    body = client.get("/v1/halops/models/compare", params={"a": 0, "b": "halops-v1"}).json()
    assert (body["a"], body["b"], body["a_wins"], body["b_wins"], body["ties"]) == (0, 1, 1, 1, 1)
    assert body["by_category"]["knowledge"] == {"a": 0.25, "b": 0.5, "delta": 0.25}
    assert body["cases"][1] == {"id": "bmc", "category": "knowledge", "a": 0.0, "b": 1.0, "winner": "b"}
    r = client.get("/v1/halops/models/compare", params={"a": 0, "b": 2})
    assert r.status_code == 409 and "no eval report" in r.json()["error"]["message"]


def test_pairs_are_listed_blind_and_judged_once(api):
    _, client, reg = api
    pair = add_pair(reg.db, "disk on web1?", 0, 1, "zero says", "one says", random.Random(1))
    [shown] = client.get("/v1/halops/models/pairs", params={"judged": "false"}).json()["data"]
    assert set(shown) == {"id", "prompt", "first", "second", "judged"} and shown["judged"] is False
    assert client.post(f"/v1/halops/models/pairs/{pair}/judge", json={"winner": "best"}).status_code == 400
    r = client.post(f"/v1/halops/models/pairs/{pair}/judge", json={"winner": "second"})
    assert r.status_code == 200 and r.json()["judged"] is True
    assert r.json()["winner_version"] == (1 if shown["second"] == "one says" else 0)
    r = client.post(f"/v1/halops/models/pairs/{pair}/judge", json={"winner": "tie"})
    assert r.status_code == 409
    assert client.post("/v1/halops/models/pairs/pair-nope/judge", json={"winner": "tie"}).status_code == 404
    assert client.get("/v1/halops/models/pairs", params={"judged": "false"}).json()["data"] == []
