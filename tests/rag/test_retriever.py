"""The agent's API: retrieve(query, k) with the relevance threshold applied."""

from __future__ import annotations

import pytest

from rag.config import RagSettings
from rag.ingest import ingest
from rag.retriever import Retriever, bundled_runbooks, open_retriever
from rag.store import ChunkStore, Hit
from tests.rag.helpers import write

pytestmark = pytest.mark.unit


@pytest.fixture
def retriever(tmp_path, store, fake_embedder, settings) -> Retriever:
    docs = tmp_path / "docs"
    write(docs / "disks.md", "# Disks\n## SMART\nreallocated sectors smartctl disk health\n")
    write(docs / "gpus.md", "# GPUs\n## Xid\nxid fell off the bus gpu power cycle\n")
    write(docs / "certs.md", "# Certificates\n## Expiry\ncertificate expiry openssl renew\n")
    ingest([docs], store, fake_embedder, settings)
    return Retriever(settings, tmp_path, embedder=fake_embedder, store=store)


def test_best_match_first_with_fields(retriever):
    hits = retriever.retrieve("smartctl reallocated sectors", 3, min_score=-1)
    assert len(hits) == 3 and isinstance(hits[0], Hit)
    assert hits[0].heading == "Disks > SMART" and hits[0].source.endswith("disks.md")
    assert "reallocated" in hits[0].text
    assert hits[0].score > hits[1].score >= hits[2].score
    assert set(hits[0].to_dict()) == {"text", "source", "heading", "score"}


def test_k_limits_and_defaults_to_top_k(retriever):
    assert len(retriever.retrieve("disk", 1, min_score=-1)) == 1
    retriever.settings = RagSettings(top_k=2, min_score=-1)
    assert len(retriever.retrieve("disk")) == 2


def test_k_larger_than_the_store_returns_what_there_is(retriever):
    assert len(retriever.retrieve("disk", 50, min_score=-1)) == 3


def test_threshold_drops_unrelated_chunks(retriever):
    hits = retriever.retrieve("smartctl reallocated sectors", 3, min_score=0.5)
    assert [h.heading for h in hits] == ["Disks > SMART"]
    assert retriever.retrieve("banana bread recipe", 3) == []


def test_empty_query_returns_nothing(retriever, fake_embedder):
    calls = fake_embedder.calls
    assert retriever.retrieve("   ", 3) == []
    assert fake_embedder.calls == calls


def test_missing_collection_returns_nothing(tmp_path, settings, fake_embedder):
    store = ChunkStore.open(settings, tmp_path / "empty", fake_embedder.embedding_id, fake_embedder.dim)
    assert Retriever(settings, tmp_path, embedder=fake_embedder, store=store).retrieve("disk") == []
    assert store.count() == 0


def test_open_retriever_takes_full_settings_and_loads_nothing(tmp_path):
    from agent.cli.settings import Settings

    settings = Settings(rag=RagSettings(top_k=3))
    r = open_retriever(settings)
    assert r.data_dir == settings.data_dir and r.settings.top_k == 3
    assert r._embedder is None and r._store is None


def test_bundled_runbooks_exist():
    files = sorted(p.name for p in bundled_runbooks().glob("*.md"))
    assert len(files) >= 10 and "gpus.md" in files and "bmc-ipmi.md" in files
