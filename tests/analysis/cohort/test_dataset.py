"""Cohort datasets: the reader of both forms, the dataset writer, migration, atomicity, modes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import dask
import pandas as pd
import pytest

import analysis
from analysis.cohort import open_cohort
from analysis.cohort.dataset import (
    METADATA_FILE,
    DatasetWriter,
    migrate_cohort,
)
from analysis.errors import CohortFileError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cohort"
MINI = FIXTURES / "mini.yaml"
QI = {"groups": ["site"], "quasi_identifiers": {"age": {"generalize": "age_band"}}}


def _compute(lazy: Any) -> pd.DataFrame:
    frame: pd.DataFrame = lazy.compute()
    return frame


@pytest.fixture
def both(tmp_path: Path, key: Path) -> tuple[Path, Path]:
    """The same import written as a cohort file and as a cohort dataset."""
    file_form, dataset = tmp_path / "c.parquet", tmp_path / "c_dataset"
    for out in (file_form, dataset):
        analysis.import_cohort(
            FIXTURES / "plain_mini.csv", MINI, mapping=QI, key_file=key, k=2, output=out
        )
    return file_form, dataset


def test_both_forms_read_the_same(both: tuple[Path, Path]) -> None:
    file_form, dataset = (open_cohort(p) for p in both)
    assert (file_form.form, dataset.form) == ("file", "dataset")
    assert dataset.path.is_dir() and (dataset.path / METADATA_FILE).is_file()
    pd.testing.assert_frame_equal(file_form.frame(), dataset.frame())
    assert file_form.rows == dataset.rows == len(dataset.frame()) > 0
    assert dataset.metadata.item_columns == file_form.metadata.item_columns
    assert dataset.metadata.disclosure == file_form.metadata.disclosure
    # the same entries but for the clock: two imports may straddle a second (flaky under load)
    assert [e.model_dump(exclude={"imported_at"}) for e in dataset.metadata.ledger.imports] == [
        e.model_dump(exclude={"imported_at"}) for e in file_form.metadata.ledger.imports
    ]
    assert dataset.metadata.ledger.respondents == []  # the keys live in the ledger dataset
    assert dataset.ledger.respondents == file_form.ledger.respondents == dataset.rows
    assert dataset.ledger.keys().tolist() == file_form.ledger.keys().tolist()
    assert dataset.ledger.next_batch == file_form.ledger.next_batch == 2
    # text columns are str/None objects, items float64, batch int64, in both forms
    frame = dataset.frame()
    assert all(type(v) is str for v in frame["pseudonym"])
    assert frame["M1"].dtype == "float64" and frame["import_batch"].dtype == "int64"
    # the full in-memory view, as load_cohort gives it
    assert dataset.load().ledger.respondents == file_form.load().ledger.respondents


def test_dask_reads_both_forms_like_frame(both: tuple[Path, Path]) -> None:
    for path in both:
        cohort = open_cohort(path)
        with dask.config.set(scheduler="synchronous"):
            lazy = cohort.dask()
            computed = _compute(lazy).reset_index(drop=True)
        pd.testing.assert_frame_equal(computed, cohort.frame())
        assert list(lazy.columns) == cohort.columns
        assert dict(lazy.dtypes) == dict(cohort.frame().dtypes)
        with dask.config.set(scheduler="synchronous"):
            keys = _compute(cohort.ledger.keys_dask())["key"].tolist()
        assert keys == cohort.ledger.keys().tolist()


def test_appending_to_a_dataset_counts_duplicates_and_keeps_it_a_dataset(
    both: tuple[Path, Path], key: Path
) -> None:
    _, dataset = both
    before = open_cohort(dataset)
    again = analysis.import_cohort(
        FIXTURES / "plain_mini.csv", MINI, mapping=QI, key_file=key, k=2, output=dataset
    )
    assert again.report.rows_imported == 0
    assert again.report.duplicates == before.rows
    after = open_cohort(dataset)
    pd.testing.assert_frame_equal(after.frame(), before.frame())
    assert after.form == "dataset"


def test_files_are_0600_and_folders_0700(both: tuple[Path, Path]) -> None:
    _, dataset = both
    paths = [dataset, *dataset.rglob("*")]
    assert any(p.suffix == ".parquet" for p in paths)
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_an_interrupted_write_leaves_the_old_cohort(both: tuple[Path, Path]) -> None:
    _, dataset = both
    before = open_cohort(dataset)
    frame, metadata = before.frame(), before.load().metadata
    with pytest.raises(KeyboardInterrupt), DatasetWriter(dataset) as writer:
        writer.write_rows(frame.iloc[:1], metadata)
        raise KeyboardInterrupt  # Ctrl-C before the commit
    after = open_cohort(dataset)
    pd.testing.assert_frame_equal(after.frame(), frame)
    assert sorted(p.name for p in dataset.iterdir()) == sorted(
        p.name for p in [dataset / METADATA_FILE, before.files[0].parents[1]]
    )


def test_a_new_generation_replaces_the_old_one_whole(both: tuple[Path, Path]) -> None:
    _, dataset = both
    before = open_cohort(dataset)
    frame, metadata = before.frame(), before.load().metadata
    with DatasetWriter(dataset) as writer:
        writer.write_rows(frame.iloc[:2], metadata)
        writer.write_keys(metadata.ledger.respondents[:2])
        writer.commit(metadata)
    after = open_cohort(dataset)
    assert after.rows == 2 and after.ledger.respondents == 2
    generation = json.loads((dataset / METADATA_FILE).read_text())["generation"]
    assert [p.name for p in dataset.iterdir() if p.is_dir()] == [generation]


def test_migration_keeps_rows_metadata_and_ledger(both: tuple[Path, Path], tmp_path: Path) -> None:
    file_form, _ = both
    migrated = migrate_cohort(file_form, tmp_path / "migrated")
    old = open_cohort(file_form)
    assert migrated.form == "dataset" and file_form.is_file()
    pd.testing.assert_frame_equal(migrated.frame(), old.frame())
    assert migrated.load().metadata == old.load().metadata
    with pytest.raises(CohortFileError, match="exists; give a new folder"):
        migrate_cohort(file_form, tmp_path / "migrated")
    with pytest.raises(CohortFileError, match="already a cohort dataset"):
        migrate_cohort(tmp_path / "migrated", tmp_path / "again")


def test_what_is_not_a_cohort_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CohortFileError, match="no such cohort"):
        open_cohort(tmp_path / "none")
    (tmp_path / "folder").mkdir()
    with pytest.raises(CohortFileError, match="not a surveytool cohort dataset"):
        open_cohort(tmp_path / "folder")
    (tmp_path / "folder" / METADATA_FILE).write_text('{"kind": "other"}')
    with pytest.raises(CohortFileError, match="not a surveytool cohort dataset"):
        open_cohort(tmp_path / "folder")
    odd = tmp_path / "odd.csv"
    with pytest.raises(CohortFileError, match="a cohort dataset"):
        analysis.import_cohort(
            FIXTURES / "plain_mini.csv", MINI, key_file=tmp_path / "k", output=odd
        )
    assert not os.path.exists(odd)


def test_the_cli_migrates_a_cohort_file(both: tuple[Path, Path], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from analysis.cli import cohort as cohort_cli

    file_form, _ = both
    target = tmp_path / "via_cli"
    result = CliRunner().invoke(cohort_cli, ["migrate", str(file_form), str(target)])
    assert result.exit_code == 0, result.output
    assert f"{open_cohort(file_form).rows} respondent row(s)" in result.output
    pd.testing.assert_frame_equal(open_cohort(target).frame(), open_cohort(file_form).frame())
    again = CliRunner().invoke(cohort_cli, ["migrate", str(file_form), str(target)])
    assert again.exit_code == 1 and "exists; give a new folder" in again.output
    assert "Traceback" not in again.output
