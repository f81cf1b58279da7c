"""`halops rag ingest|query|eval|prepare|info`.

Heavy imports (chromadb, onnxruntime, torch) happen inside the commands: `halops --help` and
every other sub-command must not pay for them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from halops.cli import ConfigOpt, console, err_console, fail, load
from halops.files import need, need_optional

app = typer.Typer(help="Runbook retrieval: ingest, query, eval.", no_args_is_help=True)


class _RichProgress:
    """The ingest progress protocol on a rich progress bar (stderr, so --json stays clean)."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.task = None

    def start(self, stage: str, total: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, visible=False)
        self.task = self.progress.add_task(stage, total=total)

    def advance(self, n: int = 1) -> None:
        if self.task is not None:
            self.progress.advance(self.task, n)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:>10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )


def _open(settings):
    """Embedder and store for the configured model, backend and collection."""
    from rag.embedder import make_embedder
    from rag.store import ChunkStore

    with err_console.status("loading the embedding model"):
        embedder = make_embedder(settings.rag, settings.data_dir)
    store = ChunkStore.open(settings.rag, settings.data_dir, embedder.embedding_id, embedder.dim)
    return embedder, store


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files or directories (Markdown, reStructuredText, text, HTML, Claude skill "
            "folders). Default: rag.sources plus the shipped runbooks.",
            show_default=False,
        ),
    ] = None,
    reindex: Annotated[
        bool, typer.Option("--reindex", help="Drop the collection and embed everything again.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List skipped files.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Index documents; unchanged chunks are kept, those of changed or deleted files removed."""
    from rag.ingest import ingest as run_ingest
    from rag.retriever import bundled_runbooks

    for path in paths or []:
        need(path, "source", "any")  # a typo must not look like "nothing changed"
    settings = load(ctx, config)
    roots = list(paths or [])
    if not roots:
        roots = list(settings.rag.sources)
        if settings.rag.include_bundled_runbooks:
            roots.append(bundled_runbooks())
    if not roots:
        fail("nothing to ingest: give a PATH, set rag.sources, or rag.include_bundled_runbooks")
    embedder, store = _open(settings)
    with _progress() as bar:
        report = run_ingest(
            roots, store, embedder, settings.rag, reindex=reindex, progress=_RichProgress(bar)
        )
    rate = f", {report.chunks_per_second:.0f} chunks/s" if report.chunks_embedded else ""
    console.print(
        f"[bold]ingested[/] {report.files_changed} changed file(s), {report.files_unchanged} "
        f"unchanged, {report.files_removed} removed: {report.chunks_embedded} chunk(s) embedded, "
        f"{report.chunks_kept} kept, {report.chunks_removed} deleted in {report.seconds:.1f} s{rate}",
        highlight=False,
    )
    if report.skipped:
        counts = ", ".join(f"{reason} {n}" for reason, n in sorted(report.skipped_by_reason.items()))
        console.print(f"[yellow]skipped[/] {len(report.skipped)} file(s): {counts}", highlight=False)
        if verbose:
            for item in report.skipped:
                console.print(f"  {item.path}: {item.reason}", highlight=False, soft_wrap=True)
        else:
            console.print("  (--verbose lists them)")
    console.print(
        f"store: {store.where} (collection {store.name}, {store.count()} chunks, {embedder.embedding_id})",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def query(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="The question or search text.")],
    k: Annotated[
        int | None,
        typer.Option("-k", "--top-k", min=1, max=100, help="Chunks to return (default rag.top_k)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list of {text, source, heading, score}.")
    ] = False,
    min_score: Annotated[
        float | None,
        typer.Option("--min-score", help="Relevance threshold (default rag.min_score)."),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Show the chunks most relevant to TEXT, best first."""
    from rag.retriever import Retriever

    settings = load(ctx, config)
    embedder, store = _open(settings)
    retriever = Retriever(settings.rag, settings.data_dir, embedder=embedder, store=store)
    hits = retriever.retrieve(text, k, min_score=min_score)
    if not hits and store.count() == 0:
        err_console.print("the store is empty: run `halops rag ingest` first", highlight=False)
    if as_json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        console.print("no relevant chunk (nothing above the relevance threshold)")
        return
    for i, hit in enumerate(hits, 1):
        console.print(
            f"[bold]{i}. {hit.heading or Path(hit.source).name}[/]  [dim]score {hit.score:.3f}  "
            f"{hit.source}[/]",
            highlight=False,
            soft_wrap=True,
        )
        console.print(hit.text, markup=False, highlight=False, soft_wrap=True)
        console.print()


@app.command("eval")
def eval_cmd(
    ctx: typer.Context,
    evalset: Annotated[
        Path | None,
        typer.Option("--evalset", help="Labelled questions (YAML). Default: the shipped set."),
    ] = None,
    docs: Annotated[
        Path | None,
        typer.Option(
            "--docs", help="Folder the expected sources are relative to. Default: the shipped runbooks."
        ),
    ] = None,
    use_store: Annotated[
        bool,
        typer.Option(
            "--store", help="Query the configured store instead of a fresh in-memory index of --docs."
        ),
    ] = False,
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="Cut-off for recall@k and MRR.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every miss.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Retrieval quality on a labelled set: recall@1, recall@k, MRR, off-topic rejection."""
    from rag.evaluate import default_evalset, evaluate, load_evalset
    from rag.ingest import ingest as run_ingest
    from rag.retriever import Retriever, bundled_runbooks
    from rag.store import ChunkStore

    need_optional(evalset, "evaluation set")
    settings = load(ctx, config)
    labelled = load_evalset(evalset or default_evalset())
    embedder, store = _open(settings)
    if not use_store:
        # A private in-memory index: the score then measures model + chunking, not whatever
        # else the operator's store holds.
        store = ChunkStore.open(
            settings.rag, settings.data_dir, embedder.embedding_id, embedder.dim, ephemeral=True
        )
        with _progress() as bar:
            run_ingest(
                [docs or bundled_runbooks()], store, embedder, settings.rag, progress=_RichProgress(bar)
            )
    retriever = Retriever(settings.rag, settings.data_dir, embedder=embedder, store=store)
    try:
        with _progress() as bar:
            task = bar.add_task("questions", total=len(labelled.questions) + len(labelled.negatives))
            report = evaluate(lambda q, n: retriever.retrieve(q, n), labelled, k, lambda: bar.advance(task))
    finally:
        if not use_store:
            store.drop()
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
        return
    table = Table(title=f"retrieval on {report.n} labelled questions ({embedder.backend})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("recall@1", f"{report.recall_at_1:.3f}")
    table.add_row(f"recall@{k}", f"{report.recall_at_k:.3f}")
    table.add_row(f"MRR@{k}", f"{report.mrr:.3f}")
    table.add_row("off-topic rejected", f"{report.negatives_rejected}/{report.negatives}")
    console.print(table)
    misses = report.misses if verbose else [m for m in report.misses if m.rank is None]
    for miss in misses:
        where = f"rank {miss.rank}" if miss.rank else f"not in top {k}"
        console.print(
            f"  {where}: {miss.question!r} -> expected {miss.expected}, got {', '.join(miss.got) or '-'}",
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def prepare(ctx: typer.Context, config: ConfigOpt = None) -> None:
    """Load the embedding model now (for ONNX backends: export it), e.g. at install time."""
    from rag.embedder import make_embedder

    settings = load(ctx, config)
    with err_console.status(f"preparing the {settings.rag.backend} backend"):
        embedder = make_embedder(settings.rag, settings.data_dir)
        embedder.embed(["warm-up"])
    console.print(
        f"ready: {embedder.embedding_id} ({embedder.backend}, {embedder.dim} dimensions)", highlight=False
    )
    if settings.rag.backend != "sentence-transformers":
        console.print(f"ONNX cache: {settings.rag.onnx_cache(settings.data_dir)}", highlight=False)


@app.command()
def info(ctx: typer.Context, config: ConfigOpt = None) -> None:
    """Where the store is, what it holds and which embeddings built it."""
    from rag.store import META_EMBEDDING, not_found_error, open_client

    settings = load(ctx, config)
    client = open_client(settings.rag, settings.data_dir)
    where = settings.rag.chroma_url or str(settings.rag.store_path(settings.data_dir))
    try:
        col = client.get_collection(settings.rag.collection, embedding_function=None)
    except not_found_error():
        console.print(f"store: {where}: no collection {settings.rag.collection!r} yet", highlight=False)
        return
    meta = col.metadata or {}
    console.print(
        f"store: {where}\ncollection: {col.name} ({col.count()} chunks)\n"
        f"built with: {meta.get(META_EMBEDDING, 'unknown')}\n"
        f"configured: {settings.rag.embedding_model} via {settings.rag.backend}",
        highlight=False,
        soft_wrap=True,
    )
