"""Real embeddings (the bundled all-MiniLM-L6-v2) with real Chroma: quality, compatibility, CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rag.config import RagSettings
from rag.embedder import embedding_id, make_embedder, resolve_model
from rag.errors import EmbedderError, StoreMismatchError
from rag.evaluate import default_evalset, evaluate, load_evalset
from rag.ingest import ingest
from rag.onnx_export import INT8_FILE, META_FILE, cache_dir
from rag.retriever import Retriever, bundled_runbooks
from rag.store import ChunkStore
from tests.rag.helpers import share_onnx_cache, write
from tests.support.procs import free_port, port_open, stop, wait_for

pytestmark = pytest.mark.integration

SENTENCES = [
    "disk",
    "The RAID array is degraded and /dev/sdb shows reallocated sectors.",
    "Renew the TLS certificate before it expires. " * 30,  # longer than max_seq_length
]


@pytest.mark.parametrize("backend", ["onnx-int8", "onnx", "sentence-transformers"])
def test_recall_on_the_shipped_runbooks(backend, real_embedders, model_data_dir):
    settings = RagSettings(backend=backend)
    embedder = real_embedders[backend]
    store = ChunkStore.open(settings, model_data_dir, embedder.embedding_id, embedder.dim, ephemeral=True)
    try:
        report = ingest([bundled_runbooks()], store, embedder, settings)
        assert report.skipped == [] and report.chunks_embedded > 50
        retriever = Retriever(settings, model_data_dir, embedder=embedder, store=store)
        result = evaluate(lambda q, k: retriever.retrieve(q, k), load_evalset(default_evalset()), k=5)
    finally:
        store.drop()
    assert result.recall_at_k >= 0.9, result.misses
    assert result.recall_at_1 >= 0.8, result.misses
    assert result.negatives_rejected == result.negatives, "off-topic questions must return nothing"


def test_onnx_backends_match_the_reference(real_embedders):
    ref = real_embedders["sentence-transformers"].embed(SENTENCES)
    fp32 = real_embedders["onnx"].embed(SENTENCES)
    int8 = real_embedders["onnx-int8"].embed(SENTENCES)
    assert ref.shape == fp32.shape == int8.shape == (3, 384)
    assert np.allclose(np.linalg.norm(int8, axis=1), 1, atol=1e-4)
    assert (ref * fp32).sum(axis=1).min() > 0.9999
    assert (ref * int8).sum(axis=1).min() > 0.95
    # Batching and padding must not change a text's vector.
    alone = real_embedders["onnx"].embed([SENTENCES[1]])[0]
    assert float(alone @ fp32[1]) > 0.9999


def test_empty_batch(real_embedders):
    assert real_embedders["onnx-int8"].embed([]).shape == (0, 384)


def test_embedding_ids_separate_int8_from_float():
    spec = resolve_model("all-MiniLM-L6-v2")
    assert embedding_id(spec, "onnx") == embedding_id(spec, "sentence-transformers")
    assert embedding_id(spec, "onnx-int8") != embedding_id(spec, "onnx")


def test_int8_store_is_refused_by_a_float_backend_and_float_stores_are_shared(tmp_path, real_embedders):
    docs = write(tmp_path / "docs" / "a.md", "# Disks\nReplace the failed disk.\n").parent
    settings = RagSettings()
    int8, fp32, ref = (real_embedders[b] for b in ("onnx-int8", "onnx", "sentence-transformers"))
    ingest([docs], ChunkStore.open(settings, tmp_path / "a", int8.embedding_id, int8.dim), int8, settings)
    with pytest.raises(StoreMismatchError):
        ChunkStore.open(settings, tmp_path / "a", fp32.embedding_id, fp32.dim).count()
    # A store built by the reference backend is served by the ONNX float backend as is.
    ingest([docs], ChunkStore.open(settings, tmp_path / "b", ref.embedding_id, ref.dim), ref, settings)
    store = ChunkStore.open(settings, tmp_path / "b", fp32.embedding_id, fp32.dim)
    hits = Retriever(settings, tmp_path, embedder=fp32, store=store).retrieve("failed disk replacement")
    assert hits and hits[0].score > 0.5


def test_onnx_cache_is_reused(model_data_dir):
    spec = resolve_model("all-MiniLM-L6-v2")
    directory = cache_dir(spec, RagSettings().onnx_cache(model_data_dir))
    meta = json.loads((directory / META_FILE).read_text())
    assert meta["min_cosine_vs_torch"][INT8_FILE] >= 0.95
    started = time.monotonic()
    make_embedder(RagSettings(backend="onnx-int8"), model_data_dir)
    assert time.monotonic() - started < 5, "a cached model loads without exporting again"


def test_corrupt_onnx_cache_is_an_embedder_error(tmp_path, model_data_dir):
    spec = resolve_model("all-MiniLM-L6-v2")
    directory = cache_dir(spec, RagSettings().onnx_cache(tmp_path))
    write(directory / INT8_FILE, b"not an onnx model")
    with pytest.raises(EmbedderError):
        make_embedder(RagSettings(backend="onnx-int8"), tmp_path)


def test_unknown_model_is_an_embedder_error_not_a_download(tmp_path):
    with pytest.raises(EmbedderError):
        make_embedder(RagSettings(embedding_model="sentence-transformers/all-mpnet-base-v2"), tmp_path)
    with pytest.raises(EmbedderError):
        make_embedder(RagSettings(embedding_model=str(tmp_path)), tmp_path)  # no config.json


def test_local_model_directory_is_accepted(tmp_path, model_data_dir):
    spec = resolve_model("all-MiniLM-L6-v2")
    local = tmp_path / "my-model"
    shutil.copytree(spec.path, local)
    embedder = make_embedder(
        RagSettings(embedding_model=str(local), backend="sentence-transformers"), model_data_dir
    )
    assert embedder.embedding_id == "local/my-model|fp32"
    assert embedder.embed(["disk"]).shape == (1, 384)


# --- CLI ----------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path, monkeypatch, model_data_dir) -> Path:
    data = tmp_path / "data"
    share_onnx_cache(model_data_dir, data)
    monkeypatch.setenv("HALOPS_DATA_DIR", str(data))
    return data


def run_cli(*args: str):
    from agent.cli.main import app

    return CliRunner().invoke(app, list(args))


def test_cli_ingest_query_eval(cli_env):
    result = run_cli("rag", "ingest")
    assert result.exit_code == 0, result.output
    assert "chunk(s) embedded" in result.output and "skipped" not in result.output
    again = run_cli("rag", "ingest")
    assert " 0 chunk(s) embedded" in again.output and "0 changed file(s)" in again.output

    result = run_cli("rag", "query", "the GPU fell off the bus", "-k", "3", "--json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert 1 <= len(hits) <= 3 and set(hits[0]) == {"text", "source", "heading", "score"}
    assert hits[0]["source"].endswith("gpus.md") and "Xid" in hits[0]["heading"]

    result = run_cli("rag", "query", "best banana bread recipe", "--json")
    assert json.loads(result.stdout) == []

    result = run_cli("rag", "query", "renew certbot certificate")
    assert "certificates.md" in result.output

    result = run_cli("rag", "eval", "--json")
    report = json.loads(result.stdout)
    assert report["recall@5"] >= 0.9 and report["questions"] >= 40
    result = run_cli("rag", "eval")
    assert "recall@1" in result.output and "MRR" in result.output

    result = run_cli("rag", "info")
    assert "int8" in result.output and "chunks" in result.output


def test_cli_refuses_a_store_from_another_backend(cli_env, monkeypatch):
    assert run_cli("rag", "ingest").exit_code == 0
    monkeypatch.setenv("HALOPS_RAG__BACKEND", "onnx")
    result = run_cli("rag", "query", "disk")
    assert isinstance(result.exception, StoreMismatchError)
    from agent.cli.main import main

    assert main(["rag", "query", "disk"]) == 1  # printed as an error, no traceback


def test_cli_ingest_reports_skipped_files(cli_env, tmp_path):
    docs = tmp_path / "docs"
    write(docs / "ok.md", "# OK\nfine\n")
    write(docs / "bin.md", b"\x00\x01\x02")
    write(docs / "empty.md", "")
    result = run_cli("rag", "ingest", str(docs), "-v")
    assert result.exit_code == 0, result.output
    assert "skipped 2 file(s)" in result.output and "bin.md: binary" in result.output


def test_console_script_end_to_end(cli_env):
    exe = Path(sys.executable).with_name("halops")
    if not exe.exists():
        pytest.skip("halops console script not installed in this environment")
    out = subprocess.run([str(exe), "rag", "ingest"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    out = subprocess.run(
        [str(exe), "rag", "query", "ipmitool power cycle", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["source"].endswith("bmc-ipmi.md")


# --- Chroma server ------------------------------------------------------------------------------


@pytest.fixture
def chroma_server(tmp_path):
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        pytest.skip("chroma server binary not installed")
    port = free_port()
    log = (tmp_path / "chroma.log").open("wb")
    proc = subprocess.Popen(
        [str(exe), "run", "--path", str(tmp_path / "srv"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        assert wait_for(lambda: port_open(port) or proc.poll() is not None, 60, 0.1)
        assert proc.poll() is None, (tmp_path / "chroma.log").read_text()
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
        log.close()


def test_chroma_server_via_chroma_url(chroma_server, tmp_path, real_embedders):
    settings = RagSettings(chroma_url=chroma_server)
    embedder = real_embedders["onnx-int8"]
    store = ChunkStore.open(settings, tmp_path, embedder.embedding_id, embedder.dim)
    report = ingest([bundled_runbooks()], store, embedder, settings)
    assert report.chunks_embedded > 50 and not (tmp_path / "chroma").exists()
    hits = Retriever(settings, tmp_path, embedder=embedder, store=store).retrieve(
        "chronyc says not synchronised"
    )
    assert hits[0].source.endswith("time-sync.md")
    assert ingest([bundled_runbooks()], store, embedder, settings).chunks_embedded == 0
    other = real_embedders["onnx"]
    with pytest.raises(StoreMismatchError):
        ChunkStore.open(settings, tmp_path, other.embedding_id, other.dim).count()
