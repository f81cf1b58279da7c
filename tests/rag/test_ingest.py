"""Incremental ingest into a real (local, persistent) Chroma store with a fake embedder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag import loaders
from rag.config import RagSettings
from rag.errors import StoreMismatchError
from rag.ingest import EMPTY, ingest
from rag.retriever import Retriever
from rag.store import ChunkStore
from tests.rag.helpers import FakeEmbedder, write

pytestmark = pytest.mark.unit

DISKS = """# Disks
## SMART
Run smartctl -a on the disk and read the reallocated sector count.
## RAID
Replace the failed member with mdadm and watch the rebuild in mdstat.
"""
GPUS = """# GPUs
## Xid 79
The GPU fell off the bus: power cycle the node through the BMC.
"""


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    write(root / "disks.md", DISKS)
    write(root / "gpus.md", GPUS)
    return root


def sources(store: ChunkStore) -> dict[str, int]:
    return {Path(s).name: len(c) for s, c in store.snapshot().items()}


def test_first_ingest_embeds_every_chunk(docs, store, fake_embedder, settings):
    report = ingest([docs], store, fake_embedder, settings)
    assert report.files_changed == 2 and report.files_unchanged == 0
    assert report.chunks_embedded == 3 == store.count() == fake_embedder.embedded
    assert sources(store) == {"disks.md": 2, "gpus.md": 1}
    meta = store.collection(create=False).get(include=["metadatas"])["metadatas"]
    assert {m["heading"] for m in meta} == {"Disks > SMART", "Disks > RAID", "GPUs > Xid 79"}
    assert all(len(m["content_hash"]) == 64 and m["source"].startswith(str(docs)) for m in meta)


def test_reingest_of_unchanged_docs_embeds_nothing(docs, store, fake_embedder, settings):
    ingest([docs], store, fake_embedder, settings)
    embedded = fake_embedder.embedded
    report = ingest([docs], store, fake_embedder, settings)
    assert fake_embedder.embedded == embedded
    assert report.chunks_embedded == 0 and report.chunks_removed == 0
    assert report.files_unchanged == 2 and report.chunks_kept == 3


def test_changed_file_reembeds_only_changed_chunks_and_drops_old_ones(docs, store, fake_embedder, settings):
    ingest([docs], store, fake_embedder, settings)
    before = set(store.snapshot()[str(docs / "disks.md")])
    embedded = fake_embedder.embedded
    write(docs / "disks.md", DISKS.replace("watch the rebuild", "follow the resync"))
    report = ingest([docs], store, fake_embedder, settings)
    assert fake_embedder.embedded - embedded == 1 == report.chunks_embedded
    assert report.chunks_removed == 1 and report.chunks_kept == 2  # SMART kept, gpus.md unchanged
    after = set(store.snapshot()[str(docs / "disks.md")])
    assert len(after) == 2 and len(before & after) == 1
    hits = Retriever(settings, Path("/unused"), embedder=fake_embedder, store=store).retrieve(
        "follow the resync", 5, min_score=-1
    )
    assert "follow the resync" in hits[0].text
    assert not any("watch the rebuild" in h.text for h in hits)


def test_deleted_file_chunks_are_removed(docs, store, fake_embedder, settings):
    ingest([docs], store, fake_embedder, settings)
    (docs / "gpus.md").unlink()
    report = ingest([docs], store, fake_embedder, settings)
    assert report.files_removed == 1 and report.chunks_removed == 1
    assert sources(store) == {"disks.md": 2}


def test_sources_outside_the_given_paths_are_left_alone(tmp_path, docs, store, fake_embedder, settings):
    other = write(tmp_path / "other" / "net.md", "# Net\nMTU mismatch breaks large transfers.\n")
    ingest([docs, other], store, fake_embedder, settings)
    (docs / "gpus.md").unlink()
    ingest([docs], store, fake_embedder, settings)
    assert sources(store) == {"disks.md": 2, "net.md": 1}


def test_file_turning_binary_or_empty_loses_its_chunks(docs, store, fake_embedder, settings):
    ingest([docs], store, fake_embedder, settings)
    write(docs / "gpus.md", b"\x00\x01binary now")
    write(docs / "disks.md", "")
    report = ingest([docs], store, fake_embedder, settings)
    assert store.count() == 0 and report.files_removed == 2
    assert report.skipped_by_reason == {loaders.BINARY: 1, EMPTY: 1}


def test_bad_files_are_skipped_and_counted_never_fatal(tmp_path, docs, store, fake_embedder):
    settings = RagSettings(max_file_mb=1)
    write(docs / "empty.md", "")
    write(docs / "blank.md", "\n\n   \n")
    write(docs / "latin1.md", "# Café\nfaçade".encode("latin-1"))
    write(docs / "image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    write(docs / "big.txt", "text line\n" * 200_000)  # 2 MB > 1 MiB limit
    (docs / "loop.md").symlink_to(docs / "loop.md")
    (docs / "dirloop").symlink_to(docs, target_is_directory=True)
    report = ingest([docs], store, fake_embedder, settings)
    assert report.skipped_by_reason == {
        EMPTY: 2,
        loaders.UNDECODABLE: 1,
        loaders.BINARY: 1,
        loaders.TOO_LARGE: 1,
        loaders.UNREADABLE: 1,
    }
    assert report.files_changed == 2 and store.count() == 3


def test_fifty_megabyte_file_is_skipped_by_default(docs, store, fake_embedder, settings):
    line = "# heading\nsome runbook text that goes on and on\n"
    with (docs / "huge.md").open("w") as fh:
        fh.write(line * (50 * 1024 * 1024 // len(line) + 1))
    report = ingest([docs], store, fake_embedder, settings)
    assert report.skipped_by_reason == {loaders.TOO_LARGE: 1}
    assert report.files_changed == 2


def test_store_built_with_another_embedding_model_is_refused(tmp_path, docs, settings):
    data = tmp_path / "data"
    first = FakeEmbedder("model-a|fp32")
    ingest([docs], ChunkStore.open(settings, data, first.embedding_id, first.dim), first, settings)
    other = FakeEmbedder("model-b|fp32")
    store = ChunkStore.open(settings, data, other.embedding_id, other.dim)
    with pytest.raises(StoreMismatchError) as exc:
        ingest([docs], store, other, settings)
    assert exc.value.stored == "model-a|fp32" and exc.value.configured == "model-b|fp32"
    assert "--reindex" in str(exc.value)
    assert other.embedded == 0, "refused before embedding anything"
    with pytest.raises(StoreMismatchError):
        Retriever(settings, data, embedder=other, store=store).retrieve("disk", 3)
    # Same model, other dimension: also refused.
    narrow = FakeEmbedder("model-a|fp32", dim=32)
    with pytest.raises(StoreMismatchError):
        ChunkStore.open(settings, data, narrow.embedding_id, narrow.dim).count()


def test_reindex_rebuilds_a_refused_store(tmp_path, docs, settings):
    data = tmp_path / "data"
    first = FakeEmbedder("model-a|fp32")
    ingest([docs], ChunkStore.open(settings, data, first.embedding_id, first.dim), first, settings)
    other = FakeEmbedder("model-b|fp32")
    store = ChunkStore.open(settings, data, other.embedding_id, other.dim)
    report = ingest([docs], store, other, settings, reindex=True)
    assert report.chunks_embedded == 3 and store.count() == 3


def test_collection_not_made_by_halops_is_refused(tmp_path, settings, fake_embedder):
    store = ChunkStore.open(settings, tmp_path / "data", fake_embedder.embedding_id, fake_embedder.dim)
    store.client.create_collection(settings.collection, embedding_function=None)
    with pytest.raises(StoreMismatchError) as exc:
        store.count()
    assert "unknown" in exc.value.stored


def test_changing_chunk_settings_rechunks_unchanged_files(docs, store, fake_embedder):
    long_doc = "# Long\n" + "\n".join(f"Line {i} about disks and cables." for i in range(80))
    write(docs / "long.md", long_doc)
    ingest([docs], store, fake_embedder, RagSettings(chunk_tokens=400, chunk_overlap=0))
    n_big = sources(store)["long.md"]
    report = ingest([docs], store, fake_embedder, RagSettings(chunk_tokens=100, chunk_overlap=0))
    assert sources(store)["long.md"] > n_big
    # Every file is cut again, but the short ones cut the same: their vectors are kept.
    assert report.files_changed == 3 and report.chunks_kept == 3
    assert report.chunks_embedded == sources(store)["long.md"]


def test_interrupted_ingest_resumes_without_reembedding(tmp_path, store, settings):
    root = tmp_path / "many"
    for i in range(150):
        write(root / f"doc{i:03}.md", f"# Doc {i}\nUnique body number {i} about host{i}.\n")
    crashing = FakeEmbedder()
    crashing.fail_after = 100
    with pytest.raises(RuntimeError):
        ingest([root], store, crashing, settings)
    written = store.count()
    assert 0 < written < 150
    resumed = FakeEmbedder()
    report = ingest([root], store, resumed, settings)
    assert report.chunks_embedded == 150 - written == resumed.embedded
    assert store.count() == 150


def test_file_cut_off_by_an_interruption_is_completed(tmp_path, store, settings):
    root = tmp_path / "long"
    body = "\n\n".join(
        f"## Step {i}\nCheck cable {i} on switch port {i} and note the CRC count." for i in range(100)
    )
    write(root / "steps.md", "# Steps\n" + body)
    crashing = FakeEmbedder()
    crashing.fail_after = 70  # the file has 100 chunks, written 64 at a time
    with pytest.raises(RuntimeError):
        ingest([root], store, crashing, settings)
    assert store.count() == 64
    report = ingest([root], store, FakeEmbedder(), settings)
    assert report.files_unchanged == 0, "a half-written file is not unchanged"
    assert report.chunks_embedded == 36 and report.chunks_kept == 64
    assert store.count() == 100
    assert ingest([root], store, FakeEmbedder(), settings).files_unchanged == 1


def test_duplicate_chunks_in_one_file_get_distinct_ids(docs, store, fake_embedder, settings):
    write(
        docs / "dup.md",
        "# Warn\nNever run fsck on a mounted filesystem.\n# Warn\nNever run fsck on a mounted filesystem.\n",
    )
    ingest([docs], store, fake_embedder, settings)
    assert sources(store)["dup.md"] == 2


def test_skill_folder_ingest(tmp_path, store, fake_embedder, settings):
    skill = tmp_path / "skills" / "cert-renewal"
    write(
        skill / "SKILL.md",
        "---\nname: cert-renewal\ndescription: Renew TLS certificates.\n---\n# Steps\nRun certbot renew.\n",
    )
    write(skill / "references" / "chain.md", "# Chains\nServe fullchain.pem, not cert.pem.\n")
    ingest([tmp_path / "skills"], store, fake_embedder, settings)
    meta = store.collection(create=False).get(include=["metadatas", "documents"])
    headings = sorted(m["heading"] for m in meta["metadatas"])
    # The description (the skill's "when to use me") is a chunk of its own, titled by the skill.
    assert headings == ["cert-renewal", "cert-renewal > Chains", "cert-renewal > Steps"]
    assert {m["skill"] for m in meta["metadatas"]} == {"cert-renewal"}
    assert any(d.startswith("Renew TLS certificates.") for d in meta["documents"])


def test_symlinked_docs_tree_with_loop_ingests_once(tmp_path, docs, store, fake_embedder, settings):
    (docs / "again").symlink_to(docs, target_is_directory=True)
    report = ingest([docs], store, fake_embedder, settings)
    assert report.chunks_embedded == 3 and store.count() == 3


def test_progress_reports_both_stages(docs, store, fake_embedder, settings):
    events = []

    class Recorder:
        def start(self, stage, total):
            events.append((stage, total))

        def advance(self, n=1):
            events.append(("+", n))

    ingest([docs], store, fake_embedder, settings, progress=Recorder())
    assert ("reading", 2) in events and ("embedding", 3) in events
    assert sum(n for s, n in events if s == "+") == 2 + 3


def test_file_name_not_in_utf8_is_skipped_not_fatal(docs, store, fake_embedder, settings):
    with open(os.path.join(os.fsencode(docs), b"caf\xe9.md"), "w") as fh:
        fh.write("# Cafe\nlegacy file name\n")
    report = ingest([docs], store, fake_embedder, settings)
    assert report.skipped_by_reason == {loaders.UNDECODABLE: 1}
    assert report.skipped[0].path.endswith("caf\\udce9.md")  # printable
    assert report.files_changed == 2


def test_chunks_are_embedded_shortest_first_across_files(tmp_path, store, settings):
    # Batches are padded to their longest text: sorting across files keeps that padding small.
    root = tmp_path / "mixed"
    for i in range(40):
        write(root / f"doc{i:02}.md", f"# Doc {i}\n" + "word " * ((i * 7) % 40 + 1) + "\n")
    seen: list[str] = []

    class Recording(FakeEmbedder):
        def embed(self, texts):
            seen.extend(texts)
            return super().embed(texts)

    ingest([root], store, Recording(), settings)
    lengths = [len(t) for t in seen]
    assert len(lengths) == 40 and lengths == sorted(lengths)


def test_store_writes_are_batched_and_an_error_keeps_what_was_embedded(
    tmp_path, store, settings, monkeypatch
):
    from rag import ingest as ingest_module

    root = tmp_path / "many"
    for i in range(300):
        write(root / f"doc{i:03}.md", f"# Doc {i}\nUnique body number {i} about host{i}.\n")
    monkeypatch.setattr(ingest_module, "STORE_BATCH", 128)
    writes: list[int] = []
    real_add = store.add
    monkeypatch.setattr(store, "add", lambda ids, *a: (writes.append(len(ids)), real_add(ids, *a)))
    crashing = FakeEmbedder()
    crashing.fail_after = 200  # 64-chunk embed calls: 192 embedded, then the 4th call fails
    with pytest.raises(RuntimeError):
        ingest([root], store, crashing, settings)
    assert writes == [128, 64], "one full store batch, then the rest flushed on the error"
    assert store.count() == 192
