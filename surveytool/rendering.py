"""Terminal renderings (rich) of instruments, shared by ``instruments show`` and the demo."""

from __future__ import annotations

from collections.abc import Iterator

from rich.console import RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from surveytool.instrument.model import Instrument


def provenance_panel(inst: Instrument) -> Panel:
    """Title, version, status, source, provenance, licence and disclaimer."""
    body = Text()
    body.append(f"{inst.title}", style="bold")
    body.append(f"  ({inst.id} {inst.version}, {inst.validation_status.value})\n")
    for label, value in (
        ("Description", inst.description),
        ("Timeframe", inst.timeframe),
        ("Source", inst.source),
        ("Provenance", inst.provenance),
        ("Licence", inst.licence),
        ("Content hash", inst.content_hash[:16]),
    ):
        if value:
            body.append(f"{label}: ", style="bold")
            body.append(f"{value.strip()}\n")
    if inst.disclaimer:
        body.append(inst.disclaimer.strip(), style="italic")
    return Panel(body, title="Instrument", expand=False)


def scale_table(inst: Instrument) -> Table:
    table = Table(title="Response scales")
    for col in ("scale", "range", "labels", "missing codes"):
        table.add_column(col)
    for name, scale in inst.response_scales.items():
        labels = "; ".join(f"{k} {v}" for k, v in sorted(scale.labels.items()))
        missing = "; ".join(f"{k} {v}" for k, v in sorted(scale.missing_codes.items()))
        table.add_row(escape(name), f"{scale.min}..{scale.max}", escape(labels), escape(missing))
    return table


def subscale_table(inst: Instrument, subscale_id: str) -> Table:
    """Items of one subscale, with ``R`` marking reverse-keyed items and their source."""
    sub = inst.subscale_by_id[subscale_id]
    critical = {c.item for c in inst.checks}
    table = Table(
        title=escape(
            f"{sub.label} [{sub.id}] — {sub.method.value}, min_answered {sub.min_answered}"
        ),
        title_justify="left",
        show_lines=False,
    )
    table.add_column("item", no_wrap=True)
    table.add_column("R", justify="center")
    table.add_column("text")
    table.add_column("source")
    for item_id in sub.items:
        item = inst.item_by_id[item_id]
        src = item.source
        where = ""
        if src is not None:
            where = " / ".join(
                x for x in (src.section, src.sign, src.cause, src.practice) if x is not None
            )
        mark = "R" if item.reverse else ""
        text = item.text + ("  [critical]" if item_id in critical else "")
        table.add_row(escape(item.id), mark, escape(text), escape(where))
    return table


def instrument_renderables(inst: Instrument) -> Iterator[RenderableType]:
    """Everything ``instruments show`` prints, in order."""
    yield provenance_panel(inst)
    yield scale_table(inst)
    for sub in inst.subscales:
        yield subscale_table(inst, sub.id)
    if inst.composites:
        comp = Table(title="Composites")
        for col in ("id", "label", "method", "components"):
            comp.add_column(col)
        for c in inst.composites:
            comp.add_row(escape(c.id), escape(c.label), c.method, escape(", ".join(c.components)))
        yield comp
    if inst.checks:
        checks = Table(title="Critical checks (never scored)", title_justify="left")
        for col in ("check", "item", "text", "met when", "level", "skip", "missing code"):
            checks.add_column(col)
        for check in inst.checks:
            item = inst.item_by_id[check.item]
            text = item.text + ("" if item.scored else "  [not scored]")
            checks.add_row(
                escape(check.id),
                escape(check.item),
                escape(text),
                escape(check.rule.describe(inst.scale_of(check.item))),
                check.level.value,
                check.on_skip.value,
                check.on_missing_code.value,
            )
        yield checks
    for form in inst.short_forms:
        yield Text(  # Text is never parsed as markup
            f"Short form {form.id!r} ({form.label}): {len(form.items)} items: "
            + ", ".join(form.items)
        )
    yield Text("R = reverse-keyed item (scored as min + max - answer)", style="dim")
