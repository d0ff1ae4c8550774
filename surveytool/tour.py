"""The guided tour behind ``surveytool demo``: every step calls the real library."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table

from surveytool.instrument.registry import bundled_paths, load_instrument
from surveytool.rendering import provenance_panel, subscale_table
from surveytool.scoring.engine import score_responses
from surveytool.scoring.simulate import SimulationSpec, simulate


def run_tour(instrument_id: str = "ppai", *, n: int = 500, seed: int = 7) -> None:
    console = Console()
    inst = load_instrument(instrument_id)
    console.print(Rule("surveytool: a short tour"))
    console.print(
        f"Bundled instruments: {', '.join(bundled_paths())}. Each is a YAML file, validated "
        "with every problem reported at once (`surveytool instruments validate`)."
    )
    console.print(provenance_panel(inst))

    console.print(Rule("1. The instrument"))
    console.print(
        f"{len(inst.items)} items in {len(inst.subscales)} subscales and "
        f"{len(inst.composites)} composites; short forms: "
        f"{', '.join(f.id for f in inst.short_forms) or 'none'}."
    )
    console.print(subscale_table(inst, inst.subscales[0].id))
    console.print("See all of it with `surveytool instruments show ppai`.")

    console.print(Rule("2. One person's answers, scored"))
    person = simulate(inst, SimulationSpec(n=1, seed=seed, missing=0.05))
    result = score_responses(inst, person, id_column="respondent_id")
    table = Table(title="Scores (mean of answered items, 1-5)")
    for col in ("scale", "score", "answered", "band"):
        table.add_column(col)
    for one in result.person(0).scales:
        definition = inst.subscale_by_id.get(one.id) or inst.composite_by_id[one.id]
        table.add_row(
            escape(definition.label),
            "—" if one.score is None else f"{one.score:.2f}",
            str(one.answered),
            str(one.band) if one.ok else "not enough answers",
        )
    console.print(table)
    if inst.disclaimer:
        console.print(Panel(inst.disclaimer.strip(), title="What this is and is not", expand=False))

    console.print(Rule(f"3. A simulated cohort of {n}"))
    cohort = simulate(
        inst,
        SimulationSpec(
            n=n,
            seed=seed,
            missing=0.02,
            careless=0.03,
            group_column="group",
            groups=("a", "b"),
            group_shift=0.3,
        ),
    )
    scored = score_responses(inst, cohort, id_column="respondent_id", group_columns=["group"])
    summary = Table(title=f"Subscale means by group (graded response model, seed {seed})")
    summary.add_column("scale")
    for g in ("a", "b"):
        summary.add_column(f"group {g}", justify="right")
    summary.add_column("insufficient", justify="right")
    for scale in scored.scales:
        by_group = scored.scores.groupby("group", observed=True)[scale.id].mean()
        insufficient = int((~scale.scored).sum())
        summary.add_row(
            scale.id,
            *(f"{by_group.get(g, float('nan')):.2f}" for g in ("a", "b")),
            str(insufficient),
        )
    console.print(summary)
    console.print(scored.counts_line())
    console.print(Rule("Next"))
    console.print(
        "Try: `surveytool simulate ppai --n 1000 --seed 1 -o responses.csv`, then "
        "`surveytool score --instrument ppai responses.csv --id-column respondent_id -o scores.csv`."
    )
