"""``surveytool score`` and ``surveytool simulate``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from surveytool.cli.common import (
    echo_issues,
    instrument_option,
    output_option,
    refuse_input_collisions,
)
from surveytool.engine.cluster import engine_options


def _quarantine_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.quarantine.csv")


@click.command()
@instrument_option
@click.argument("responses", type=click.Path(path_type=Path))
@click.option("--id-column", help="Respondent id column (default: rows are numbered).")
@click.option("--form", help="Score a short form of the instrument.")
@click.option(
    "--group-columns",
    "group_columns",
    multiple=True,
    help="Columns carried along and used for stratified norms (repeat or comma-separate).",
)
@click.option("--ignore-columns", multiple=True, help="Non-item columns not to report as unknown.")
@click.option(
    "--strict", is_flag=True, help="Fail on any invalid cell, row or column; write no scores."
)
@output_option("Scores file: .csv, .parquet or .json; on Dask a Parquet dataset (a folder).")
@engine_options("Dask for a folder or a Parquet file over SURVEYTOOL_DASK_ROWS rows (auto).")
def score(
    instrument: str,
    responses: Path,
    id_column: str | None,
    form: str | None,
    group_columns: tuple[str, ...],
    ignore_columns: tuple[str, ...],
    strict: bool,
    output: Path,
    engine: str,
    scheduler: str | None,
    workers: int,
    memory_limit: str | None,
) -> None:
    """Score a responses file (CSV, TSV, XLSX, Parquet, SPSS .sav, JSON lines, or FHIR
    QuestionnaireResponses: one, or a Bundle, as .json), or a Parquet dataset (a folder).

    Invalid cells count as missing and are listed, with every unknown column and quarantined row,
    in OUTPUT's quarantine file (<name>.quarantine.csv); --strict stops instead.

    On Dask (--engine dask, or auto for a folder or a large Parquet file) the scores are a
    Parquet dataset: OUTPUT is a folder (scores/ or scores.parquet) of one part per partition,
    and the quarantine a Parquet dataset beside it (<name>.quarantine.parquet/).
    """
    from surveytool.engine.cluster import choose_engine
    from surveytool.errors import InvalidResponsesError, SurveytoolError
    from surveytool.instrument.registry import load_instrument
    from surveytool.io.sources import read_source, refuse_unsplit
    from surveytool.io.tables import table_format, write_table
    from surveytool.privacy import redact_issues
    from surveytool.scoring.engine import score_responses

    groups = [g.strip() for spec in group_columns for g in spec.split(",") if g.strip()]
    ignored = [g.strip() for spec in ignore_columns for g in spec.split(",") if g.strip()]
    chosen = choose_engine(engine, responses)
    if chosen == "memory" and responses.is_dir():
        raise SurveytoolError(
            f"{responses}: a folder is read as a Parquet dataset, on the Dask engine; give "
            "--engine dask (or auto), or a file"
        )
    if chosen == "dask":
        _score_on_dask(
            instrument,
            responses,
            output,
            id_column,
            form,
            groups,
            ignored,
            strict,
            scheduler,
            workers,
            memory_limit,
        )
        return
    table_format(output)  # refuse an unknown output format before any work
    quarantine = _quarantine_path(output)
    _refuse_collisions(output, quarantine, responses, instrument)
    inst = load_instrument(instrument)
    carried = [c for c in [id_column, *groups] if c]
    named = {*(item.id for item in inst.items), *carried}  # Parquet: the rest named, not read
    source = read_source(
        responses, text_columns=carried, wanted=lambda names: [n for n in names if n in named]
    )
    refuse_unsplit(source, inst.form_items(form), f"{inst.id}'s form {form!r}" if form else inst.id)
    for note in source.notes:
        click.echo(f"note: {note}", err=True)
    if source.format == "fhir" or (source.default_id_column and source.format == "parquet"):
        # QuestionnaireResponses, a cohort file: their id, and none of their other metadata
        id_column = id_column or source.default_id_column
        ignored += [c for c in source.metadata_columns if c != id_column and c not in groups]
    frame = source.frame
    if source.repeated_columns:  # the copies under their own names: read_responses reports
        # each as duplicate_column ("appears twice; the first is used"), not as unknown 'A1.1'
        frame = frame.set_axis([source.repeated_columns.get(c, c) for c in frame.columns], axis=1)
    # the report shows what was wrong, not who it was about (the ids are the scores' own)
    keep = [id_column] if id_column else []
    try:
        result = score_responses(
            inst,
            frame,
            id_column=id_column,
            form=form,
            group_columns=groups,
            ignore_columns=ignored,
            strict=strict,
            formula_cells=source.formula_cells,
            unread_columns=source.unread_columns,
        )
    except InvalidResponsesError as exc:
        _remove_stale_scores(output)
        shown = redact_issues(exc.issues, keep_columns=keep)
        write_table(shown, quarantine)
        echo_issues(shown)
        click.echo(f"error: {exc}; the report is in {quarantine}", err=True)
        sys.exit(1)
    written = write_table(result.scores, output, metadata=result.provenance.as_metadata())
    if len(result.issues):
        shown = redact_issues(result.issues, keep_columns=keep)
        write_table(shown, quarantine)
        echo_issues(shown)
        click.echo(f"quarantine report: {quarantine}", err=True)
    elif quarantine.exists():
        quarantine.unlink()  # a report left by an earlier run would describe other data
    click.echo(f"scores: {', '.join(str(p) for p in written)}")
    click.echo(result.counts_line())


def _score_on_dask(
    instrument: str,
    responses: Path,
    output: Path,
    id_column: str | None,
    form: str | None,
    groups: list[str],
    ignored: list[str],
    strict: bool,
    scheduler: str | None,
    workers: int,
    memory_limit: str | None,
) -> None:
    """``score`` on the Dask engine: a Parquet dataset in, a Parquet dataset out."""
    from surveytool.engine import cluster, parse_memory_limit, read_dataset
    from surveytool.engine.scoring import write_scores
    from surveytool.errors import SurveytoolError
    from surveytool.instrument.registry import load_instrument

    if output.suffix.lower() not in ("", ".parquet", ".pq"):
        raise SurveytoolError(
            f"{output}: on the Dask engine the scores are a Parquet dataset (a folder); give "
            "-o scores/ or -o scores.parquet (or --engine memory for one file)"
        )
    if output.is_file():
        raise SurveytoolError(
            f"{output}: a file is there, and the Dask engine writes a folder; remove the file "
            "or give another name"
        )
    from surveytool.engine.scoring import check_output, quarantine_folder

    refuse_input_collisions(
        {"scores": output, "quarantine report": quarantine_folder(output)},
        {"responses": responses},
        instrument,
    )
    limit = parse_memory_limit(memory_limit)  # refused before a cluster starts
    inst = load_instrument(instrument)
    if form is not None:
        inst.form_items(form)  # an unknown short form is refused before any work
    text_columns = [c for c in [id_column, *groups] if c]
    data = read_dataset(responses, text_columns=text_columns)
    check_output(output, data.files)  # never a folder holding other files, or the input
    with cluster(scheduler, workers=workers, memory_limit=limit):
        written = write_scores(
            inst,
            data,
            output,
            id_column=id_column,
            form=form,
            group_columns=groups,
            ignore_columns=ignored,
            strict=strict,
        )
    if written.issues:
        from surveytool.problems import issue_lines

        for line in issue_lines(written.first_issues, kinds=written.kind_counts):
            click.echo(line, err=True)
    if strict and written.issues:
        _remove_stale_dataset(output)
        click.echo(
            f"error: {written.issues} problem(s) in the responses; nothing was scored; the "
            f"report is in {written.quarantine}",
            err=True,
        )
        sys.exit(1)
    if written.quarantine is not None:
        click.echo(f"quarantine report: {written.quarantine}", err=True)
    click.echo(f"scores: {output} (a Parquet dataset of {written.parts} part(s))")
    click.echo(written.counts_line())


def _remove_stale_dataset(output: Path) -> None:
    """``--strict`` on Dask wrote no scores: a scores dataset of an earlier run there goes."""
    import shutil

    from surveytool.engine.scoring import read_scores_metadata
    from surveytool.errors import SurveytoolError

    if not output.is_dir():
        return
    try:
        metadata = read_scores_metadata(output)
    except (OSError, ValueError, SurveytoolError):
        return  # not a scores dataset we can recognize: leave it
    if metadata and "instrument_hash" in metadata:
        shutil.rmtree(output)
        click.echo(f"note: removed the scores of an earlier run, {output}", err=True)


def _refuse_collisions(output: Path, quarantine: Path, responses: Path, instrument: str) -> None:
    """No output (scores, their metadata sidecar, the quarantine report) may be the responses
    or the instrument file, by any spelling: refused before any work, nothing written."""
    refuse_input_collisions(
        {
            "scores": output,
            "scores' metadata": output.with_name(output.name + ".meta.json"),
            "quarantine report": quarantine,
        },
        {"responses": responses},
        instrument,
    )


def _remove_stale_scores(output: Path) -> None:
    """``--strict`` wrote no scores: scores left there by an earlier run would sit beside the new
    quarantine report as if they were this run's. Only a scores file (its metadata says so) goes.
    """
    from surveytool.io.tables import read_metadata

    if not output.is_file():
        return
    try:
        metadata = read_metadata(output)
    except (OSError, ValueError):
        return  # not a scores file we can recognize: leave it
    if not metadata or "instrument_hash" not in metadata:
        return
    sidecar = output.with_name(output.name + ".meta.json")
    output.unlink()
    if sidecar.is_file():
        sidecar.unlink()
    click.echo(f"note: removed the scores of an earlier run, {output}", err=True)


@click.command()
@click.argument("instrument")
@click.option("--n", "n", type=click.IntRange(min=1), required=True, help="Respondents.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--trait-correlation", type=float, default=0.3, show_default=True)
@click.option(
    "--missing",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.0,
    show_default=True,
    help="Share of answers missing completely at random.",
)
@click.option(
    "--careless",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of careless responders.",
)
@click.option(
    "--careless-kind",
    type=click.Choice(["mixed", "straightline", "random"]),
    default="mixed",
    show_default=True,
)
@click.option("--mark-careless", is_flag=True, help="Add a simulated_careless column.")
@click.option("--group-column", help="Add a group column with this name.")
@click.option("--groups", default="a,b", show_default=True, help="Group values, comma-separated.")
@click.option(
    "--group-shift",
    type=float,
    default=0.0,
    show_default=True,
    help="Latent mean difference between successive groups (in SD units).",
)
@click.option("--form", help="Simulate only a short form's items.")
@click.option("--labels", is_flag=True, help="Write answers as scale labels instead of codes.")
@output_option("Output: .csv, .tsv, .parquet, .json or .jsonl.")
def simulate(
    instrument: str,
    n: int,
    seed: int,
    trait_correlation: float,
    missing: float,
    careless: float,
    careless_kind: str,
    mark_careless: bool,
    group_column: str | None,
    groups: str,
    group_shift: float,
    form: str | None,
    labels: bool,
    output: Path,
) -> None:
    """Simulate respondents from a graded response model (same seed, same file)."""
    from surveytool.instrument.registry import load_instrument
    from surveytool.io.tables import table_format, write_table
    from surveytool.scoring.simulate import SimulationSpec
    from surveytool.scoring.simulate import simulate as run

    table_format(output)
    inst = load_instrument(instrument)
    spec = SimulationSpec(
        n=n,
        seed=seed,
        trait_correlation=trait_correlation,
        missing=missing,
        careless=careless,
        careless_kind=careless_kind,  # type: ignore[arg-type]
        group_column=group_column,
        groups=tuple(g.strip() for g in groups.split(",") if g.strip()),
        group_shift=group_shift,
        form=form,
        labels=labels,
        mark_careless=mark_careless,
    )
    frame = run(inst, spec)
    write_table(frame, output)
    click.echo(f"wrote {n} simulated respondents of {inst.id} {inst.version} to {output}")
