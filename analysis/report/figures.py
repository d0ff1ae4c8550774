"""Figures of the cohort report: matplotlib, drawn on the Agg canvas, returned as inline SVG text.

Every function takes numbers that are already fit to publish (suppressed cells left out by the
caller) and returns an ``<svg>`` element ready to paste into HTML: no XML declaration, no DOCTYPE,
no namespace URLs or metadata, every ``id`` prefixed by the figure's name so several figures can
share a page, and text kept as text (``svg.fonttype = none``: the reader's own sans-serif font, no
font files). Nothing refers to another host.

pyplot is never imported: each figure is a :class:`matplotlib.figure.Figure` with its own Agg
canvas, so a notebook's backend and global figure list are left alone.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.privacy.suppression import DEFAULT_MIN_CELL

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from analysis.stats.tables import ValueCounts

MISSING_COLOUR = "#bdbdbd"
SUPPRESSED_COLOUR = "#737373"
LINE_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")

_ID = re.compile(r'\bid="([^"]+)"')
_REFERENCE = re.compile(r'(href="#|url\(#)([^")]+)("|\))')


def _figure(width: float, height: float) -> Figure:
    """A Figure on its own Agg canvas (matplotlib loads here, not when the module is imported).

    No layout engine: each figure places its axes itself (:func:`_margins`) from the sizes of its
    labels, measured once. A constrained layout measured every artist in an extra draw before
    the SVG's own, which was about half of a figure's time."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


_PAD = 0.06  # inches between a figure's edge and its outermost text


def _text_size(fig: Figure, texts: Sequence[str], size: float) -> tuple[float, float]:
    """The widest of ``texts`` and the height of a line at ``size`` points, in inches (the Agg
    renderer's font metrics; the SVG's text uses the reader's sans-serif, close to them)."""
    from matplotlib.font_manager import FontProperties

    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    prop = FontProperties(size=size)
    dpi = fig.dpi
    _, line, _ = renderer.get_text_width_height_descent("Ag", prop, ismath=False)
    widths = [renderer.get_text_width_height_descent(t, prop, ismath=False)[0] for t in texts]
    return (max(widths, default=0.0) / dpi, line / dpi)


def _margins(
    fig: Figure, *, left: float, right: float, top: float, bottom: float, **space: float
) -> None:
    """Place the subplots with margins in inches (``space``: wspace/hspace as subplots_adjust)."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(
        left=min(left / width, 0.45),
        right=max(1.0 - right / width, 0.55),
        top=max(1.0 - top / height, 0.55),
        bottom=min(bottom / height, 0.45),
        **space,
    )


def _tick_labels_height(line: float) -> float:
    """Inches from an axis to the far edge of its tick labels (ticks 3.5 pt, pad 3.5 pt)."""
    return (3.5 + 3.5) / 72 + line


def to_svg(fig: Figure, name: str) -> str:
    """The figure as an inline ``<svg>`` element (see the module docstring)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"surveytool-{name}"}):
        fig.savefig(
            buffer,
            format="svg",
            metadata={"Creator": None, "Date": None, "Format": None, "Type": None},
        )
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    text = text.replace("xlink:href=", "href=")
    prefix = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    ids = set(_ID.findall(text))
    text = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', text)
    # every reference to a known id, in one pass over the text
    text = _REFERENCE.sub(
        lambda m: (
            f"{m.group(1)}{prefix}-{m.group(2)}{m.group(3)}" if m.group(2) in ids else m.group(0)
        ),
        text,
    )
    text = text.replace("<svg ", f'<svg role="img" aria-label="{_attr(name)}" ', 1)
    return text.strip()


def _attr(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    )


# ---- score distributions ----------------------------------------------------------------------


def safe_bins(
    values: np.ndarray, edges: np.ndarray, min_cell: int = DEFAULT_MIN_CELL
) -> tuple[np.ndarray, np.ndarray]:
    """Histogram bins that each hold 0 or at least ``min_cell`` values: (edges, counts).

    Fine bins are merged from the left until a bin holds ``min_cell`` values; a remainder that
    is too small joins the last bin. Empty stretches before a bin starts stay empty bins. With
    fewer than ``min_cell`` values in all, no bin is returned (the histogram is suppressed).
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if len(values) < max(min_cell, 1):
        return np.array([]), np.array([], dtype=np.int64)
    fine, _ = np.histogram(values, bins=edges)
    return _merged_bins(fine, edges, min_cell)


def _merged_bins(
    fine: np.ndarray, edges: np.ndarray, min_cell: int
) -> tuple[np.ndarray, np.ndarray]:
    """Fine bins' counts merged from the left until a bin holds ``min_cell`` (see
    :func:`safe_bins`; the rows' and the counts' forms share it)."""
    out_edges = [float(edges[0])]
    out_counts: list[int] = []
    running = 0
    for count, right in zip(fine, edges[1:], strict=True):
        running += int(count)
        if running == 0 or running >= min_cell:
            out_edges.append(float(right))
            out_counts.append(running)
            running = 0
    if running:  # a small remainder: the last non-empty bin widens to the end and takes it
        last = max(i for i, c in enumerate(out_counts) if c > 0)
        out_counts = [*out_counts[:last], out_counts[last] + running]
        out_edges = [*out_edges[: last + 1], float(edges[-1])]
    return np.array(out_edges), np.array(out_counts, dtype=np.int64)


def _distribution_panels(count: int) -> tuple[Figure, np.ndarray]:
    """The score distributions' figure and its grid of panels (up to 4 a row), placed by fixed
    margins: a title line above each panel, its tick labels below, the figure's title on top."""
    columns = 4 if count > 4 else max(count, 1)
    rows = max(math.ceil(count / columns), 1)
    width, height = 2.6 * columns, 1.9 * rows + 0.3
    fig = _figure(width, height)
    _, title_line = _text_size(fig, [], 8)
    _, tick_line = _text_size(fig, [], 7)
    _, suptitle_line = _text_size(fig, [], 9)
    below = _tick_labels_height(tick_line)  # the x tick labels under a panel
    above = title_line + 6 / 72  # a panel's title (pad 6 pt)
    top = _PAD + suptitle_line + 0.08 + above
    bottom = _PAD + below
    panel_height = (height - top - bottom - (rows - 1) * (above + below + 0.08)) / rows
    side = 0.18  # the first and last tick labels reach past a panel's edges
    panel_width = (width - 2 * side - (columns - 1) * 0.3) / columns
    fig.subplots_adjust(
        left=side / width,
        right=1.0 - side / width,
        top=1.0 - top / height,
        bottom=bottom / height,
        wspace=0.3 / panel_width,
        hspace=(above + below + 0.08) / panel_height,
    )
    return fig, fig.subplots(rows, columns, squeeze=False)


def _distributions_title(fig: Figure, min_cell: int) -> None:
    height = float(fig.get_size_inches()[1])
    fig.suptitle(
        f"Score distributions (density; bins merged until each holds ≥ {min_cell} respondents)",
        fontsize=9,
        y=1.0 - _PAD / height,
        va="top",
    )


def score_distributions(
    scores: Mapping[str, np.ndarray],
    labels: Mapping[str, str],
    ranges: Mapping[str, tuple[float, float]],
    *,
    steps: Mapping[str, float] | None = None,
    min_cell: int = DEFAULT_MIN_CELL,
    fine_bins: int = 24,
) -> str:
    """Small multiples: a density histogram per scale whose bins hold 0 or ≥ ``min_cell``.

    ``steps``: the spacing of a scale's possible scores (1/k for the mean of k items on an integer
    scale); when most scores lie on that grid, fine bins are centred on its points, so discrete
    scores are not aliased into uneven bars. Otherwise ``fine_bins`` equal bins over the range.
    """
    names = list(scores)
    fig, axes = _distribution_panels(len(names))
    for k, ax in enumerate(axes.flat):
        if k >= len(names):
            ax.set_visible(False)
            continue
        name = names[k]
        low, high = ranges.get(name, (math.nan, math.nan))
        x = np.asarray(scores[name], dtype=np.float64)
        x = x[~np.isnan(x)]
        if not (math.isfinite(low) and math.isfinite(high) and high > low):
            low, high = (float(x.min()), float(x.max())) if len(x) else (0.0, 1.0)
            high = high if high > low else low + 1.0
        edges = _fine_edges(x, low, high, (steps or {}).get(name), fine_bins)
        edges_out, counts = safe_bins(np.clip(x, edges[0], edges[-1]), edges, min_cell)
        if len(counts):
            widths = np.diff(edges_out)
            density = counts / (counts.sum() * widths)
            # one filled outline per histogram (the bars side by side), not a patch per bar
            ax.stairs(density, edges_out, fill=True, color="#4c72b0", alpha=0.85, linewidth=0)
        else:
            ax.text(0.5, 0.5, "suppressed", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlim(edges[0], edges[-1])
        ax.set_title(labels.get(name, name), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    _distributions_title(fig, min_cell)
    return to_svg(fig, "score-distributions")


def safe_bins_from_counts(
    counted: ValueCounts, edges: np.ndarray, min_cell: int = DEFAULT_MIN_CELL
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`safe_bins` of the values counted in ``counted`` (each value with its count)."""
    if counted.n < max(min_cell, 1):
        return np.array([]), np.array([], dtype=np.int64)
    values = np.clip(counted.values, edges[0], edges[-1])
    fine = np.histogram(values, bins=edges, weights=counted.counts)[0].astype(np.int64)
    return _merged_bins(fine, edges, min_cell)


def score_distributions_from_counts(
    counts: Mapping[str, ValueCounts],
    labels: Mapping[str, str],
    ranges: Mapping[str, tuple[float, float]],
    *,
    steps: Mapping[str, float] | None = None,
    min_cell: int = DEFAULT_MIN_CELL,
    fine_bins: int = 24,
) -> str:
    """:func:`score_distributions` drawn from the exact counts of each scale's score values
    (:class:`analysis.stats.norms.ScoreCounts`, merged over a Dask cohort's partitions): the
    same bins and the same figure as from the scores themselves."""
    names = list(counts)
    fig, axes = _distribution_panels(len(names))
    for k, ax in enumerate(axes.flat):
        if k >= len(names):
            ax.set_visible(False)
            continue
        name = names[k]
        counted = counts[name]
        low, high = ranges.get(name, (math.nan, math.nan))
        x = np.asarray(counted.values, dtype=np.float64)
        if not (math.isfinite(low) and math.isfinite(high) and high > low):
            low, high = (float(x.min()), float(x.max())) if len(x) else (0.0, 1.0)
            high = high if high > low else low + 1.0
        edges = _fine_edges(x, low, high, (steps or {}).get(name), fine_bins, counted.counts)
        edges_out, binned = safe_bins_from_counts(counted, edges, min_cell)
        if len(binned):
            widths = np.diff(edges_out)
            density = binned / (binned.sum() * widths)
            ax.stairs(density, edges_out, fill=True, color="#4c72b0", alpha=0.85, linewidth=0)
        else:
            ax.text(0.5, 0.5, "suppressed", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlim(edges[0], edges[-1])
        ax.set_title(labels.get(name, name), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    _distributions_title(fig, min_cell)
    return to_svg(fig, "score-distributions")


def _fine_edges(
    x: np.ndarray,
    low: float,
    high: float,
    step: float | None,
    fine_bins: int,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    if step and step > 0:
        points = round((high - low) / step)
        if 1 <= points <= 80 and len(x):
            on_grid = np.abs((x - low) / step - np.round((x - low) / step)) < 1e-6
            share = on_grid.mean() if weights is None else np.average(on_grid, weights=weights)
            if share >= 0.9:
                return np.linspace(low - step / 2, high + step / 2, points + 2)
    return np.linspace(low, high, fine_bins + 1)


# ---- item response bars -----------------------------------------------------------------------


def item_response_bars(
    counts: pd.DataFrame,
    missing: pd.Series,
    hidden: pd.DataFrame,
    rows: int,
) -> str:
    """Stacked horizontal bars: each item's answers as shares of all respondents.

    ``counts`` (items x answer points) and ``missing`` hold the published counts; ``hidden``
    (items x answer points plus ``missing``) marks suppressed cells, which are drawn together as
    one hatched "suppressed" segment (their sum is the row total minus the published cells, so
    the segment shows nothing the tables do not).
    """
    import matplotlib
    from matplotlib.collections import PolyCollection

    height = 0.24 * len(counts) + 1.4
    fig = _figure(8.0, height)
    labels = [str(i) for i in counts.index]
    label_width, line = _text_size(fig, labels, 7)
    _, axis_line = _text_size(fig, [], 10)
    points = list(counts.columns)
    entries = len(points) + 1 + int(bool(hidden.to_numpy().any()))
    ncols = min(len(points) + 2, 8)
    legend_height = math.ceil(entries / ncols) * line * 1.7 + 0.12
    _margins(
        fig,
        left=_PAD + label_width + 7 / 72,
        right=0.15,
        top=_PAD + legend_height + 0.05,
        bottom=_PAD + _tick_labels_height(axis_line) + axis_line + 4 / 72,
    )
    ax = fig.subplots()
    palette = matplotlib.colormaps["RdYlBu_r"](np.linspace(0.08, 0.92, max(len(points), 2)))
    y = np.arange(len(counts))[::-1]
    left = np.zeros(len(counts))
    total = float(rows) if rows else 1.0

    def segments(width: np.ndarray, label: str, height: float, **style: Any) -> None:
        """One collection of every item's segment of a kind (a patch per segment was most of
        the figure's time), drawn as ``barh(y, width, left=left, height=height)`` would."""
        x0, x1 = left, left + width
        y0, y1 = y - height / 2, y + height / 2
        boxes = np.stack(
            [np.column_stack(corner) for corner in ((x0, y0), (x0, y1), (x1, y1), (x1, y0))],
            axis=1,
        )
        ax.add_collection(PolyCollection(list(boxes), label=label, **style), autolim=False)

    for j, point in enumerate(points):
        published = counts[point].where(~hidden[point], 0).fillna(0).to_numpy(dtype=np.float64)
        segments(published / total, str(point), 0.8, facecolors=palette[j], linewidths=0.0)
        left += published / total
    missing_published = missing.where(~hidden["missing"], 0).fillna(0).to_numpy(dtype=np.float64)
    segments(missing_published / total, "missing", 0.8, facecolors=MISSING_COLOUR, linewidths=0.0)
    left += missing_published / total
    rest = np.clip(1.0 - left, 0.0, None)
    rest[~hidden.any(axis=1).to_numpy()] = 0.0
    if rest.any():
        segments(
            rest,
            "suppressed",
            0.8,
            facecolors="white",
            edgecolors=SUPPRESSED_COLOUR,
            hatch="///",
            linewidths=0.0,
        )
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.6, len(counts) - 0.4)
    ax.set_xlabel("share of all respondents")
    fig.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, 1.0 - _PAD / height),
        ncols=ncols,
        fontsize=7,
    )
    return to_svg(fig, "item-responses")


# ---- heat maps ----------------------------------------------------------------------------------


def heatmap(
    matrix: pd.DataFrame,
    name: str,
    title: str,
    *,
    annotate_above: float = 0.0,
    vmax: float = 1.0,
) -> str:
    """A diverging heat map (−vmax..vmax) with values written where |value| ≥ annotate_above."""
    values = matrix.to_numpy(dtype=np.float64)
    n_rows, n_cols = values.shape
    width, height = max(3.5, 0.42 * n_cols + 2.2), max(2.5, 0.26 * n_rows + 1.4)
    fig = _figure(width, height)
    column_labels = [str(c) for c in matrix.columns]
    row_labels = [str(i) for i in matrix.index]
    row_width, _ = _text_size(fig, row_labels, 7)
    column_height, _ = _text_size(fig, column_labels, 7)  # written upright (rotated 90°)
    bar_width, _ = _text_size(fig, [f"{-vmax:.1f}", f"{vmax:.1f}"], 10)
    _, title_line = _text_size(fig, [], 9)
    left = _PAD + row_width + 7 / 72
    right = _PAD + bar_width + 7 / 72
    top = _PAD + title_line + 6 / 72
    bottom = _PAD + column_height + 7 / 72
    _margins(fig, left=left, right=right, top=top, bottom=bottom)
    ax = fig.subplots()
    mesh = ax.pcolormesh(
        np.ma.masked_invalid(values), cmap="RdBu_r", vmin=-vmax, vmax=vmax, edgecolors="none"
    )
    ax.set_xticks(np.arange(n_cols) + 0.5, column_labels, rotation=90, fontsize=7)
    ax.set_yticks(np.arange(n_rows) + 0.5, row_labels, fontsize=7)
    ax.invert_yaxis()
    for i in range(n_rows):
        for j in range(n_cols):
            v = values[i, j]
            if np.isfinite(v) and abs(v) >= annotate_above:
                ax.text(
                    j + 0.5,
                    i + 0.5,
                    f"{v:.2f}".replace("0.", ".", 1),
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if abs(v) > 0.6 * vmax else "black",
                )
    # the colour bar takes the right of the axes' place (its labels are in the right margin)
    bar = fig.colorbar(mesh, ax=ax, shrink=0.6, fraction=0.08, pad=0.03)
    if bar.solids is not None:  # vector, not an embedded PNG (matplotlib rasterizes long ramps)
        bar.solids.set_rasterized(False)
    ax.set_title(title, fontsize=9)
    return to_svg(fig, name)


# ---- scree and parallel analysis ----------------------------------------------------------------


def scree_plot(eigenvalues: pd.DataFrame, n_factors: int, quantile: float) -> str:
    """Observed eigenvalues (components and common factors) against random data's quantile."""
    fig = _figure(6.0, 3.6)
    tick_width, line = _text_size(fig, ["00.0"], 10)
    _, title_line = _text_size(fig, [], 9)
    _margins(
        fig,
        left=_PAD + line + 4 / 72 + tick_width + 7 / 72,
        right=0.15,
        top=_PAD + title_line + 6 / 72,
        bottom=_PAD + _tick_labels_height(line) + line + 4 / 72,
    )
    ax = fig.subplots()
    x = eigenvalues.index.to_numpy()
    q = round(quantile * 100)
    ax.plot(x, eigenvalues["pc"], "o-", color=LINE_COLOURS[0], ms=3, label="components (observed)")
    ax.plot(
        x,
        eigenvalues["sim_pc_quantile"],
        "--",
        color=LINE_COLOURS[0],
        label=f"components, random {q}%",
    )
    ax.plot(x, eigenvalues["fa"], "s-", color=LINE_COLOURS[1], ms=3, label="factors (observed)")
    ax.plot(
        x,
        eigenvalues["sim_fa_quantile"],
        "--",
        color=LINE_COLOURS[1],
        label=f"factors, random {q}%",
    )
    ax.axhline(1.0, color="#999999", lw=0.8)
    if n_factors:
        ax.axvline(n_factors + 0.5, color="#555555", lw=0.8, ls=":")
    ax.set_xlabel("number")
    ax.set_ylabel("eigenvalue")
    ax.set_title(f"Scree and parallel analysis: {n_factors} factor(s) suggested", fontsize=9)
    ax.legend(fontsize=7)
    return to_svg(fig, "scree")


# ---- group comparisons --------------------------------------------------------------------------


def group_means(descriptives: pd.DataFrame, name: str, title: str) -> str:
    """Mean and 95% interval per scale and published group (dodged dots with whiskers).

    ``descriptives``: columns ``scale``, ``group``, ``mean``, ``ci_lower``, ``ci_upper`` with
    numbers only (suppressed rows left out by the caller).
    """
    scales = list(dict.fromkeys(descriptives["scale"]))
    groups = list(dict.fromkeys(descriptives["group"]))
    height = 0.32 * len(scales) * max(1, len(groups) / 2) + 1.4
    fig = _figure(6.5, height)
    label_width, line = _text_size(fig, [str(s) for s in scales], 7)
    _, axis_line = _text_size(fig, [], 10)
    _, title_line = _text_size(fig, [], 9)
    ncols = min(len(groups), 6)
    legend_height = (math.ceil(len(groups) / max(ncols, 1)) + 1) * line * 1.7 + 0.12
    _margins(
        fig,
        left=_PAD + label_width + 7 / 72,
        right=0.15,
        top=_PAD + legend_height + title_line + 6 / 72 + 0.05,
        bottom=_PAD + _tick_labels_height(axis_line) + axis_line + 4 / 72,
    )
    ax = fig.subplots()
    step = 0.7 / max(len(groups), 1)
    for g, group in enumerate(groups):
        part = descriptives[descriptives["group"] == group].set_index("scale").reindex(scales)
        y = np.arange(len(scales))[::-1] + 0.35 - step * (g + 0.5)
        mean = part["mean"].to_numpy(dtype=np.float64)
        lower = mean - part["ci_lower"].to_numpy(dtype=np.float64)
        upper = part["ci_upper"].to_numpy(dtype=np.float64) - mean
        ax.errorbar(
            mean,
            y,
            xerr=np.vstack([lower, upper]),
            fmt="o",
            ms=3,
            capsize=2,
            color=LINE_COLOURS[g % len(LINE_COLOURS)],
            label=str(group),
        )
    ax.set_yticks(np.arange(len(scales))[::-1], scales, fontsize=7)
    ax.set_xlabel("mean score (95% interval)")
    fig.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, 1.0 - _PAD / height),
        ncols=ncols,
        fontsize=7,
        title="group",
    )
    ax.set_title(title, fontsize=9)
    return to_svg(fig, name)
