"""GET /v1/halops/status: the same JSON as `halops status --json`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from agent.control import status
from agent.daemon import Daemon


def router(daemon: Daemon) -> APIRouter:
    api = APIRouter()

    @api.get("/v1/halops/status")
    def get_status() -> dict[str, Any]:
        return status.collect(daemon.settings)

    return api
