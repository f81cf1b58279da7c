"""The model registry over HTTP: `/v1/models` (OpenAI's list, one entry per version) and
`/v1/halops/models/...` (show, history, activate, rollback, compare, blind judging).

Mounted on the agent app (`agent.server.app`), so the app's Host/Origin guard and bearer token
cover every route. Registry errors are typed (`halops.errors.NotFoundError` / `ConflictError`):
the app answers them 404 / 409 in its OpenAI-shaped error body. Only eval's registry is imported
(sqlite and file bookkeeping): the daemon still never loads a training library.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from eval.registry.compare import compare_reports, load_report
from eval.registry.errors import UnknownVersionError
from eval.registry.pairs import judge, list_pairs
from eval.registry.registry import Registry
from eval.registry.versions import VersionInfo
from halops.errors import HalopsError

log = logging.getLogger("halops.agent")
ACTOR = "api"
OWNER = "halops"


class ActivateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    force: bool = Field(False, description="Serve it even if the deploy gate rejected it.")
    reason: str | None = Field(None, max_length=2000, description="Kept in the deployment history.")


class RollbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=2000, description="Kept in the deployment history.")


class JudgeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    winner: Literal["first", "second", "tie"]


def version_object(info: VersionInfo, prefix: str) -> dict[str, Any]:
    """One version in OpenAI's model shape, the registry's view of it under `halops`."""
    return {
        "id": f"{prefix}-v{info.version}",
        "object": "model",
        "created": int(info.created),
        "owned_by": OWNER,
        "halops": {
            "version": info.version,
            "state": info.state,
            "source": info.source,
            "eval": {"overall": info.eval["overall"], "by_category": info.eval["by_category"]}
            if info.eval
            else None,
            "size": info.size,
            "sha256": info.sha256,
            "reasons": info.reasons,
        },
    }


def parse_version(text: str, prefix: str) -> int:
    """`3`, `v3` or `halops-v3` (the id /v1/models lists) → 3."""
    for lead in (f"{prefix}-v", "v", ""):
        rest = text[len(lead) :] if text.startswith(lead) else None
        if rest is not None and rest.isdigit():
            return int(rest)
    raise UnknownVersionError(f"no model version {text!r}")


def router(settings: Any, model_name: str) -> APIRouter:
    """The routes; `model_name` is the agent's chat model id, listed first so chat clients that
    pick the first model keep talking to the agent."""
    api = APIRouter()

    def registry() -> Registry:
        return Registry.for_settings(settings)

    def activation_body(done: Any) -> dict[str, Any]:
        # reloaded: the pid of the `halops up` asked to reload; null under systemd, where
        # halops-llama.service must be restarted to serve it.
        return {**version_object(done.info, model_name), "reloaded": done.reloaded_pid}

    @api.get("/v1/models")
    def models() -> dict[str, Any]:
        data: list[dict[str, Any]] = [{"id": model_name, "object": "model", "created": 0, "owned_by": OWNER}]
        try:
            with registry() as reg:
                data += [version_object(i, model_name) for i in reg.versions()]
        except (HalopsError, OSError) as exc:
            # The chat entry must still list (the watchdog's self-check asks this endpoint).
            log.warning("model registry unreadable, listing the agent model only: %s", exc)
        return {"object": "list", "data": data}

    @api.get("/v1/halops/models/history")
    def history() -> dict[str, Any]:
        with registry() as reg:
            events = reg.history()
        return {
            "object": "list",
            "data": [
                {
                    "id": e.id,
                    "at": e.at,
                    "version": e.version,
                    "previous": e.previous,
                    "actor": e.actor,
                    "action": e.action,
                    "reason": e.reason,
                    "verdict": e.verdict,
                }
                for e in events
            ],
        }

    @api.get("/v1/halops/models/compare")
    def compare(a: str, b: str) -> dict[str, Any]:
        va, vb = parse_version(a, model_name), parse_version(b, model_name)
        with registry() as reg:
            reg.show(va), reg.show(vb)
            result = compare_reports(
                va, load_report(reg.reports_dir, va), vb, load_report(reg.reports_dir, vb)
            )
        return result.as_dict()

    @api.get("/v1/halops/models/pairs")
    def pairs(judged: bool | None = None) -> dict[str, Any]:
        with registry() as reg:
            return {"object": "list", "data": list_pairs(reg.db, judged)}

    @api.post("/v1/halops/models/pairs/{pair_id}/judge")
    def judge_pair(pair_id: str, body: JudgeBody) -> dict[str, Any]:
        with registry() as reg:
            return judge(reg.db, pair_id, body.winner)

    @api.post("/v1/halops/models/rollback")
    def rollback(body: RollbackBody | None = None) -> dict[str, Any]:
        body = body or RollbackBody()
        with registry() as reg:
            return activation_body(reg.rollback(reason=body.reason, actor=ACTOR))

    @api.get("/v1/halops/models/{version}")
    def show(version: str) -> dict[str, Any]:
        with registry() as reg:
            return version_object(reg.show(parse_version(version, model_name)), model_name)

    @api.post("/v1/halops/models/{version}/activate")
    def activate(version: str, body: ActivateBody | None = None) -> dict[str, Any]:
        body = body or ActivateBody()
        with registry() as reg:
            done = reg.activate(
                parse_version(version, model_name), force=body.force, reason=body.reason, actor=ACTOR
            )
        return activation_body(done)

    return api
