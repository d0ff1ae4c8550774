"""The report as one self-contained HTML page (jinja2, autoescaped; figures as inline SVG)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass
from analysis.report.build import CohortReport
from analysis.report.format import rendered
from analysis.report.sections import SECTIONS


def environment() -> Any:
    """The jinja2 environment of the report (autoescape on, as surveytool.report's)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader("analysis.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(report: CohortReport) -> str:
    """The report as one self-contained HTML page."""
    from markupsafe import Markup

    sections = []
    for section in SECTIONS:
        sections.append(
            {
                "section": section,
                "tables": [rendered(t) for t in report.in_section(section.id)],
                "figures": [
                    (title, Markup(svg))  # matplotlib's own escaped SVG, ids rewritten
                    for title, svg in report.figures.get(section.id, [])
                ],
                "texts": report.texts.get(section.id, []),
            }
        )
    template = environment().get_template("cohort_report.html")
    return str(
        template.render(
            report=report,
            inst=report.instrument,
            sections=sections,
            model=report.model,
            files=[t.csv for t in report.tables],
        )
    )
