"""Modelfile rendering and the converter cache, without a model."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from trainer import export
from trainer.errors import ConvertError, TrainerError

pytestmark = pytest.mark.unit


def test_chatml_modelfile_has_template_and_stop() -> None:
    text = export.modelfile("model-Q4_K_M.gguf", "{% for m in messages %}<|im_start|>{{ m.role }}...")
    assert text.startswith("FROM ./model-Q4_K_M.gguf\n")
    assert "<|im_start|>{{ .Role }}" in text and 'PARAMETER stop "<|im_end|>"' in text


def test_other_templates_defer_to_the_gguf() -> None:
    assert "TEMPLATE" not in export.modelfile("m.gguf", "[INST] {{ x }}")


def test_converter_is_extracted_from_the_sdist_and_cached(tmp_path: Path) -> None:
    sdist = tmp_path / "tools" / "sdist" / "llama_cpp_python-9.9.9.tar.gz"
    sdist.parent.mkdir(parents=True)
    with tarfile.open(sdist, "w:gz") as tar:
        for name in (
            "convert_hf_to_gguf.py",
            "conversion/__init__.py",
            "gguf-py/gguf/__init__.py",
            "src/x.c",
        ):
            data = b"# " + name.encode()
            info = tarfile.TarInfo(f"llama_cpp_python-9.9.9/vendor/llama.cpp/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    script = export.converter(tmp_path / "tools", "9.9.9")
    root = script.parent
    assert script.read_text() == "# convert_hf_to_gguf.py"
    assert (root / "conversion" / "__init__.py").exists() and (
        root / "gguf-py" / "gguf" / "__init__.py"
    ).exists()
    assert not (root / "src").exists()
    sdist.unlink()
    assert export.converter(tmp_path / "tools", "9.9.9") == script  # cached: no download needed


def test_merge_refuses_an_unfinished_adapter(tmp_path: Path) -> None:
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(TrainerError, match="not a finished adapter"):
        export.merge(tmp_path, tmp_path / "out")


def test_convert_needs_a_merged_model(tmp_path: Path) -> None:
    with pytest.raises(ConvertError, match="halops merge"):
        export.convert(tmp_path, tmp_path / "gguf", tmp_path / "tools", "0.3.36", "hi")
