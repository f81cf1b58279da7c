"""Model versions under <data_dir>/models and the atomic current.gguf switch."""

from __future__ import annotations

import os

import pytest

from halops.errors import ModelNotFoundError
from halops.llm.models import ModelStore, bundled_model, resolve_model

pytestmark = pytest.mark.unit


def test_bundled_model_is_found_without_importing_llm():
    path = bundled_model()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    with path.open("rb") as fh:
        assert fh.read(4) == b"GGUF"


def test_default_links_bundled_model_as_version_0(tmp_path):
    store = ModelStore(tmp_path / "models")
    current = store.ensure_default()
    assert current == store.current_link
    assert os.readlink(current) == "versions/0/model.gguf"
    assert current.resolve() == bundled_model().resolve()
    assert store.versions() == [0] and store.active_version() == 0
    assert store.ensure_default() == current  # idempotent


def test_activate_swaps_atomically(tmp_path):
    store = ModelStore(tmp_path / "models")
    store.ensure_default()
    new = tmp_path / "new.gguf"
    new.write_bytes(b"GGUF-new")
    version = store.add_version(new)
    assert version == 1 and not new.exists()
    store.activate(1)
    assert store.current_link.read_bytes() == b"GGUF-new"
    assert store.active_version() == 1
    assert not list(store.root.glob(".current*"))  # no temp link left behind
    with pytest.raises(FileExistsError):
        store.add_version(tmp_path / "x", 1)
    with pytest.raises(ModelNotFoundError):
        store.activate(7)


def test_dangling_current_link_is_an_error_not_a_silent_fallback(tmp_path):
    store = ModelStore(tmp_path / "models")
    store.root.mkdir()
    store.current_link.symlink_to("versions/3/model.gguf")
    with pytest.raises(ModelNotFoundError, match="missing"):
        store.ensure_default()


def test_explicit_model_must_exist(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not found"):
        resolve_model(tmp_path, tmp_path / "nope.gguf")


def test_copy_mode_leaves_the_source_in_place_and_costs_no_space_on_one_file_system(tmp_path):
    src = tmp_path / "run" / "model-Q4_K_M.gguf"
    src.parent.mkdir()
    src.write_bytes(b"GGUF" + b"\0" * 1024)
    store = ModelStore(tmp_path / "models")
    version = store.add_version(src, copy=True)
    target = store.version_path(version)
    assert src.is_file() and target.read_bytes() == src.read_bytes()
    assert os.stat(src).st_ino == os.stat(target).st_ino  # a hard link, not a second copy
    assert not list(target.parent.glob(".*")), "no temp file left"
    with pytest.raises(FileExistsError):
        store.add_version(src, version, copy=True)
