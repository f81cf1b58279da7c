"""`/v1/fine_tuning/jobs` (OpenAI's shape) and the console's extras under `/v1/halops/`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from agent.control import events, recipes
from agent.control.files_routes import file_store
from agent.control.jobs import JobCreate, Jobs
from agent.daemon import Daemon
from safety.scrub import scrub as scrub_rules


class RecipeCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipe: str | None = Field(None, description="Recipe name; empty: the default recipe.")
    overrides: dict[str, Any] = Field(default_factory=dict)


def router(daemon: Daemon, jobs: Jobs | None = None) -> APIRouter:
    settings: Any = daemon.settings  # the composed Settings: it has the trainer section
    jobs = jobs or Jobs(settings, file_store(daemon))
    daemon.add_close_hook(jobs.launcher.close)
    api = APIRouter()

    def scrub(text: str) -> str:
        # Training logs can quote their data: the credential rules, then the daemon's known secrets.
        return daemon.scrub(scrub_rules(text).text)

    @api.post("/v1/fine_tuning/jobs")
    def create(body: JobCreate) -> dict[str, Any]:
        return jobs.object(jobs.create(body))

    @api.get("/v1/fine_tuning/jobs")
    def list_jobs(after: str | None = None, limit: int = Query(20, ge=1, le=100)) -> dict[str, Any]:
        return jobs.list(after, limit)

    @api.get("/v1/fine_tuning/jobs/{job_id}")
    def get(job_id: str) -> dict[str, Any]:
        return jobs.object(jobs.get(job_id))

    @api.post("/v1/fine_tuning/jobs/{job_id}/cancel")
    def cancel(job_id: str) -> dict[str, Any]:
        return jobs.object(jobs.cancel(job_id))

    @api.get("/v1/fine_tuning/jobs/{job_id}/events")
    def list_events(
        job_id: str, after: str | None = None, limit: int = Query(20, ge=1, le=1000)
    ) -> dict[str, Any]:
        job = jobs.get(job_id)
        return events.page(list(reversed(events.events(job, scrub))), after, limit)

    @api.get("/v1/fine_tuning/jobs/{job_id}/checkpoints")
    def checkpoints(
        job_id: str, after: str | None = None, limit: int = Query(10, ge=1, le=100)
    ) -> dict[str, Any]:
        return events.page(events.checkpoints(jobs.get(job_id)), after, limit)

    @api.get("/v1/halops/jobs/{job_id}/stream")
    def stream(job_id: str) -> StreamingResponse:
        job = jobs.get(job_id)  # an unknown id is a 404 before the stream starts
        return StreamingResponse(
            events.stream(lambda: jobs.get(job.id), scrub),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @api.get("/v1/halops/recipes")
    def list_recipes() -> dict[str, Any]:
        known = recipes.catalog(settings.trainer.default_recipe)
        return {"object": "list", "data": [recipes.describe(path) for path in known.values()]}

    @api.post("/v1/halops/recipes/validate")
    def validate(body: RecipeCheck) -> dict[str, Any]:
        path = recipes.resolve(body.recipe, settings.trainer.default_recipe)
        overrides = recipes.overrides_of(body.overrides)
        _, problems = recipes.problems(path, overrides, None, check_dataset=False)
        return {"ok": not problems, "recipe": path.stem, "problems": problems}

    return api
