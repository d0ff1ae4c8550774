"""The streaming import on Dask equals the in-memory import, partition by partition."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import analysis
from analysis.cli import cohort as cohort_cli
from analysis.cohort import open_cohort
from analysis.cohort.streaming import StreamedImport, import_cohort_dask
from analysis.errors import AnalysisError, CohortFileError
from surveytool.engine import cluster
from surveytool.errors import InvalidResponsesError
from tests.datasets import write_parquet_dataset, write_parquet_file

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cohort"
MINI = FIXTURES / "mini.yaml"
QI: dict[str, Any] = {
    "quasi_identifiers": {
        "age": {"generalize": "age_band"},
        "site": {"generalize": "merge", "min_count": 400},
    }
}


def responses(n: int = 1200, seed: int = 1) -> pd.DataFrame:
    """Respondents with an identifying column, invalid cells, a blank row, empty and repeated ids
    (a repeat in a later partition than its first row), a small site."""
    rng = np.random.default_rng(seed)
    ids: list[str | None] = [f"P-{i:05d}" for i in range(n)]
    ids[n - 5], ids[n - 7], ids[20] = ids[3], ids[10], None
    frame = pd.DataFrame(
        {
            "respondent_id": ids,
            "site": rng.choice(["north", "south", "east", "west"], n, p=[0.4, 0.4, 0.15, 0.05]),
            "age": rng.integers(18, 95, n).astype(float),
            "email": [f"x{i}@example.org" for i in range(n)],
        }
    )
    for j in range(1, 5):
        values = rng.integers(1, 6, n).astype(float)
        values[rng.random(n) < 0.05] = np.nan
        values[rng.random(n) < 0.01] = 7  # out of range: an issue, read as missing
        frame[f"M{j}"] = values
    frame.loc[30, ["M1", "M2", "M3", "M4"]] = np.nan  # no item answered
    return frame


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("pseudonym").reset_index(drop=True)


def _issues(frame: pd.DataFrame) -> pd.DataFrame:
    text = frame.astype(str)
    return text.sort_values(list(text.columns)).reset_index(drop=True)


def _counts(report: Any) -> dict[str, Any]:
    keep = ("rows_read", "rows_imported", "rows_quarantined", "duplicates", "quarantined")
    return {k: v for k, v in report.as_dict().items() if k in keep}


def _assert_same(memory: Any, streamed: StreamedImport, mem_out: Path, dask_out: Path) -> None:
    assert _counts(streamed.report) == _counts(memory.report)
    r = streamed.report
    assert r.rows_read == r.rows_imported + r.rows_quarantined + r.duplicates
    a, b = open_cohort(mem_out), open_cohort(dask_out)
    pd.testing.assert_frame_equal(_sorted(b.frame()), _sorted(a.frame()))
    assert b.form == "dataset" and b.rows == a.rows
    assert [p for p in dask_out.rglob("*") if p.name == "stage"] == []  # staging removed
    assert sorted(b.ledger.keys()) == sorted(a.ledger.keys())
    assert streamed.disclosure.as_dict() == memory.disclosure.as_dict()
    assert sorted(map(str, streamed.report.warnings)) == sorted(map(str, memory.report.warnings))
    pd.testing.assert_frame_equal(_issues(streamed.issues), _issues(memory.issues))
    assert b.metadata.disclosure == a.metadata.disclosure
    assert b.metadata.item_columns == a.metadata.item_columns
    # only the cohort is published: no working copy of the staged rows (which hold the rows
    # k-anonymity suppressed) inside it, and the side files are owner only
    generations = [g for g in dask_out.iterdir() if g.is_dir() and not g.name.startswith(".")]
    assert len(generations) == 1
    assert sorted(e.name for e in generations[0].iterdir()) == ["ledger", "rows"]
    import pyarrow.parquet as pq

    published = sum(
        pq.ParquetFile(f).metadata.num_rows for f in (generations[0] / "rows").glob("*")
    )
    assert published == b.rows
    for written in map(Path, streamed.report.written):
        if written.is_file():
            assert stat.S_IMODE(written.stat().st_mode) == 0o600, written


@pytest.mark.parametrize(
    ("k", "method"), [(None, "local"), (150, "local"), (150, "records"), (40, "records")]
)
def test_dask_import_equals_the_memory_import(
    tmp_path: Path, key: Path, k: int | None, method: str
) -> None:
    frame = responses()
    single = write_parquet_file(frame, tmp_path / "src.parquet", row_group_rows=100)
    folder = write_parquet_dataset(frame, tmp_path / "src", files=3, row_group_rows=100)
    mapping = {**QI, "k_suppression": method}
    memory = analysis.import_cohort(
        single, MINI, mapping=mapping, key_file=key, k=k, output=tmp_path / "m.parquet"
    )
    with cluster(synchronous=True):
        streamed = import_cohort_dask(
            folder,
            MINI,
            mapping=mapping,
            key_file=key,
            k=k,
            output=tmp_path / "d",
            partition_rows=250,
        )
    _assert_same(memory, streamed, tmp_path / "m.parquet", tmp_path / "d")
    assert memory.report.rows_invalid_id == 3  # one empty id, two repeated across partitions
    if k is not None and k >= 150:
        kanon = streamed.disclosure.k_anonymity
        assert kanon is not None
        assert memory.report.rows_suppressed or kanon.blanked
    # importing the same rows again adds nothing, in both
    again_m = analysis.import_cohort(
        single, MINI, mapping=mapping, key_file=key, k=k, output=tmp_path / "m.parquet"
    )
    with cluster(synchronous=True):
        again_d = import_cohort_dask(
            folder,
            MINI,
            mapping=mapping,
            key_file=key,
            k=k,
            output=tmp_path / "d",
            partition_rows=250,
        )
    assert again_d.report.rows_imported == again_m.report.rows_imported == 0
    _assert_same(again_m, again_d, tmp_path / "m.parquet", tmp_path / "d")


def test_dask_import_on_a_local_cluster_appends_a_second_file(
    tmp_path: Path, key: Path, dask_client: Any
) -> None:
    first, second = responses(800, seed=2), responses(800, seed=3)
    second["respondent_id"] = [None if v is None else f"Q{v}" for v in second["respondent_id"]]
    second.loc[:99, "respondent_id"] = first.loc[:99, "respondent_id"]  # 100 already imported
    for i, part in enumerate((first, second)):
        src = write_parquet_file(part, tmp_path / f"wave{i}.parquet", row_group_rows=150)
        memory = analysis.import_cohort(
            src, MINI, mapping=QI, key_file=key, k=5, output=tmp_path / "m.parquet"
        )
        streamed = import_cohort_dask(
            src, MINI, mapping=QI, key_file=key, k=5, output=tmp_path / "d", partition_rows=300
        )
        _assert_same(memory, streamed, tmp_path / "m.parquet", tmp_path / "d")
    assert streamed.report.duplicates == memory.report.duplicates > 0
    assert [e.batch for e in open_cohort(tmp_path / "d").ledger.imports] == [1, 2]


def test_a_failed_import_leaves_the_old_cohort_and_no_leftovers(tmp_path: Path, key: Path) -> None:
    src = write_parquet_file(responses(600), tmp_path / "src.parquet", row_group_rows=100)
    out = tmp_path / "d"
    with cluster(synchronous=True):
        import_cohort_dask(src, MINI, mapping=QI, key_file=key, output=out, partition_rows=200)
        before = open_cohort(out).frame()
        names = sorted(p.name for p in out.iterdir())
        other = responses(600, seed=9)
        other["respondent_id"] = [f"R{i}" for i in range(600)]
        bad = write_parquet_file(other, tmp_path / "bad.parquet", row_group_rows=100)
        with pytest.raises(InvalidResponsesError, match="nothing was imported"):
            import_cohort_dask(
                bad, MINI, mapping=QI, key_file=key, output=out, strict=True, partition_rows=200
            )
    pd.testing.assert_frame_equal(open_cohort(out).frame(), before)
    assert sorted(p.name for p in out.iterdir()) == names  # the staged generation is gone
    for path in [out, *out.rglob("*"), *out.parent.glob("d.disclosure.*")]:
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path


def test_an_identifier_in_a_later_partition_is_reported(tmp_path: Path, key: Path) -> None:
    frame = responses(600)
    frame["clinic"] = "A"
    frame.loc[450:, "clinic"] = [f"c{i}@example.org" for i in range(150)]  # e-mails, late
    src = write_parquet_file(frame, tmp_path / "src.parquet", row_group_rows=100)
    mapping = {**QI, "groups": ["clinic"]}
    with cluster(synchronous=True):
        streamed = import_cohort_dask(
            src, MINI, mapping=mapping, key_file=key, output=tmp_path / "d", partition_rows=200
        )
    codes = {(w.code, w.column) for w in streamed.report.warnings}
    assert ("identifier_in_partition", "clinic") in codes
    memory = analysis.import_cohort(src, MINI, mapping=mapping, key_file=key)
    assert "clinic" in {d.column for d in memory.disclosure.dropped}  # the whole file shows it


def test_refusals_are_clear(tmp_path: Path, key: Path) -> None:
    src = write_parquet_file(responses(300), tmp_path / "src.parquet")
    with pytest.raises(CohortFileError, match="writes a cohort dataset"):
        import_cohort_dask(src, MINI, key_file=key, output=tmp_path / "c.parquet")
    csv = tmp_path / "src.csv"
    responses(50).to_csv(csv, index=False)
    with pytest.raises(AnalysisError, match="the Dask engine reads Parquet"):
        import_cohort_dask(csv, MINI, key_file=key, output=tmp_path / "d")
    # the command's words: the option to use, not a Python function alone
    args = ["import", str(csv), "-i", str(MINI), "--key-file", str(key), "-o", str(tmp_path / "e")]
    result = CliRunner().invoke(cohort_cli, [*args, "--engine", "dask", "--workers", "1"])
    assert result.exit_code == 1, result.output
    assert "--engine memory" in result.output and "Traceback" not in result.output


def test_the_cli_imports_on_dask(tmp_path: Path, key: Path) -> None:
    folder = write_parquet_dataset(responses(900), tmp_path / "src", files=2, row_group_rows=200)
    out = tmp_path / "cohort"
    args = ["import", str(folder), "-i", str(MINI), "--key-file", str(key), "-o", str(out)]
    result = CliRunner().invoke(
        cohort_cli, [*args, "--engine", "dask", "--workers", "1", "--memory-limit", "1GB"]
    )
    assert result.exit_code == 0, result.output
    assert "rows read 900 = rows imported" in result.output
    assert open_cohort(out).rows == int(result.output.split("rows imported ")[1].split()[0])


def test_a_critical_answer_in_a_repeated_row_is_reported_as_in_memory(
    tmp_path: Path, key: Path
) -> None:
    from surveytool.instrument.registry import load_instrument
    from surveytool.scoring.simulate import SimulationSpec, simulate

    ppai = load_instrument("ppai")
    frame = simulate(ppai, SimulationSpec(n=600, seed=4, missing=0.0))
    ids = [f"R{i:04d}" for i in range(len(frame))]
    ids[550] = ids[3]  # repeated in a later partition
    frame["respondent_id"] = ids
    frame["DX1"] = 2.0
    frame.loc[550, "DX1"] = 5.0  # the distress check met in the row set aside
    single = write_parquet_file(frame, tmp_path / "src.parquet", row_group_rows=100)
    mapping = {"id_column": "respondent_id"}
    memory = analysis.import_cohort(
        single, "ppai", mapping=mapping, key_file=key, output=tmp_path / "m.parquet"
    )
    with cluster(synchronous=True):
        streamed = import_cohort_dask(
            single,
            "ppai",
            mapping=mapping,
            key_file=key,
            output=tmp_path / "d",
            partition_rows=250,
        )
    for issues in (memory.issues, streamed.issues):
        critical = issues[issues["code"] == "critical_in_quarantine"]
        assert critical["row"].astype(int).tolist() == [551], issues
        assert critical["column"].tolist() == ["DX1"]
    assert sorted(streamed.issues["code"].astype(str)) == sorted(memory.issues["code"].astype(str))


def test_re_imports_and_partial_overlaps_match_in_buckets_as_in_memory(
    tmp_path: Path, key: Path, dask_client: Any
) -> None:
    """The keys are matched bucket by bucket (10 buckets here): the same rows, duplicates,
    repeated ids and quarantine as the in-memory import, for the same file again, a file with
    part of the cohort (one known id repeated inside it, one new id repeated) and a file with
    none of it."""
    from analysis.cohort.buckets import bucket_count

    first = responses(900, seed=5)
    overlap = responses(900, seed=6)
    ids = [None if v is None else f"O{v}" for v in overlap["respondent_id"]]
    known = first["respondent_id"].tolist()
    ids[:300] = known[:300]  # 300 known
    ids[600] = ids[450]  # a new id, twice
    ids[700] = known[5]  # a known id, twice
    overlap["respondent_id"] = ids
    other = responses(600, seed=7)
    other["respondent_id"] = [None if v is None else f"N{v}" for v in other["respondent_id"]]
    assert bucket_count(900, 900, 97) == 10
    found = []
    for i, part in enumerate((first, first, overlap, other)):
        src = write_parquet_file(part, tmp_path / f"s{i}.parquet", row_group_rows=150)
        memory = analysis.import_cohort(
            src, MINI, mapping=QI, key_file=key, k=5, output=tmp_path / "m.parquet"
        )
        streamed = import_cohort_dask(
            src,
            MINI,
            mapping=QI,
            key_file=key,
            k=5,
            output=tmp_path / "d",
            partition_rows=300,
            bucket_rows=97,
        )
        _assert_same(memory, streamed, tmp_path / "m.parquet", tmp_path / "d")
        found.append((memory.report, streamed.report))
    (_, again), (_, part_known), (_, none_known) = found[1], found[2], found[3]
    assert again.rows_imported == 0 and again.already_imported
    assert again.duplicates == found[0][1].rows_imported  # every row kept before, known now
    assert part_known.duplicates == 300 - 2  # the known ids but a blank one and row 30's
    assert part_known.rows_invalid_id == found[2][0].rows_invalid_id >= 3
    assert none_known.duplicates == 0
    # the quarantine report keeps every recorded import's lines, batch by batch, in both engines
    # (the same file again changed nothing and is in no batch: it adds no lines)
    from analysis.cohort.records import read_quarantine

    kept = {}
    for stem in ("m", "d"):
        kept[stem] = read_quarantine(tmp_path / f"{stem}.quarantine.csv")
    assert sorted(set(kept["d"]["import_batch"])) == ["1", "2", "3"]
    pd.testing.assert_frame_equal(_issues(kept["d"]), _issues(kept["m"]))
    recorded = [found[0], found[2], found[3]]
    for batch, (memory_report, streamed_report) in enumerate(recorded, start=1):
        lines = kept["d"][kept["d"]["import_batch"] == str(batch)]
        assert len(lines) == len(streamed_report.issues) == len(memory_report.issues) > 0
        assert set(lines["source"]) == {streamed_report.source}
        entry = open_cohort(tmp_path / "d").ledger.imports[batch - 1]
        assert entry.source == streamed_report.source
        # one line of kind row per quarantined row: the counts add up import by import
        assert (lines["kind"] == "row").sum() == entry.rows_quarantined
        assert entry.rows_read == entry.rows_imported + entry.rows_quarantined + entry.duplicates
    assert open_cohort(tmp_path / "d").ledger.respondents == len(
        open_cohort(tmp_path / "m.parquet").ledger.keys()
    )


def test_buckets_are_the_same_on_every_worker(dask_client: Any) -> None:
    import pyarrow as pa

    from analysis.cohort.buckets import bucket_of

    keys = pa.array([f"{i:032x}" for i in range(2000)] + ["", "a\x1fb"])
    here = bucket_of(keys, 13)
    assert set(here.tolist()) == set(range(13))
    there = dask_client.run(bucket_of, keys, 13)
    assert len(there) == 2
    for value in there.values():
        np.testing.assert_array_equal(value, here)
