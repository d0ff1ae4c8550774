"""Anonymization on the way in: detection, keyed pseudonyms, generalization, k-anonymity.

The property tests write real files, import them, and then search every byte and every value of the
output (Parquet data and metadata, disclosure report, quarantine report) for the input's identifiers.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import os
import stat
import string
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import analysis
from analysis.errors import MappingError
from analysis.mapping import load_mapping
from analysis.privacy.generalize import QuasiIdentifier, generalize_column
from analysis.privacy.identifiers import detect_identifiers, redact
from analysis.privacy.kanonymity import class_sizes
from analysis.privacy.pseudonyms import PseudonymKey
from surveytool.cli import cli
from surveytool.instrument.registry import load_instrument
from surveytool.io.keys import KeyFileError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cohort"
MINI = load_instrument(FIXTURES / "mini.yaml")


def categories(name: str, values: list[object]) -> set[str]:
    return {f.category for f in detect_identifiers(name, pd.Series(values, dtype=object))}


# ---------------------------------------------------------------------------------------------
# detection
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("RecipientFirstName", "person_name"),
        ("last_name", "person_name"),
        ("Name", "person_name"),
        ("surname", "person_name"),
        ("RecipientEmail", "email"),
        ("E-mail address", "email"),
        ("phone", "phone"),
        ("Mobile", "phone"),
        ("IPAddress", "ip_address"),
        ("street_address", "street_address"),
        ("zip_code", "postal_code"),
        ("dob", "date_of_birth"),
        ("Date of birth", "date_of_birth"),
        ("LocationLatitude", "location"),
        ("ExternalReference", "record_id"),
        ("patient_id", "record_id"),
        ("ssn", "record_id"),
        ("Q22_TEXT", "free_text"),
        ("comments", "free_text"),
    ],
)
def test_identifier_columns_by_name(name: str, category: str) -> None:
    assert category in categories(name, [None])


@pytest.mark.parametrize(
    ("values", "category"),
    [
        (["a.b@example.org", "2", "3"], "email"),
        (["+41 79 123 45 67", "no"], "phone"),
        (["(555) 123-4567"], "phone"),
        (["192.0.2.7", "198.51.100.23"], "ip_address"),
        (["2001:db8::1"], "ip_address"),
        (["12 Maple Street", "x"], "street_address"),
        (["Hauptstraße 5"], "street_address"),
        (["Anna Berg", "Carl Dunn", "Eva Frey"], "person_name"),
        (["1990-04-01", "1985-12-30", "2001-07-14"], "exact_date"),
        (
            ["I just find it hard to trust anyone new.", "Work comes first for me, always."],
            "free_text",
        ),
        ([f"X{i:03d}" for i in range(12)], "unique_values"),
    ],
)
def test_identifier_columns_by_values(values: list[object], category: str) -> None:
    assert category in categories("col", values)


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("site", ["north", "south", "north", "south"] * 5),
        ("FF1", ["Not at all like me", "Very much like me", "Somewhat like me"] * 4),
        ("age", [34, 51, 34, 22, 51, 22, 34, 51, 22, 34, 51, 22]),
        ("score", [1.5, 2.25, 3.0, 1.5]),
        ("group", ["A", "B", "A", "B"]),
        ("redcap_event_name", ["baseline_arm_1", "followup_arm_1"] * 3),
        ("income_band", ["10-20", "20-30"]),
    ],
)
def test_ordinary_columns_are_not_identifiers(name: str, values: list[object]) -> None:
    assert categories(name, values) == set()


def test_redact_hides_identifying_values_only() -> None:
    assert str(redact("anna@example.org")).startswith("<redacted: looks like e-mail")
    assert str(redact("+41 79 123 45 67")).startswith("<redacted: looks like phone")
    assert str(redact("I really do not want to answer this one")).startswith("<redacted")
    assert redact("Sometimes") == "Sometimes"
    assert redact("7") == "7"


# ---------------------------------------------------------------------------------------------
# keyed pseudonyms
# ---------------------------------------------------------------------------------------------
def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "k.key"
    key = PseudonymKey.from_file(path)
    assert key.created and path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = PseudonymKey.from_file(path)
    assert not again.created
    assert again.fingerprint == key.fingerprint
    assert again.pseudonym("R_1") == key.pseudonym("R_1")
    assert path.read_text().splitlines()[-1] not in repr(key)


def test_pseudonyms_need_the_key(tmp_path: Path) -> None:
    key = PseudonymKey.from_file(tmp_path / "a.key")
    other = PseudonymKey.from_file(tmp_path / "b.key")
    ids = [f"P-{i:04d}" for i in range(50)]
    mine, theirs = key.pseudonyms(ids), other.pseudonyms(ids)
    assert not set(mine) & set(theirs)  # another key: other pseudonyms
    assert len(set(mine)) == 50
    for raw, pseudonym in zip(ids, mine, strict=True):
        for digest in (hashlib.sha256, hashlib.sha1, hashlib.md5, hashlib.blake2b):
            plain = digest(raw.encode()).hexdigest()
            assert pseudonym is not None and pseudonym not in plain  # a plain hash is not it
    # it is HMAC-SHA-256 with the key from the key file, and nothing else
    secret = bytes.fromhex(
        next(ln for ln in (tmp_path / "a.key").read_text().splitlines() if not ln.startswith("#"))
    )
    assert mine[0] == hmac.new(secret, ids[0].encode(), hashlib.sha256).hexdigest()[:32]


def test_bad_or_open_key_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("not a key\n")
    with pytest.raises(KeyFileError, match="not a surveytool key file"):
        PseudonymKey.from_file(bad)
    short = tmp_path / "short.key"
    short.write_text("abcd\n")
    with pytest.raises(KeyFileError, match="at least 16"):
        PseudonymKey.from_file(short)
    open_key = tmp_path / "open.key"
    PseudonymKey.from_file(open_key)
    os.chmod(open_key, 0o644)
    assert any("chmod 600" in n for n in PseudonymKey.from_file(open_key).notes)


def test_same_key_links_waves_and_the_key_never_reaches_the_output(tmp_path: Path) -> None:
    key_file = tmp_path / "k.key"
    source = pd.read_csv(FIXTURES / "plain_mini.csv", dtype=str)
    source.iloc[:20].to_csv(tmp_path / "w1.csv", index=False)
    source.iloc[10:].to_csv(tmp_path / "w2.csv", index=False)
    w1 = analysis.import_cohort(
        tmp_path / "w1.csv", MINI, key_file=key_file, output=tmp_path / "a.parquet"
    )
    w2 = analysis.import_cohort(
        tmp_path / "w2.csv", MINI, key_file=key_file, output=tmp_path / "b.parquet"
    )
    shared = set(w1.frame["pseudonym"]) & set(w2.frame["pseudonym"])
    assert len(shared) == 10
    secret_hex = key_file.read_text().splitlines()[-1]
    for path in tmp_path.iterdir():
        if path != key_file:
            data = path.read_bytes()
            assert secret_hex.encode() not in data and bytes.fromhex(secret_hex) not in data


# ---------------------------------------------------------------------------------------------
# generalization
# ---------------------------------------------------------------------------------------------
def test_age_bands_with_a_top_code() -> None:
    ages = pd.Series(["17", "18", "29", "45", "89", "90", "104", "abc", None, "-3"], dtype=object)
    spec = QuasiIdentifier(generalize="age_band", bands=(18, 30, 45, 65))
    out, unreadable = generalize_column(ages, spec)
    assert out.tolist() == [
        "<18",
        "18-29",
        "18-29",
        "45-64",
        "65-89",
        "90+",
        "90+",
        None,
        None,
        None,
    ]
    assert unreadable == 2
    tens, _ = generalize_column(pd.Series([0, 9, 10, 95]), QuasiIdentifier(generalize="age_band"))
    assert tens.tolist() == ["0-9", "0-9", "10-19", "90+"]


def test_dates_to_year_and_shifted_per_respondent(tmp_path: Path) -> None:
    key = PseudonymKey.from_file(tmp_path / "k.key")
    visits = pd.Series(["2026-01-10", "2026-03-01", "31/12/2025", "45000", "soon"], dtype=object)
    years, unreadable = generalize_column(visits, QuasiIdentifier(generalize="year"))
    assert years.tolist() == ["2026", "2026", "2025", "2023", None]  # 45000: an Excel serial day
    assert unreadable == 1
    people = ["p1", "p2", "p3", "p4", "p5"]
    spec = QuasiIdentifier(generalize="shift", max_days=30)
    first, _ = generalize_column(visits, spec, respondents=people, key=key)
    later = pd.Series(["2026-02-10", "2026-04-01", "2026-01-31", "2023-03-15", None], dtype=object)
    second, _ = generalize_column(later, spec, respondents=people, key=key)
    for a, b, x, y in zip(visits[:3], later[:3], first[:3], second[:3], strict=True):
        original = pd.Timestamp(b) - pd.Timestamp(a) if "/" not in a else None
        if original is not None:  # the same offset for every date of one respondent
            assert pd.Timestamp(y) - pd.Timestamp(x) == original
    offsets = [key.day_offset(p, 30) for p in [f"r{i}" for i in range(200)]]
    assert 0 not in offsets and max(offsets) <= 30 and min(offsets) >= -30
    assert (
        first.tolist() == generalize_column(visits, spec, respondents=people, key=key)[0].tolist()
    )


def test_small_categories_merge_and_prefixes(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "respondent_id": [f"r{i}" for i in range(12)],
            "country": ["CH"] * 6 + ["DE"] * 4 + ["LI", "IS"],
            "zip": ["8001", "8002", "3011", "3012"] * 3,
        }
    )
    result = analysis.anonymize(
        frame,
        key=tmp_path / "k.key",
        id_column="respondent_id",
        quasi_identifiers={
            "country": {"generalize": "merge", "min_count": 3},
            "zip": {"generalize": "prefix", "length": 2},
        },
    )
    assert result.frame["country"].value_counts().to_dict() == {"CH": 6, "DE": 4, "other": 2}
    assert set(result.frame["zip"]) == {"80", "30"}
    merged = {g.column: g for g in result.disclosure.generalized}["country"]
    assert (merged.merged_categories, merged.merged_rows) == (2, 2)
    text = result.disclosure.format_text()
    assert "LI" not in text and "IS" not in text.split()  # merged values are never listed


def test_quasi_identifier_parameters_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "quasi_identifiers:\n  age: {generalize: year, width: 5}\n  d: {generalize: decade}\n"
    )
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    assert {p.line for p in caught.value.report.problems} == {2, 3}


# ---------------------------------------------------------------------------------------------
# k-anonymity, verified by counting
# ---------------------------------------------------------------------------------------------
def _brute_force_smallest(frame: pd.DataFrame, columns: list[str]) -> int:
    counts = collections.Counter(
        tuple(str(v) for v in row) for row in frame[columns].itertuples(index=False)
    )
    return min(counts.values())


def test_k_anonymity_suppresses_until_every_class_has_k(tmp_path: Path) -> None:
    mapping = {
        "groups": ["site"],
        "quasi_identifiers": {
            "age": {"generalize": "age_band", "width": 5},
            "site": {"generalize": "none"},
        },
        "k_suppression": "records",  # whole records (local suppression: the next test)
    }
    mapping["groups"] = []
    out = tmp_path / "c.parquet"
    before = analysis.import_cohort(
        FIXTURES / "plain_mini.csv", MINI, mapping=mapping, key_file=tmp_path / "k.key"
    )
    smallest = _brute_force_smallest(before.frame, ["age", "site"])
    assert before.disclosure.k_anonymity is not None
    assert before.disclosure.k_anonymity.smallest == smallest < 4
    result = analysis.import_cohort(
        FIXTURES / "plain_mini.csv",
        MINI,
        mapping=mapping,
        key_file=tmp_path / "k.key",
        k=4,
        output=out,
    )
    written = pd.read_parquet(out)
    assert _brute_force_smallest(written, ["age", "site"]) >= 4
    kanon = result.disclosure.k_anonymity
    assert kanon is not None
    assert kanon.smallest == _brute_force_smallest(written, ["age", "site"])
    assert kanon.smallest_before == smallest
    assert result.report.rows_suppressed == kanon.suppressed == 40 - len(written)
    assert result.report.rows_read == len(written) + result.report.rows_quarantined
    disclosure = json.loads((tmp_path / "c.disclosure.json").read_text())
    assert disclosure["k_anonymity"]["smallest_class"] == kanon.smallest
    quarantine = pd.read_csv(tmp_path / "c.quarantine.csv")
    assert quarantine["reason"].str.contains("k-anonymity").sum() == kanon.suppressed


def test_k_anonymity_counts_respondents_not_waves(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": ["a", "a", "b", "c"], "site": ["x", "x", "y", "y"]})
    result = analysis.anonymize(
        frame,
        key=tmp_path / "k.key",
        id_column="id",
        quasi_identifiers={"site": {"generalize": "none"}},
        k=2,
        k_suppression="records",
    )
    assert result.frame["site"].tolist() == ["y", "y"]  # two waves of one person are one person
    raw = analysis.import_cohort(
        FIXTURES / "redcap_raw.csv",
        "ppai@1.0.0",
        mapping={
            "quasi_identifiers": {
                "redcap_data_access_group": {"generalize": "none"},
                "age": {"generalize": "age_band", "width": 20},
            },
            "k_suppression": "records",
        },
        key_file=tmp_path / "k.key",
        k=3,
    )
    people = raw.frame.groupby(["redcap_data_access_group", "age"])["pseudonym"].nunique()
    assert people.min() >= 3
    assert raw.report.rows_suppressed > 0


def test_a_k_anonymous_cohort_stays_k_anonymous(tmp_path: Path) -> None:
    source = pd.read_csv(FIXTURES / "plain_mini.csv", dtype=str)
    source.iloc[:20].to_csv(tmp_path / "w1.csv", index=False)
    source.iloc[20:].to_csv(tmp_path / "w2.csv", index=False)
    mapping = {
        "quasi_identifiers": {"age": {"generalize": "age_band"}, "site": {"generalize": "none"}},
        "k_suppression": "records",
    }
    out, key = tmp_path / "c.parquet", tmp_path / "k.key"
    analysis.import_cohort(
        tmp_path / "w1.csv", MINI, mapping=mapping, key_file=key, k=3, output=out
    )
    second = analysis.import_cohort(
        tmp_path / "w2.csv", MINI, mapping=mapping, key_file=key, output=out
    )
    assert any("k = 3 from the cohort file" in n for n in second.report.notes)
    assert _brute_force_smallest(pd.read_parquet(out), ["age", "site"]) >= 3


def test_k_anonymity_on_the_command_line(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "quasi_identifiers:\n  age: {generalize: age_band}\n  site: {generalize: none}\n"
    )
    out = tmp_path / "c.parquet"
    result = CliRunner().invoke(
        cli,
        [
            "cohort",
            "import",
            str(FIXTURES / "plain_mini.csv"),
            "-i",
            str(FIXTURES / "mini.yaml"),
            "--map",
            str(mapping),
            "--key-file",
            str(tmp_path / "k.key"),
            "--k",
            "3",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "k-anonymity over age, site" in result.output
    assert _brute_force_smallest(pd.read_parquet(out), ["age", "site"]) >= 3


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ages=st.lists(st.integers(18, 99), min_size=5, max_size=40),
    sites=st.lists(st.sampled_from(["n", "s", "e"]), min_size=40, max_size=40),
    k=st.integers(2, 6),
)
def test_k_anonymity_property(ages: list[int], sites: list[str], k: int) -> None:
    frame = pd.DataFrame(
        {"id": [f"r{i}" for i in range(len(ages))], "age": ages, "site": sites[: len(ages)]}
    )
    result = analysis.anonymize(
        frame,
        key=b"0123456789abcdef0123456789abcdef",
        id_column="id",
        quasi_identifiers={"age": {"generalize": "age_band"}, "site": {"generalize": "none"}},
        k=k,
        k_suppression="records",
    )
    out = result.frame
    kanon = result.disclosure.k_anonymity
    assert kanon is not None
    assert len(out) + kanon.suppressed == len(frame)
    if len(out):
        assert _brute_force_smallest(out, ["age", "site"]) >= k
        assert kanon.smallest == _brute_force_smallest(out, ["age", "site"])
    sizes = class_sizes(pd.DataFrame({"age": [a // 10 for a in ages]}), ["age"])
    assert len(sizes) == len(ages)


def _brute_force_matching(frame: pd.DataFrame, columns: list[str]) -> int:
    """The smallest number of rows any row matches, a missing value matching any value."""
    rows = [tuple(None if pd.isna(v) else str(v) for v in r) for r in frame[columns].to_numpy()]
    return min(
        sum(all(a is None or b is None or a == b for a, b in zip(r, q, strict=True)) for q in rows)
        for r in rows
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ages=st.lists(st.integers(18, 99), min_size=5, max_size=40),
    sites=st.lists(st.sampled_from(["n", "s", "e"]), min_size=40, max_size=40),
    k=st.integers(2, 6),
)
def test_local_suppression_property(ages: list[int], sites: list[str], k: int) -> None:
    frame = pd.DataFrame(
        {"id": [f"r{i}" for i in range(len(ages))], "age": ages, "site": sites[: len(ages)]}
    )
    result = analysis.anonymize(
        frame,
        key=b"0123456789abcdef0123456789abcdef",
        id_column="id",
        quasi_identifiers={"age": {"generalize": "age_band"}, "site": {"generalize": "none"}},
        k=k,
    )
    out = result.frame
    kanon = result.disclosure.k_anonymity
    assert kanon is not None and kanon.method == "local"
    assert len(out) + kanon.suppressed == len(frame)
    if len(out):
        assert _brute_force_matching(out, ["age", "site"]) >= k
        assert kanon.smallest == _brute_force_matching(out, ["age", "site"])
    blanked = int(out[["age", "site"]].isna().to_numpy().sum())
    assert sum(kanon.blanked.values()) == blanked
    # records are deleted only when the whole table is too small to hide them
    assert kanon.suppressed == 0 or len(frame) < k or len(out) == 0


def test_local_suppression_keeps_respondents_and_warns_of_lost_categories(
    tmp_path: Path,
) -> None:
    rows = [("f", 25 + i % 10) for i in range(20)] + [("m", 35 + i % 10) for i in range(20)]
    rows += [("non-binary", 28), ("non-binary", 41), ("prefer not to say", 33)]
    source = tmp_path / "people.csv"
    pd.DataFrame(
        {
            "respondent_id": [f"r{i}" for i in range(len(rows))],
            "gender": [g for g, _ in rows],
            "age": [a for _, a in rows],
            "M1": "3",
            "M2": "4",
            "M3": "2",
            "M4": "5",
        }
    ).to_csv(source, index=False)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "quasi_identifiers:\n  gender: {generalize: none}\n  age: {generalize: age_band}\n"
    )
    out = tmp_path / "c.parquet"
    result = CliRunner().invoke(
        cli,
        ["cohort", "import", str(source), "-i", str(FIXTURES / "mini.yaml"), "--map", str(mapping),
         "--k", "5", "--key-file", str(tmp_path / "k.key"), "-o", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "rows read 43 = rows imported 43" in result.output  # nobody deleted
    cohort = pd.read_parquet(out)
    assert cohort["gender"].isna().sum() == 3  # the three small-category values blanked
    assert _brute_force_matching(cohort, ["gender", "age"]) >= 5
    assert "no longer appear in the cohort" in result.output
    assert "'non-binary', 'prefer not to say'" in result.output
    disclosure = json.loads((tmp_path / "c.disclosure.json").read_text())
    assert disclosure["k_anonymity"]["values_blanked"]["gender"] == 3
    assert disclosure["k_anonymity"]["suppressed"] == 0


# ---------------------------------------------------------------------------------------------
# no identifier ever reaches the output (property)
# ---------------------------------------------------------------------------------------------
CONSONANTS = "bcdfghjklmnpqrstvwxz"
name_part = st.text(alphabet=CONSONANTS, min_size=5, max_size=9).map(str.capitalize)


@st.composite
def respondents(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(min_value=3, max_value=12))
    ids = draw(
        st.lists(
            st.text(alphabet=string.ascii_letters + string.digits, min_size=8, max_size=12),
            min_size=n,
            max_size=n,
            unique=True,
        )
    )
    first = draw(st.lists(name_part, min_size=n, max_size=n))
    last = draw(st.lists(name_part, min_size=n, max_size=n))
    domains = draw(
        st.lists(st.text(alphabet=CONSONANTS, min_size=4, max_size=8), min_size=n, max_size=n)
    )
    numbers = draw(st.lists(st.integers(1_000_000, 9_999_999), min_size=n, max_size=n))
    answers = draw(
        st.lists(
            st.lists(st.sampled_from(["1", "2", "3", "4", "5", "", "9"]), min_size=4, max_size=4),
            min_size=n,
            max_size=n,
        )
    )
    frame = pd.DataFrame(
        {
            "respondent_id": [f"ID-{i}" for i in ids],
            "full_name": [f"{a} {b}" for a, b in zip(first, last, strict=True)],
            "email": [
                f"{a.lower()}.{b.lower()}@{d}.org"
                for a, b, d in zip(first, last, domains, strict=True)
            ],
            "phone": [f"+44 20 {str(x)[:4]} {str(x)[4:]}" for x in numbers],
            "contact": [
                f"{b.lower()}@{d}.net" for b, d in zip(last, domains, strict=True)
            ],  # a bland name
            "team": [f"+1 555 {str(x)[:3]}-{str(x)[3:7]}" for x in numbers],  # declared a group!
            "site": draw(st.lists(st.sampled_from(["north", "south"]), min_size=n, max_size=n)),
            "age": draw(st.lists(st.integers(18, 95), min_size=n, max_size=n)),
        }
    )
    for j, item in enumerate(["M1", "M2", "M3", "M4"]):
        frame[item] = [row[j] for row in answers]
    return frame


def _everything_written(folder: Path, out: Path) -> list[str]:
    texts = []
    for path in folder.iterdir():
        if path.suffix == ".key":
            continue
        texts.append(path.read_bytes().decode("latin-1"))
    table = pq.read_table(out)
    texts.append(json.dumps(table.to_pylist(), default=str))
    texts.append(str((table.schema.metadata or {}).get(b"surveytool", b"").decode("utf-8")))
    return texts


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frame=respondents(),
    fmt=st.sampled_from(["csv", "parquet", "xlsx"]),
    k=st.sampled_from([None, 2]),
)
def test_no_identifier_reaches_the_output(frame: pd.DataFrame, fmt: str, k: int | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / f"source.{fmt}"
        if fmt == "csv":
            frame.to_csv(source, index=False)
        elif fmt == "parquet":
            frame.to_parquet(source, index=False)
        else:
            frame.to_excel(source, index=False)
        out_dir = folder / "out"
        out_dir.mkdir()
        out = out_dir / "cohort.parquet"
        mapping = {
            "id_column": "respondent_id",
            "groups": ["site", "team"],
            "quasi_identifiers": {"age": {"generalize": "age_band"}},
        }
        runner = CliRunner()
        result = analysis.import_cohort(
            source, MINI, mapping=mapping, key_file=folder / "k.key", output=out, k=k
        )
        again = runner.invoke(
            cli,
            [
                "cohort",
                "import",
                str(source),
                "-i",
                str(FIXTURES / "mini.yaml"),
                "--key-file",
                str(folder / "k.key"),
                "-o",
                str(out),
            ]
            + (["--k", str(k)] if k else []),
        )
        written = _everything_written(out_dir, out)
        written.append(json.dumps(result.report.as_dict(), default=str))
        written.append(json.dumps(result.disclosure.as_dict()))
        written.append(result.disclosure.format_text())
        written.append(result.issues.to_csv())
        written.append(result.frame.to_csv())
        written.append(again.output)
        secrets = [
            str(v)
            for col in ("respondent_id", "full_name", "email", "phone", "contact", "team")
            for v in frame[col]
        ]
        secrets += [part for name in frame["full_name"] for part in name.split()]
        for secret in secrets:
            for text in written:
                assert secret not in text, f"{secret!r} leaked"
        if fmt == "csv":  # the search finds what is there: every identifier is in the source
            source_text = source.read_text()
            assert all(secret in source_text for secret in secrets)
        assert "team" not in result.frame.columns  # the declared group that holds phone numbers
        assert any(w.code == "declared_column_dropped" for w in result.report.warnings)
        assert result.report.rows_read == len(frame)


def test_anonymize_api_returns_the_table_and_its_report(tmp_path: Path) -> None:
    frame = pd.read_csv(FIXTURES / "plain_mini.csv", dtype=str)
    result = analysis.anonymize(
        frame,
        key=tmp_path / "k.key",
        id_column="respondent_id",
        keep=["M1", "M2", "M3", "M4"],
        groups=["site"],
        quasi_identifiers={"age": QuasiIdentifier(generalize="age_band")},
    )
    assert list(result.frame.columns) == ["pseudonym", "site", "age", "M1", "M2", "M3", "M4"]
    dropped = {d.column: d.reason for d in result.disclosure.dropped}
    assert set(dropped) == {"full_name", "email"}
    assert "personal names" in dropped["full_name"] and "e-mail addresses" in dropped["email"]
    assert not set(frame["respondent_id"]) & set(result.frame["pseudonym"])
    imported = analysis.import_cohort(
        FIXTURES / "plain_mini.csv",
        MINI,
        mapping={"groups": ["site"], "quasi_identifiers": {"age": {"generalize": "age_band"}}},
        key_file=tmp_path / "k.key",
    )
    assert result.frame["pseudonym"].tolist() == imported.frame["pseudonym"].tolist()
    assert result.frame["age"].tolist() == imported.frame["age"].tolist()
    np.testing.assert_array_equal(
        result.frame["M1"].astype(float).to_numpy(), imported.frame["M1"].to_numpy()
    )
