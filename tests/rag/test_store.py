"""The store seen from a long-running reader while another process ingests."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rag.config import RagSettings
from rag.errors import StoreBusyError
from rag.ingest import ingest
from rag.retriever import Retriever
from rag.store import ChunkStore
from tests.rag.helpers import FakeEmbedder, write

REPO = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from rag.config import RagSettings
    from rag.ingest import ingest
    from rag.store import ChunkStore
    from tests.rag.helpers import FakeEmbedder

    data, docs = Path(sys.argv[1]), Path(sys.argv[2])
    settings = RagSettings()
    embedder = FakeEmbedder()
    store = ChunkStore.open(settings, data, embedder.embedding_id, embedder.dim)
    report = ingest([docs], store, embedder, settings)
    print(report.chunks_embedded, report.chunks_removed)
    """
)


def run_writer(data: Path, docs: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-c", WRITER, str(data), str(docs)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.integration
def test_reader_sees_another_process_ingest_without_restart(tmp_path):
    data, docs = tmp_path / "data", tmp_path / "docs"
    write(docs / "disks.md", "# Disks\nreplace the failed disk with mdadm\n")
    settings = RagSettings()
    embedder = FakeEmbedder()
    store = ChunkStore.open(settings, data, embedder.embedding_id, embedder.dim)
    ingest([docs], store, embedder, settings)
    reader = Retriever(settings, data, embedder=embedder, store=store)
    assert reader.retrieve("mdadm disk", 3, min_score=-1)[0].source.endswith("disks.md")

    # Another process (`halops rag ingest`) deletes one document and adds another.
    (docs / "disks.md").unlink()
    write(docs / "gpus.md", "# GPUs\nxid 79 means the gpu fell off the bus\n")
    assert run_writer(data, docs) == "1 1"

    hits = reader.retrieve("mdadm disk gpu xid", 3, min_score=-1)
    assert [Path(h.source).name for h in hits] == ["gpus.md"], "stale chunks served after ingest"
    assert store.count() == 1


@pytest.mark.unit
def test_nothing_changed_means_no_reopen(tmp_path):
    docs = tmp_path / "docs"
    write(docs / "a.md", "# A\nalpha\n")
    settings = RagSettings()
    embedder = FakeEmbedder()
    store = ChunkStore.open(settings, tmp_path / "data", embedder.embedding_id, embedder.dim)
    ingest([docs], store, embedder, settings)
    client = store.client
    ingest([docs], store, embedder, settings)  # unchanged: writes nothing, stamps nothing
    store.count()
    assert store.client is client


@pytest.mark.unit
def test_second_concurrent_ingest_is_refused(tmp_path):
    docs = tmp_path / "docs"
    write(docs / "a.md", "# A\nalpha\n")
    settings = RagSettings()
    embedder = FakeEmbedder()
    first = ChunkStore.open(settings, tmp_path / "data", embedder.embedding_id, embedder.dim)
    second = ChunkStore.open(settings, tmp_path / "data", embedder.embedding_id, embedder.dim)
    with first.writer():
        with pytest.raises(StoreBusyError):
            ingest([docs], second, embedder, settings)
    assert ingest([docs], second, embedder, settings).chunks_embedded == 1  # free again
