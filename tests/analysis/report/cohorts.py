"""Cohorts for the Dask tests: one simulated PPAI 1.0.0 cohort as a file and as a dataset.

300 respondents (3% careless), a group ``site`` of a, b, c and a group ``d`` of 5, so that
small-cell suppression and its complement happen; imported as a cohort file and written again
as a dataset folder of ``parts`` part files (one partition each).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import analysis
from analysis.cohort.dataset import DatasetWriter, open_cohort
from surveytool.instrument.registry import load_instrument
from surveytool.io.tables import write_table
from surveytool.scoring.simulate import SimulationSpec, simulate

PPAI = load_instrument("ppai@1.0.0")


def as_dataset(file: Path, folder: Path, parts: int) -> Path:
    """The cohort file's rows, metadata and ledger as a dataset of ``parts`` part files."""
    loaded = open_cohort(file).load()
    with DatasetWriter(folder) as writer:
        for part in np.array_split(np.arange(len(loaded.frame)), parts):
            writer.write_rows(loaded.frame.iloc[part], loaded.metadata)
        writer.write_keys(loaded.metadata.ledger.respondents)
        writer.commit(loaded.metadata)
    assert open_cohort(folder).dask().npartitions == parts
    return folder


def site_cohorts(folder: Path, seed: int, parts: int = 3) -> tuple[Path, Path]:
    """(cohort file, the same cohort as a dataset of ``parts`` part files) in ``folder``."""
    spec = SimulationSpec(
        n=300, seed=seed, careless=0.03, group_column="site", groups=("a", "b", "c")
    )
    frame = simulate(PPAI, spec)
    frame.loc[frame.index[:5], "site"] = "d"
    file = imported(frame, folder, "cohort", {"id_column": "respondent_id", "groups": ["site"]})
    return file, as_dataset(file, folder / "dataset", parts)


def imported(frame: pd.DataFrame, folder: Path, name: str, mapping: dict[str, object]) -> Path:
    """``frame`` written as ``name.csv`` in ``folder`` and imported into ``name.parquet`` (its
    key ``name.key`` beside it) with ``mapping``; the cohort file."""
    source = folder / f"{name}.csv"
    write_table(frame, source)
    file = folder / f"{name}.parquet"
    analysis.import_cohort(
        source, PPAI, output=file, mapping=mapping, key_file=folder / f"{name}.key"
    )
    return file
