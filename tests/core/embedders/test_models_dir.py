"""Where command-line tools find the prepared models when no folder is given."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.embedders.manifest import MANIFEST_NAME, MODELS_DIR_ENV, default_models_dir


def test_the_environment_variable_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "elsewhere"))
    assert default_models_dir() == tmp_path / "elsewhere"


def test_a_prepared_folder_under_the_working_directory_comes_next(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(MODELS_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var" / "models").mkdir(parents=True)
    (tmp_path / "var" / "models" / MANIFEST_NAME).write_text("{}")
    assert default_models_dir() == Path("var/models")


def test_from_another_folder_the_checkouts_prepared_models_are_used(
    prepared_models_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(MODELS_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # no var/models here
    assert default_models_dir() == prepared_models_dir
