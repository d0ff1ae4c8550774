"""Scoring on Dask: the in-memory scoring path per partition, with rows numbered in the dataset.

Every partition is scored by :func:`surveytool.scoring.engine.score_responses`, the one scoring
path of every user (validation, kernel, bands, norms, checks), through :func:`score_partition`.
What a partition cannot know by itself comes from the whole dataset, so that the scores and the
issues are exactly those of the in-memory path over the same rows:

* **row numbers**: partition ``i`` starts at row ``offsets[i] + 1`` (from the Parquet footers for
  a :class:`~surveytool.engine.datasets.Dataset`, or from a pass counting the rows of any other
  Dask DataFrame); the issues and the ``row`` column carry these numbers;
* **repeated respondent ids across partitions**: the in-memory path keeps the first row with an
  id and quarantines the later ones. With an id column, a first pass over the id column alone
  finds ids seen more than once (64-bit hashes counted by Dask's ``value_counts``, spread over
  several output partitions; then the exact texts of the few candidates), and each partition
  that repeats an id first seen in an earlier partition is scored with that first row placed
  before its own rows (*a carried row*: the id and the first row's number). ``read_responses``
  then quarantines the repeats with its own issue ("first at row N"), and the carried row's
  scores and issues are dropped again;
* **column issues** (unknown, missing or repeated columns) are the same in every partition
  (every file of a dataset has the same columns) and are kept from the first partition only.

Hence rows read = rows scored + rows quarantined, summed over partitions, with the same issues
as in memory. :func:`score_frame` is the same per-batch scoring for other engines (Spark's
``mapInPandas``, Ray's ``map_batches``): pandas in, pandas out, no Dask.

:func:`write_scores` scores a dataset into a Parquet dataset (a folder of ``part-NNNNN.parquet``,
one per partition, each with the provenance in its schema metadata as
:func:`surveytool.io.tables.write_table` writes it), and the issues into a quarantine dataset
beside it; both are written into temporary sibling folders that replace the targets only when
every partition is written (:func:`surveytool.io.files.atomic_folder`), folders 0700 and files
0600 (scores are personal data).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from surveytool.engine.cluster import EngineError
from surveytool.instrument.model import Instrument
from surveytool.privacy import redact_issues
from surveytool.problems import ISSUE_COLUMNS, issue_frame

if TYPE_CHECKING:
    import dask.dataframe as dd

    from surveytool.engine.datasets import Dataset
    from surveytool.responses import Responses
    from surveytool.scoring.result import Provenance

#: Mode of a scores or quarantine file, and of their folder.
FILE_MODE = 0o600
FOLDER_MODE = 0o700


@dataclass(frozen=True)
class ScoreOptions:
    """What to score (picklable: sent to every task): ``score_responses``' parameters."""

    instrument: Instrument
    id_column: str | None = None
    form: str | None = None
    group_columns: tuple[str, ...] = ()
    ignore_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class PartScores:
    """One partition scored: its scores, its issues and its counts."""

    scores: pd.DataFrame
    issues: pd.DataFrame
    rows_read: int
    rows_scored: int

    @property
    def rows_quarantined(self) -> int:
        return self.rows_read - self.rows_scored


def score_partition(
    frame: pd.DataFrame,
    options: ScoreOptions,
    *,
    offset: int = 0,
    carried: pd.DataFrame | None = None,
    column_issues: bool = True,
) -> PartScores:
    """Score one partition whose first row is row ``offset + 1`` of the whole table.

    ``carried`` (columns ``id``: the raw id, ``row``: its row number) holds the first rows of ids
    this partition repeats from earlier partitions (see the module docstring); ``column_issues``
    False drops the column issues (kept from the first partition only).
    """
    from surveytool.scoring.engine import score_responses

    n = len(frame)
    frame, numbers, g = _with_carried(frame, options, offset, carried)
    result = score_responses(
        options.instrument,
        frame,
        id_column=options.id_column,
        form=options.form,
        group_columns=options.group_columns,
        ignore_columns=options.ignore_columns,
        row_numbers=numbers,
    )
    scores = result.scores
    issues = result.issues
    if g:
        scores = scores.iloc[g:].reset_index(drop=True)
        issues = issues[~issues["row"].isin(numbers[:g]).fillna(False).to_numpy(dtype=bool)]
    if options.id_column is None and offset:
        scores["row"] = scores["row"].to_numpy() + offset
    if not column_issues:
        issues = issues[issues["kind"].to_numpy() != "column"]
    issues = issues.reset_index(drop=True)
    return PartScores(scores=scores, issues=issues, rows_read=n, rows_scored=len(scores))


def _with_carried(
    frame: pd.DataFrame, options: ScoreOptions, offset: int, carried: pd.DataFrame | None
) -> tuple[pd.DataFrame, np.ndarray, int]:
    """The partition with its carried rows placed first, every row's number in the whole table,
    and how many rows were carried (see the module docstring)."""
    n = len(frame)
    numbers = np.arange(offset + 1, offset + n + 1, dtype=np.int64)
    if carried is None or not len(carried) or not options.id_column or not n:
        return frame, numbers, 0
    g = len(carried)
    head = frame.iloc[np.zeros(g, dtype=np.int64)].copy()  # dtypes of the partition
    head[options.id_column] = pd.Series(
        list(carried["id"]), index=head.index, dtype=frame[options.id_column].dtype
    )
    frame = pd.concat([head, frame], ignore_index=True)
    numbers = np.concatenate([carried["row"].to_numpy(dtype=np.int64), numbers])
    return frame, numbers, g


def read_partition(
    frame: pd.DataFrame,
    options: ScoreOptions,
    *,
    offset: int = 0,
    carried: pd.DataFrame | None = None,
    column_issues: bool = True,
) -> Responses:
    """:func:`surveytool.responses.read_responses` of one partition whose first row is row
    ``offset + 1`` of the whole table (the form's items only), as :func:`score_partition`
    validates it: the issues carry the rows' numbers in the whole table, ids repeated from earlier
    partitions (``carried``) are quarantined, and ``column_issues`` False drops the column
    issues. ``rows`` are positions in the partition."""
    import dataclasses

    from surveytool.responses import read_responses
    from surveytool.scoring.plan import ScoringPlan

    n = len(frame)
    frame, numbers, g = _with_carried(frame, options, offset, carried)
    answers = read_responses(
        options.instrument,
        frame,
        item_ids=ScoringPlan.build(options.instrument, options.form).item_ids,
        id_column=options.id_column,
        group_columns=options.group_columns,
        ignore_columns=options.ignore_columns,
        row_numbers=numbers,
    )
    issues = answers.issues
    if g:
        issues = issues[~issues["row"].isin(numbers[:g]).fillna(False).to_numpy(dtype=bool)]
    if not column_issues:
        issues = issues[issues["kind"].to_numpy() != "column"]
    if not g and column_issues:
        return answers
    own = answers.rows > g  # the carried rows come first and are kept (each a first id)
    return dataclasses.replace(
        answers,
        values=answers.values[own],
        ids=answers.ids[own].reset_index(drop=True),
        groups=answers.groups[own].reset_index(drop=True),
        rows=answers.rows[own] - g,
        rows_read=n,
        issues=issues.reset_index(drop=True),
        coded_missing={item: codes[own] for item, codes in answers.coded_missing.items()},
    )


def read_responses_dask(
    instrument: Instrument | str,
    data: dd.DataFrame,
    *,
    id_column: str | None = None,
    form: str | None = None,
    group_columns: Sequence[str] = (),
    ignore_columns: Sequence[str] = (),
) -> list[Any]:
    """The validated answers of a Dask DataFrame, one Dask ``Delayed`` :class:`Responses` per
    partition (:func:`read_partition`): together the in-memory path's rows and issues, each issue
    with its row's number in the whole table and the column issues in the first partition only.
    """
    from dask.delayed import delayed

    options, frame, offsets, carried, _ = _plan(
        instrument, data, id_column, form, group_columns, ignore_columns, scoring=False
    )
    return [
        delayed(_read_part)(part, options, offsets, carried, i)
        for i, part in enumerate(frame.to_delayed())
    ]


def _read_part(
    frame: pd.DataFrame,
    options: ScoreOptions,
    offsets: Sequence[int],
    carried: Mapping[int, pd.DataFrame],
    i: int,
) -> Responses:
    return read_partition(
        frame, options, offset=int(offsets[i]), carried=carried.get(i), column_issues=i == 0
    )


def score_frame(
    instrument: Instrument | str,
    frame: pd.DataFrame,
    *,
    id_column: str | None = None,
    form: str | None = None,
    group_columns: Sequence[str] = (),
    ignore_columns: Sequence[str] = (),
    row_offset: int = 0,
) -> pd.DataFrame:
    """Score one batch of responses: a pandas frame in, the scores table out (no Dask needed).

    For engines that hand a function pandas batches: Spark's ``mapInPandas``, Ray Data's
    ``map_batches(batch_format="pandas")``, Dask's ``map_partitions``. Every argument pickles
    (an :class:`Instrument` or a bundled id). The scores are those of
    :func:`surveytool.score` on the batch; a batch's quarantined rows are left out, and the
    issues (which say why) come from :func:`surveytool.score_responses`. Rows are numbered from
    ``row_offset + 1`` (when there is no id column), and respondent ids are checked for repeats
    within the batch only.

    Examples
    --------
    >>> import surveytool
    >>> inst = surveytool.load_instrument("ppai")
    >>> batch = surveytool.simulate(inst, surveytool.SimulationSpec(n=3, seed=1))
    >>> surveytool.score_frame(inst, batch, id_column="respondent_id").shape
    (3, 34)
    """
    from surveytool.instrument.registry import load_instrument
    from surveytool.scoring.engine import _check_carried_names

    inst = load_instrument(instrument)
    _check_carried_names(inst, id_column, list(group_columns))
    options = ScoreOptions(inst, id_column, form, tuple(group_columns), tuple(ignore_columns))
    return score_partition(frame, options, offset=row_offset).scores


# --- Dask ----------------------------------------------------------------------------------


def _scores_meta(options: ScoreOptions, empty: pd.DataFrame) -> pd.DataFrame:
    """The scores table of no rows, with the dtypes a partition's scores have."""
    meta = score_partition(empty.iloc[:0], options).scores
    # The text columns (the id, text groups, a norm's group and percentile source) are object
    # when empty, and str (what a table infers from text cells) when they hold text.
    text = pd.Series(["x"]).dtype
    for col in meta.columns:
        if meta[col].dtype == object:
            meta[col] = meta[col].astype(text)
    return meta


def _conform(frame: pd.DataFrame, meta: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``meta``'s dtypes where they differ (an empty or all-quarantined part)."""
    differ = {c: meta[c].dtype for c in meta.columns if frame[c].dtype != meta[c].dtype}
    return frame.astype(differ) if differ else frame


def _issues_meta() -> pd.DataFrame:
    return issue_frame([])


def _part_number(partition_info: Mapping[str, Any] | None) -> int:
    return 0 if partition_info is None else int(partition_info["number"])


def _scores_of(
    frame: pd.DataFrame,
    options: ScoreOptions,
    offsets: Sequence[int],
    carried: Mapping[int, pd.DataFrame],
    meta: pd.DataFrame,
    partition_info: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    i = _part_number(partition_info)
    part = score_partition(frame, options, offset=int(offsets[i]), carried=carried.get(i))
    return _conform(part.scores, meta)


def _issues_of(
    frame: pd.DataFrame,
    options: ScoreOptions,
    offsets: Sequence[int],
    carried: Mapping[int, pd.DataFrame],
    partition_info: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    i = _part_number(partition_info)
    part = score_partition(
        frame, options, offset=int(offsets[i]), carried=carried.get(i), column_issues=i == 0
    )
    return part.issues.astype(_issues_meta().dtypes.to_dict())


def _lengths(part: pd.DataFrame) -> pd.Series:
    return pd.Series([len(part)], dtype="int64")


def _starts(lengths: pd.Series) -> tuple[int, ...]:
    counts = lengths.to_numpy(dtype=np.int64)
    return tuple(int(x) for x in np.concatenate([[0], np.cumsum(counts)[:-1]]))


def _id_hashes(ids: pd.Series) -> pd.Series:
    from surveytool.responses import id_text

    text = id_text(ids).dropna()
    text = text[text != ""]
    hashed = pd.util.hash_array(text.to_numpy(dtype=object))
    return pd.Series(hashed, dtype="uint64", name="h")


def _candidate_rows(
    ids: pd.Series,
    candidates: pd.Series,
    offsets: Sequence[int],
    partition_info: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The rows of this partition whose id hash is a candidate: text, raw id, row, partition."""
    from surveytool.responses import id_text

    i = _part_number(partition_info)
    text = id_text(ids)
    present = (text.notna() & (text != "")).to_numpy(dtype=bool)
    hashed = np.zeros(len(ids), dtype=np.uint64)
    if present.any():
        hashed[present] = pd.util.hash_array(text[present].to_numpy(dtype=object))
    hit = present & np.isin(hashed, candidates.to_numpy(dtype=np.uint64))
    rows = np.flatnonzero(hit)
    return pd.DataFrame(
        {
            "text": text.to_numpy(dtype=object)[rows],
            "id": ids.to_numpy(dtype=object)[rows],
            "row": (rows + int(offsets[i]) + 1).astype(np.int64),
            "part": np.full(len(rows), i, dtype=np.int64),
        }
    )


def _carried_rows(found: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """Per partition, the first rows of the ids it repeats from an earlier partition."""
    out: dict[int, list[tuple[object, int]]] = {}
    for _, group in found.sort_values("row").groupby("text", sort=False):
        first_row = int(group["row"].iloc[0])
        first_part = int(group["part"].iloc[0])
        first_id = group["id"].iloc[0]
        for part in sorted(set(group["part"].tolist()) - {first_part}):
            out.setdefault(int(part), []).append((first_id, first_row))
    return {
        part: pd.DataFrame({"id": [r[0] for r in rows], "row": [r[1] for r in rows]})
        for part, rows in out.items()
    }


def _carried(
    frame: dd.DataFrame, id_column: str, offsets: Any, ids: dd.Series | None, eager: bool
) -> Any:
    """The carried rows for repeats across partitions: a Delayed mapping partition -> rows, or
    with ``eager`` the mapping itself (computed now; no second pass when no hash repeats)."""
    from dask.delayed import delayed

    column = frame[id_column] if ids is None else ids
    hashes = column.map_partitions(_id_hashes, meta=pd.Series([], dtype="uint64", name="h"))
    counts = hashes.value_counts(split_out=max(1, column.npartitions // 8))
    repeated = counts[counts > 1]
    candidates: Any = delayed(_candidate_index)(repeated)
    if eager:
        candidates = candidates.compute()
        if not len(candidates):
            return {}
    found = column.map_partitions(
        _candidate_rows,
        candidates,
        offsets,
        meta=pd.DataFrame(
            {
                "text": pd.Series([], dtype=object),
                "id": pd.Series([], dtype=object),
                "row": pd.Series([], dtype="int64"),
                "part": pd.Series([], dtype="int64"),
            }
        ),
        align_dataframes=False,
    )
    if eager:
        return _carried_rows(found.compute())
    return delayed(_carried_rows)(found)


def _candidate_index(repeated: pd.Series) -> pd.Series:
    return pd.Series(repeated.index.to_numpy(dtype=np.uint64), dtype="uint64")


@dataclass(frozen=True)
class DaskScoreResult:
    """Scores of a Dask DataFrame, lazily: ``scores`` and ``issues`` are Dask DataFrames.

    Each is its own ``map_partitions`` of the same scoring, so computing both scores every
    partition twice (``dask.compute(result.scores, result.issues)`` reads the data once);
    :func:`write_scores` writes both in one pass. :meth:`counts` gives rows read, scored and
    quarantined (computed).
    """

    scores: dd.DataFrame
    issues: dd.DataFrame
    provenance: Provenance
    rows_read: Any = field(repr=False)

    def counts(self) -> tuple[int, int, int]:
        """(rows read, rows scored, rows quarantined), computed."""
        from dask.base import compute

        read, scored = compute(self.rows_read, self.scores.shape[0])
        return int(read), int(scored), int(read) - int(scored)


def _plan(
    instrument: Instrument | str,
    data: dd.DataFrame | Dataset,
    id_column: str | None,
    form: str | None,
    group_columns: Sequence[str],
    ignore_columns: Sequence[str],
    eager: bool = False,
    scoring: bool = True,
) -> tuple[ScoreOptions, dd.DataFrame, Any, Any, pd.DataFrame]:
    """Options, frame, offsets (tuple or Delayed), carried rows (dict or Delayed), scores meta
    (``scoring`` False: for validation alone, the id and group names are not checked against
    the scores' columns)."""
    from dask.delayed import delayed

    from surveytool.engine.datasets import Dataset, read_dataset
    from surveytool.instrument.registry import load_instrument
    from surveytool.scoring.engine import _check_carried_names
    from surveytool.scoring.plan import ScoringPlan

    inst = load_instrument(instrument)
    if scoring:
        _check_carried_names(inst, id_column, list(group_columns))
    ScoringPlan.build(inst, form)  # an unknown short form is refused before any work
    options = ScoreOptions(inst, id_column, form, tuple(group_columns), tuple(ignore_columns))
    ids: dd.Series | None = None
    offsets: Any
    if isinstance(data, Dataset):
        frame = data.frame
        offsets = data.offsets
        if id_column:
            if id_column not in data.columns:
                _missing_column(id_column, data.columns)
            ids = read_dataset(
                data.path,
                columns=[id_column],
                text_columns=[id_column] if id_column in data.text_columns else (),
                partition_rows=max(p.rows for p in data.pieces),
            ).frame[id_column]
    else:
        frame = data
        lengths = frame.map_partitions(_lengths, meta=pd.Series([], dtype="int64"))
        offsets = delayed(_starts)(lengths)
    for col in [id_column, *group_columns] if id_column else list(group_columns):
        if col not in frame.columns:
            _missing_column(col, tuple(str(c) for c in frame.columns))
    carried: Any = {}
    if id_column:
        carried = _carried(frame, id_column, offsets, ids, eager)
    empty: pd.DataFrame = frame._meta
    meta = _scores_meta(options, empty)
    return options, frame, offsets, carried, meta


def _missing_column(column: str, columns: Sequence[str]) -> None:
    from surveytool.errors import ResponsesError

    raise ResponsesError(
        f"column {column!r} is not in the file; its columns are: {', '.join(columns[:30])}"
    )


def score_responses_dask(
    instrument: Instrument | str,
    data: dd.DataFrame | Dataset,
    *,
    id_column: str | None = None,
    form: str | None = None,
    group_columns: Sequence[str] = (),
    ignore_columns: Sequence[str] = (),
) -> DaskScoreResult:
    """Score a Dask DataFrame (or a :class:`Dataset`) lazily: scores and issues as Dask
    DataFrames with explicit ``meta``, one partition each per input partition."""
    import dask

    options, frame, offsets, carried, meta = _plan(
        instrument, data, id_column, form, group_columns, ignore_columns
    )
    with dask.config.set({"dataframe.convert-string": False}):
        scores = frame.map_partitions(
            _scores_of, options, offsets, carried, meta, meta=meta, align_dataframes=False
        )
        issues = frame.map_partitions(
            _issues_of, options, offsets, carried, meta=_issues_meta(), align_dataframes=False
        )
    from surveytool.scoring.engine import provenance

    rows = frame.shape[0]
    return DaskScoreResult(
        scores=scores,
        issues=issues,
        provenance=provenance(options.instrument, form),
        rows_read=rows,
    )


def score_dask(
    instrument: Instrument | str,
    data: dd.DataFrame | Dataset,
    *,
    id_column: str | None = None,
    form: str | None = None,
    group_columns: Sequence[str] = (),
    ignore_columns: Sequence[str] = (),
) -> dd.DataFrame:
    """The scores table of a Dask DataFrame, lazily (a Dask DataFrame)."""
    return score_responses_dask(
        instrument,
        data,
        id_column=id_column,
        form=form,
        group_columns=group_columns,
        ignore_columns=ignore_columns,
    ).scores


# --- writing a scored dataset ----------------------------------------------------------------


@dataclass(frozen=True)
class WrittenScores:
    """What :func:`write_scores` wrote and counted."""

    scores: Path | None
    quarantine: Path | None
    rows_read: int
    rows_scored: int
    rows_quarantined: int
    issue_counts: dict[str, int]
    kind_counts: dict[str, int]
    first_issues: pd.DataFrame
    parts: int

    @property
    def issues(self) -> int:
        return sum(self.issue_counts.values())

    def counts_line(self) -> str:
        return (
            f"rows read {self.rows_read} = rows scored {self.rows_scored} + rows quarantined "
            f"{self.rows_quarantined}"
        )


def _write_part(table: Any, path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, path)
    os.chmod(path, FILE_MODE)


def _write_partition(
    frame: pd.DataFrame,
    options: ScoreOptions,
    offsets: Sequence[int],
    carried: Mapping[int, pd.DataFrame],
    meta: pd.DataFrame,
    folders: tuple[str, str],
    metadata: Mapping[str, Any],
    keep: int,
    partition_info: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Score one partition, write its scores and issues as ``part-NNNNN.parquet``; the counts."""
    import pyarrow as pa

    from surveytool.io.tables import METADATA_KEY

    i = _part_number(partition_info)
    part = score_partition(
        frame, options, offset=int(offsets[i]), carried=carried.get(i), column_issues=i == 0
    )
    scores = pa.Table.from_pandas(_conform(part.scores, meta), preserve_index=False)
    existing = dict(scores.schema.metadata or {})
    existing[METADATA_KEY] = json.dumps(dict(metadata), sort_keys=True).encode("utf-8")
    _write_part(
        scores.replace_schema_metadata(existing), Path(folders[0]) / f"part-{i:05d}.parquet"
    )
    ids = [options.id_column] if options.id_column else []  # the scores carry the ids anyway
    issues = redact_issues(part.issues, keep_columns=ids).astype(_issues_meta().dtypes.to_dict())
    if len(issues):
        _write_part(
            pa.Table.from_pandas(issues, preserve_index=False),
            Path(folders[1]) / f"part-{i:05d}.parquet",
        )
    codes = issues["code"].value_counts()
    kinds = issues["kind"].value_counts()
    return pd.DataFrame(
        {
            "part": [i],
            "rows_read": [part.rows_read],
            "rows_scored": [part.rows_scored],
            "codes": [json.dumps({str(k): int(v) for k, v in codes.items()})],
            "kinds": [json.dumps({str(k): int(v) for k, v in kinds.items()})],
            "first": [issues.head(keep).to_json(orient="records")],
        }
    )


def check_output(output: str | Path, inputs: Sequence[str | Path] = ()) -> None:
    """Refuse, before any work, a scores output whose folder (or whose quarantine folder) holds
    anything but an earlier run's ``part-*.parquet`` files, or holds one of ``inputs``: the
    dataset is written whole, so replacing the folder would delete them."""
    from surveytool.io.files import refuse_folder_replacement

    output = Path(output)
    for folder, label in ((output, "scores dataset"), (quarantine_folder(output), "quarantine")):
        refuse_folder_replacement(folder, label, ours=_our_part, inputs=inputs)


def _our_part(name: str) -> bool:
    """A file of a scores or quarantine dataset as :func:`write_scores` writes it."""
    return name.startswith("part-") and name.endswith(".parquet")


def quarantine_folder(output: Path) -> Path:
    """The quarantine dataset beside a scores dataset: ``<stem>.quarantine.parquet``."""
    output = Path(os.path.abspath(output))  # "." and "sub/.." have a name once absolute
    stem = output.name[: -len(output.suffix)] if output.suffix else output.name
    return output.with_name(f"{stem}.quarantine.parquet")


def write_scores(
    instrument: Instrument | str,
    data: dd.DataFrame | Dataset,
    output: str | Path,
    *,
    id_column: str | None = None,
    form: str | None = None,
    group_columns: Sequence[str] = (),
    ignore_columns: Sequence[str] = (),
    strict: bool = False,
    keep_issues: int = 20,
) -> WrittenScores:
    """Score ``data`` into the Parquet dataset ``output`` (a folder), issues beside it.

    The quarantine dataset (:func:`quarantine_folder`) holds every issue (the columns of
    :data:`surveytool.problems.ISSUE_COLUMNS`); it is written only when there are issues, and
    one left by an earlier run is removed otherwise. With ``strict``, any issue means no scores
    are written (the quarantine is). Returns the counts and the first ``keep_issues`` issues.
    """
    from surveytool.engine.datasets import Dataset
    from surveytool.io.files import atomic_folder

    output = Path(output)
    quarantine = quarantine_folder(output)
    check_output(output, list(data.files) if isinstance(data, Dataset) else [])
    options, frame, offsets, carried, meta = _plan(
        instrument, data, id_column, form, group_columns, ignore_columns, eager=True
    )
    from surveytool.scoring.engine import provenance

    metadata = provenance(options.instrument, form).as_metadata()
    found: dict[str, Any] = {}
    try:
        with atomic_folder(quarantine) as tmp_issues:
            try:
                with atomic_folder(output) as tmp_scores:
                    os.chmod(tmp_scores, FOLDER_MODE)
                    os.chmod(tmp_issues, FOLDER_MODE)
                    found["counts"] = _run_writes(
                        frame,
                        options,
                        offsets,
                        carried,
                        meta,
                        (tmp_scores, tmp_issues),
                        metadata,
                        keep_issues,
                    )
                    if strict and _total(found["counts"]):
                        raise _Discard
            except _Discard:
                pass
            if not _total(found["counts"]):
                raise _Discard
    except _Discard:
        if quarantine.exists():  # an earlier run's report would describe other data
            shutil.rmtree(quarantine)
    counts = found["counts"]
    issue_counts = _issue_counts(counts)
    total = sum(issue_counts.values())
    first = [r for text in counts["first"] for r in json.loads(text)]
    read = int(counts["rows_read"].sum())
    scored = int(counts["rows_scored"].sum())
    return WrittenScores(
        scores=None if strict and total else output,
        quarantine=quarantine if total else None,
        rows_read=read,
        rows_scored=scored,
        rows_quarantined=read - scored,
        issue_counts=issue_counts,
        kind_counts=_issue_counts(counts, "kinds"),
        first_issues=_first_issues(first, keep_issues),
        parts=len(counts),
    )


class _Discard(Exception):
    """Leave an :func:`~surveytool.io.files.atomic_folder` block without replacing its target."""


def _run_writes(
    frame: dd.DataFrame,
    options: ScoreOptions,
    offsets: Any,
    carried: Any,
    meta: pd.DataFrame,
    folders: tuple[Path, Path],
    metadata: Mapping[str, Any],
    keep_issues: int,
) -> pd.DataFrame:
    """Write every partition's scores and quarantine (:func:`_write_partition`): one row of counts
    a partition, in partition order; a file that broke or a worker that died is an EngineError."""
    import dask

    try:
        with dask.config.set({"dataframe.convert-string": False}):
            counts: pd.DataFrame = frame.map_partitions(
                _write_partition,
                options,
                offsets,
                carried,
                meta,
                (str(folders[0]), str(folders[1])),
                dict(metadata),
                keep_issues,
                meta=pd.DataFrame(
                    {
                        "part": pd.Series([], dtype="int64"),
                        "rows_read": pd.Series([], dtype="int64"),
                        "rows_scored": pd.Series([], dtype="int64"),
                        "codes": pd.Series([], dtype=object),
                        "kinds": pd.Series([], dtype=object),
                        "first": pd.Series([], dtype=object),
                    }
                ),
                align_dataframes=False,
            ).compute()
    except (OSError, ValueError) as exc:  # a file changed or broke under us (pyarrow's errors)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EngineError(
            f"a partition could not be scored ({reason}); nothing was written: check that the "
            "dataset's files are whole and unchanged while it is scored"
        ) from None
    except Exception as exc:
        if type(exc).__name__ != "KilledWorker":
            raise
        raise EngineError(
            "a Dask worker died while scoring (most often over its memory limit); nothing was "
            "written: give the workers more memory (--memory-limit) or write the dataset with "
            "smaller row groups"
        ) from None
    return counts.sort_values("part").reset_index(drop=True)


def _issue_counts(counts: pd.DataFrame, column: str = "codes") -> dict[str, int]:
    out: dict[str, int] = {}
    for text in counts[column]:
        for code, k in json.loads(text).items():
            out[code] = out.get(code, 0) + int(k)
    return out


def _total(counts: pd.DataFrame) -> int:
    return sum(_issue_counts(counts).values())


def _first_issues(records: list[dict[str, Any]], keep: int) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records, columns=list(ISSUE_COLUMNS))
    if len(frame):
        frame["row"] = frame["row"].astype("Int64")
        frame = frame.sort_values("row", na_position="first", kind="stable")
    return frame.head(keep).reset_index(drop=True)


def read_scores_metadata(folder: str | Path) -> dict[str, Any] | None:
    """The provenance a scores dataset's parts carry (as :func:`surveytool.io.tables.read_metadata`
    gives it for one file), from its first part."""
    import pyarrow.parquet as pq

    from surveytool.engine.datasets import dataset_files
    from surveytool.io.tables import METADATA_KEY

    files = dataset_files(folder)
    raw = (pq.read_schema(files[0]).metadata or {}).get(METADATA_KEY)
    return None if raw is None else dict(json.loads(raw))
