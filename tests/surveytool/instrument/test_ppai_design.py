"""The design claims in the header of instruments/ppai@2.0.0.yaml, checked on the file and on
data simulated under the design (surveytool.scoring.simulate)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import surveytool
from surveytool.instrument.model import Better, Instrument
from surveytool.instrument.registry import bundled_ref_path, load_instrument
from surveytool.scoring.simulate import SimulationSpec, simulate

pytestmark = pytest.mark.skipif(
    not (Path(__file__).resolve().parents[3] / "instruments" / "ppai@2.0.0.yaml").exists(),
    reason="instruments/ppai@2.0.0.yaml is not bundled yet (it waits for the checks format)",
)

REF = "ppai@2.0.0"
SELECTION = SimulationSpec(n=5000, seed=2026, trait_correlation=0.3)
CHECK = SimulationSpec(n=5000, seed=7, trait_correlation=0.3)
#: The scales the brief form scores with two items in each direction, chosen by item statistics.
CHOSEN_BY_STATISTICS = ("distancing", "closeness_unease", "rejection_worry", "trust_building")
#: Kept whole in the brief form (the paradox summary needs it).
KEPT_WHOLE = ("desire_closeness",)

FREQUENCY_WORDS = {
    "often", "sometimes", "usually", "generally", "always", "never", "rarely", "seldom",
    "frequently", "constantly", "occasionally", "ever",
}  # fmt: skip
EXTREME_WORDS = {
    "everything", "everyone", "nothing", "nobody", "far", "very", "extremely", "totally",
    "completely", "sure", "honestly", "really", "pick", "argument", "arguments",
}  # fmt: skip
STOP = {
    "i", "me", "my", "myself", "a", "an", "the", "to", "of", "and", "or", "in", "on", "with",
    "for", "at", "that", "it", "is", "am", "be", "been", "have", "has", "had", "when", "if",
    "who", "what", "how", "them", "they", "their", "people", "someone", "me.", "as", "so",
    "would", "will", "can", "could", "do", "did", "not", "about", "than", "this", "even",
}  # fmt: skip
ARTICLE = {
    "sign": {
        "Finding fault in others",
        "Creating distance and emotional withdrawal",
        "Avoiding emotional conversations",
        "Sabotaging relationships as they get serious",
        "Using work or other commitments as excuses to avoid intimacy",
    },
    "cause": {
        "Past hurt and attachment wounds",
        "Fear of vulnerability",
        "Fear of rejection",
        "Fear of abandonment",
        "Low self-esteem",
        "Anxiety about intimacy",
    },
    "practice": {
        "Self-awareness",
        "Sharing feelings gradually; practising vulnerability with trusted people",
        "Seeking professional support",
        "Open communication",
        "Honouring commitments",
        "Expressing appreciation",
        "Accepting help",
        "Consistent communication and showing up",
    },
}


@pytest.fixture(scope="module")
def inst() -> Instrument:
    return load_instrument(REF)


def facet(inst: Instrument, item_id: str) -> str:
    source = inst.item_by_id[item_id].source
    assert source is not None, f"{item_id} names no element of the article"
    return source.sign or source.cause or source.practice or source.note or ""


def keyed(
    inst: Instrument, frame: pd.DataFrame, items: tuple[str, ...] | list[str]
) -> pd.DataFrame:
    """Answers with reversed items turned around (min + max − x)."""
    out = {}
    for item_id in items:
        item = inst.item_by_id[item_id]
        scale = inst.response_scales[item.scale]
        x = frame[item_id].astype(float)
        out[item_id] = (scale.min + scale.max - x) if item.reverse else x
    return pd.DataFrame(out)


def item_rest(inst: Instrument, frame: pd.DataFrame, subscale: str) -> dict[str, float]:
    """Corrected item-total correlation (r_drop) of every item of a subscale."""
    items = inst.subscale_by_id[subscale].items
    m = keyed(inst, frame, items)
    total = m.sum(axis=1)
    return {i: float(np.corrcoef(m[i], total - m[i])[0, 1]) for i in items}


def brief_selection(inst: Instrument) -> list[str]:
    """The brief form's rule: per chosen scale, the two positively keyed and the two reversed
    items with the highest item-rest correlation (r_drop), taking an item of a facet not yet
    taken in that scale while there is one; whole scales kept; the distress check too."""
    frame = simulate(inst, SELECTION)
    chosen: set[str] = set()
    for subscale in CHOSEN_BY_STATISTICS:
        r = item_rest(inst, frame, subscale)
        used: set[str] = set()
        for reverse in (False, True):
            pool = sorted(
                (i for i in r if inst.item_by_id[i].reverse is reverse), key=lambda i: -r[i]
            )
            picked: list[str] = []
            while len(picked) < 2:
                left = [i for i in pool if i not in picked]
                untaken = [i for i in left if facet(inst, i) not in used]
                best = (untaken or left)[0]
                picked.append(best)
                used.add(facet(inst, best))
            chosen.update(picked)
    for subscale in KEPT_WHOLE:
        chosen.update(inst.subscale_by_id[subscale].items)
    checks = {c.item for c in inst.checks}
    return [i for i in inst.form_items() if i in chosen or i in checks]


def brief_correlations(inst: Instrument) -> dict[str, float]:
    """Pearson r of each brief-form score with the full-form score, on a fresh simulation."""
    frame = simulate(inst, CHECK)
    full = surveytool.score(inst, frame, id_column="respondent_id")
    brief_items = inst.form_items("brief")
    brief = surveytool.score(
        inst, frame[["respondent_id", *brief_items]], id_column="respondent_id", form="brief"
    )
    scored = [s.id for s in inst.subscales if any(i in brief_items for i in s.items)]
    return {
        s: float(np.corrcoef(full[s].astype(float), brief[s].astype(float))[0, 1]) for s in scored
    }


def header_correlations() -> dict[str, float]:
    path = bundled_ref_path(REF)
    assert path is not None
    text = path.read_text("utf-8")
    return {m[1]: float(m[2]) for m in re.finditer(r"^#\s+(\w+)\s+r = ([0-9.]+)", text, re.M)}


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def content_words(text: str) -> set[str]:
    return {w.rstrip("s") for w in words(text) if w not in STOP and len(w) > 2}


def test_reverse_keys_are_about_half_of_every_scale(inst):
    for sub in inst.subscales:
        reversed_ = sum(inst.item_by_id[i].reverse for i in sub.items)
        assert len(sub.items) >= 4, sub.id
        assert 0.4 <= reversed_ / len(sub.items) <= 0.6, (sub.id, reversed_, len(sub.items))


def test_all_agree_answers_score_the_middle_of_every_scale(inst):
    """Acquiescence cannot raise every scale: agreeing with everything lands near the middle."""
    row = {i: 5 for i in inst.form_items()}
    person = surveytool.score_responses(inst, row).person(0)
    for scale in person.scales:
        assert scale.score is not None
        assert 2.5 <= scale.score <= 3.5, (scale.id, scale.score)


def test_every_item_is_in_exactly_one_scale_or_is_a_check(inst):
    owner: dict[str, list[str]] = {}
    for sub in inst.subscales:
        for item_id in sub.items:
            owner.setdefault(item_id, []).append(sub.id)
    checks = {c.item for c in inst.checks}
    for item in inst.items:
        if item.id in checks:
            assert not item.scored and item.id not in owner
        else:
            assert owner.get(item.id, []) and len(owner[item.id]) == 1, (
                item.id,
                owner.get(item.id),
            )


def test_no_item_shares_a_near_duplicate(inst):
    """No two items, in one scale or across scales, share half or more of their content words
    (Jaccard index of the content words, stop words removed)."""
    for a, b in itertools.combinations(inst.items, 2):
        wa, wb = content_words(a.text), content_words(b.text)
        jaccard = len(wa & wb) / len(wa | wb)
        assert jaccard < 0.5, (a.id, b.id, sorted(wa & wb))


def test_no_near_duplicates_across_scales_in_simulated_answers(inst):
    """In data simulated under the design, no item correlates more with another scale's items
    than with its own scale's rest score."""
    frame = simulate(inst, SELECTION)
    totals = {s.id: keyed(inst, frame, s.items).mean(axis=1) for s in inst.subscales}
    for sub in inst.subscales:
        own = item_rest(inst, frame, sub.id)
        for item_id in sub.items:
            x = keyed(inst, frame, [item_id])[item_id]
            for other in inst.subscales:
                if other.id != sub.id:
                    r = float(np.corrcoef(x, totals[other.id])[0, 1])
                    assert r < own[item_id], (item_id, other.id, r, own[item_id])


def test_items_use_agreement_wording_one_idea_moderate(inst):
    for item in inst.items:
        ws = set(words(item.text))
        assert not ws & FREQUENCY_WORDS, (item.id, ws & FREQUENCY_WORDS)
        assert not ws & EXTREME_WORDS, (item.id, ws & EXTREME_WORDS)
        assert len(words(item.text)) <= 20, item.id
        assert item.text.count(".") == 1 and item.text.endswith("."), item.id
    scale = inst.response_scales["agree"]
    assert [scale.labels[p] for p in scale.points] == [
        "Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree",
    ]  # fmt: skip
    assert "Does not apply to me" in scale.missing_codes.values()


def test_fixed_mixed_order_across_scales(inst):
    scale_of = {i: s.id for s in inst.subscales for i in s.items}
    order = [i for i in inst.form_items() if i in scale_of]
    for a, b in itertools.pairwise(order):
        assert scale_of[a] != scale_of[b], (a, b)
    for a, b, c in zip(order, order[1:], order[2:], strict=False):
        keys = {inst.item_by_id[x].reverse for x in (a, b, c)}
        assert len(keys) == 2, (a, b, c)


def test_one_timeframe_per_section_and_change_only_where_it_allows(inst):
    scale_of = {i: s for s in inst.subscales for i in s.items}
    seen_general = False
    for item in inst.items:
        if item.id not in scale_of:
            continue
        sub = scale_of[item.id]
        if sub.track_change:
            assert item.timeframe == "", item.id  # the form's: over the past month
            assert not seen_general, f"{item.id}: the past-month block comes first"
        else:
            assert item.timeframe == "In general", item.id
            seen_general = True
        assert sub.section, sub.id
    assert inst.timeframe == "Over the past month"
    for sub in inst.subscales:
        assert sub.track_change == ("in general" not in sub.section), sub.id


def test_every_element_of_the_article_is_covered(inst):
    for key, elements in ARTICLE.items():
        found = {getattr(item.source, key) for item in inst.items if item.source is not None}
        assert elements <= found, (key, elements - found)


def test_desire_for_closeness_is_neutral(inst):
    assert inst.subscale_by_id["desire_closeness"].better is Better.NEUTRAL


def test_bands_are_the_scale_midpoints_in_its_language(inst):
    for sub in inst.subscales:
        assert [(b.lower, b.upper, b.label) for b in sub.bands] == [
            (1, 2.5, "Mostly disagree"),
            (2.5, 3.5, "Between disagree and agree"),
            (3.5, 5, "Mostly agree"),
        ], sub.id


def test_distress_check_is_early_outside_the_scales_below_the_top_answer(inst):
    (check,) = inst.checks
    item = inst.item_by_id[check.item]
    assert inst.form_items().index(item.id) < 5
    assert not item.scored
    assert not any(item.id in s.items for s in inst.subscales)
    scale = inst.response_scales[item.scale]
    assert check.rule.at_or_above is not None and check.rule.at_or_above < scale.max
    assert check.level == "alert" and check.on_skip == "support"
    assert item.id in inst.form_items("brief")


def test_guidance_never_asks_a_person_to_doubt_themselves(inst):
    banned = ("wait a day", "check the worry", "what they have actually", "stay a little longer")
    for sub in inst.subscales:
        for text in (sub.guidance, *(b.text for b in sub.bands)):
            assert not any(b in text.lower() for b in banned), sub.id
    assert "protection" in inst.subscale_by_id["distancing"].guidance
    assert "protection, not pushing away" in inst.instructions


def test_brief_form_is_the_statistics_rule(inst):
    assert inst.form_items("brief") == brief_selection(inst)
    brief = set(inst.form_items("brief"))
    for sub in inst.subscales:
        members = [i for i in sub.items if i in brief]
        assert len(members) in (0, 4), (sub.id, members)
        if members:
            assert sum(inst.item_by_id[i].reverse for i in members) == 2, sub.id


def test_brief_form_correlations_reproduce_the_header(inst):
    found = brief_correlations(inst)
    header = header_correlations()
    assert set(found) == set(header)
    for scale_id, r in found.items():
        assert round(r, 2) == header[scale_id], (scale_id, r, header[scale_id])


def test_bundled_file_path():
    path = bundled_ref_path(REF)
    assert path is not None and path.name == "ppai@2.0.0.yaml"
    assert Path(path).parent.name in ("instruments", "_bundled_instruments")
