"""`halops llm serve | chat`: run the model server, ask it something."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agent.ports import ensure_free
from halops.cli import ConfigOpt, console, fail, load
from halops.errors import LLMError
from halops.files import need_optional
from halops.llm.client import LLMClient
from halops.llm.models import resolve_model
from halops.llm.server import exec_server, server_argv

app = typer.Typer(help="The model server: serve a GGUF, chat with it.", no_args_is_help=True)


@app.command()
def serve(
    ctx: typer.Context,
    port: Annotated[int | None, typer.Option(help="Port (default: server.port).")] = None,
    model: Annotated[
        Path | None,
        typer.Option(help="GGUF to serve (default: <data_dir>/models/current.gguf)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the server command instead of running it.")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Run the OpenAI-compatible model server on 127.0.0.1 (replaces this process)."""
    need_optional(model, "model")
    settings = load(ctx, config)
    server = settings.server
    if port is not None:
        server = server.model_copy(update={"port": port})
    gguf = resolve_model(settings.models_dir, model or server.model_path)
    argv = server_argv(server, gguf, alias=settings.llm.model)
    if dry_run:
        console.print(" ".join(argv), highlight=False, soft_wrap=True)
        return
    ensure_free(server.host, server.port, "model server (server.port)")
    console.print(
        f"serving {gguf} ({gguf.resolve()}) on http://{server.host}:{server.port}/v1",
        highlight=False,
        soft_wrap=True,
    )
    exec_server(argv)


@app.command()
def chat(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="What to ask.")],
    url: Annotated[str | None, typer.Option(help="Base URL of the server (default: llm.base_url).")] = None,
    system: Annotated[str | None, typer.Option(help="Optional system prompt.")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Cap on generated tokens.")] = None,
    stream: Annotated[bool, typer.Option(help="Print tokens as they arrive.")] = True,
    config: ConfigOpt = None,
) -> None:
    """Ask a running model server one question and print the answer."""
    settings = load(ctx, config)
    llm = settings.llm if url is None else settings.llm.model_copy(update={"base_url": url})
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": question}
    ]
    try:
        with LLMClient(llm) as client:
            if stream:
                for delta in client.stream_chat(messages, max_tokens=max_tokens):
                    console.out(delta, end="", highlight=False)
                console.out("")
            else:
                console.out(client.chat(messages, max_tokens=max_tokens).content, highlight=False)
    except LLMError as exc:
        fail(str(exc))
