"""`/v1/files`: upload a training file (OpenAI's shape, purpose `fine-tune`), list, show, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from agent.control.files import PURPOSE, FileStore, UploadError, parse_multipart
from agent.daemon import Daemon


def file_store(daemon: Daemon) -> FileStore:
    return FileStore(daemon.settings.data_dir / "files")


def router(daemon: Daemon) -> APIRouter:
    files = file_store(daemon)
    settings: Any = daemon.settings  # the composed Settings: it has the data and safety sections
    api = APIRouter()

    @api.post("/v1/files")
    async def upload(request: Request) -> dict[str, Any]:
        body = await request.body()
        fields = parse_multipart(request.headers.get("content-type", ""), body)
        purpose = fields.get("purpose", (None, b""))[1].decode(errors="replace").strip()
        if purpose != PURPOSE:
            raise UploadError(f"purpose must be {PURPOSE!r}, not {purpose!r}", "invalid_request")
        if "file" not in fields:
            raise UploadError("no `file` field in the upload", "invalid_request")
        filename, raw = fields["file"]
        from trainer.data.secretguard import SecretGuard

        guard = SecretGuard(settings.data.known_secrets_file, settings.safety.scrub_min_known_secret_length)
        name = (filename or "upload.jsonl").rsplit("/", 1)[-1]
        # Parsing and scrubbing a large dataset is CPU work: off the event loop.
        return await run_in_threadpool(files.add, name, raw, guard, daemon.scrub)

    @api.get("/v1/files")
    def list_files(purpose: str | None = None) -> dict[str, Any]:
        return {"object": "list", "data": files.list(purpose), "has_more": False}

    @api.get("/v1/files/{file_id}")
    def get_file(file_id: str) -> dict[str, Any]:
        return files.get(file_id)

    @api.delete("/v1/files/{file_id}")
    def delete_file(file_id: str) -> dict[str, Any]:
        return files.delete(file_id)

    return api
