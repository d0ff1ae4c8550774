"""The cohort's metadata and ledger are pydantic models that round-trip through the Parquet file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import analysis
from analysis.cohort import CohortMetadata, ImportEntry, Ledger, load_cohort, read_cohort
from analysis.errors import CohortFileError
from analysis.privacy.identifiers import safe_file_name
from analysis.privacy.pseudonyms import PseudonymKey
from surveytool.io.tables import write_table

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cohort"


@pytest.fixture
def cohort(tmp_path: Path, key: Path) -> Path:
    out = tmp_path / "c.parquet"
    analysis.import_cohort(FIXTURES / "redcap_raw.csv", "ppai@1.0.0", key_file=key, output=out)
    return out


def test_metadata_round_trips(cohort: Path, key: Path) -> None:
    raw = json.loads(pq.read_schema(cohort).metadata[b"surveytool"])
    metadata = CohortMetadata.model_validate(raw)
    assert metadata.as_metadata() == raw
    assert CohortMetadata.model_validate(metadata.as_metadata()) == metadata
    assert metadata.kind == "surveytool.cohort" and metadata.cohort_format_version == 1
    assert metadata.wave_columns == ("redcap_event_name",)
    (entry,) = metadata.ledger.imports
    # the source's name is kept as a safe basename and a keyed hash (issue 12, finding 8)
    source = safe_file_name("redcap_raw.csv", PseudonymKey.from_file(key, create=False))
    assert isinstance(entry, ImportEntry) and entry.batch == 1 and entry.source == source
    assert source.startswith("redcap_raw-") and source.endswith(".csv")
    assert len(metadata.ledger.respondents) == entry.rows_imported


def test_ledger_round_trips_and_knows_its_keys() -> None:
    ledger = Ledger()
    ledger.add_respondents(["a", "b", "a"])
    assert ledger.respondents == ["a", "b"] and ledger.knows("a") and not ledger.knows("c")
    again = Ledger.model_validate(ledger.model_dump(mode="json"))
    assert again == ledger and again.knows("b") and again.next_batch == 1


def test_the_read_cohort_has_typed_metadata(cohort: Path) -> None:
    read = read_cohort(cohort)
    assert read is not None
    assert read.ledger is read.metadata.ledger and read.ledger.next_batch == 2
    assert read_cohort(cohort.with_name("none.parquet")) is None


def test_a_file_that_is_not_a_cohort_is_refused_with_advice_for_its_use(tmp_path: Path) -> None:
    plain = tmp_path / "plain.parquet"
    import pandas as pd

    write_table(pd.DataFrame({"a": [1]}), plain)
    with pytest.raises(CohortFileError) as as_output:
        read_cohort(plain)
    assert str(as_output.value) == (
        f"{plain} exists and is not a surveytool cohort; choose another output path "
        "(it is left untouched)"
    )
    with pytest.raises(CohortFileError) as as_input:
        load_cohort(plain)
    assert str(as_input.value) == (
        f"{plain} exists and is not a surveytool cohort; a cohort is the Parquet file or folder "
        "that a cohort import writes: import the answers into a cohort first, then read the cohort"
    )


def test_metadata_of_another_layout_is_refused(tmp_path: Path, cohort: Path) -> None:
    raw = json.loads(pq.read_schema(cohort).metadata[b"surveytool"])
    raw["ledger"]["imports"][0]["rows_read"] = "many"
    odd = tmp_path / "odd.parquet"
    write_table(pq.read_table(cohort).to_pandas(), odd, metadata=raw)
    with pytest.raises(CohortFileError, match=re.escape("ledger.imports.0.rows_read")):
        load_cohort(odd)
