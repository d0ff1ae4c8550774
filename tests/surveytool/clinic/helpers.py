"""What the clinic tests share: a small instrument with norms (``mood``), its answers, and the
test clinician's password hash (made once: argon2id is slow by design)."""

from __future__ import annotations

import functools
from pathlib import Path

from sqlalchemy.orm import Session

from surveytool.clinic import audit, auth
from surveytool.clinic.models import Clinician, utcnow

PASSWORD = "correct horse battery"

# A small instrument with norms (so reliable change can be classified), a critical item and a
# short form. Two subscales of three items, 1..5, one item reversed.
MOOD_YAML = """\
id: mood
version: 1.0.0
title: Mood check
validation_status: validated
provenance: Test fixture written for surveytool's clinic tests.
response_scales:
  freq:
    min: 1
    max: 5
    labels: {1: Never, 2: Rarely, 3: Sometimes, 4: Often, 5: Always}
    missing_codes: {9: Prefer not to say}
items:
  - {id: D1, text: I felt low., scale: freq}
  - {id: D2, text: I lost interest in things., scale: freq}
  - {id: D3, text: I felt hopeless., scale: freq}
  - {id: W1, text: I felt calm., scale: freq}
  - {id: W2, text: I slept well., scale: freq}
  - {id: W3, text: I felt restless., scale: freq, reverse: true}
subscales:
  - id: low
    label: Low mood
    items: [D1, D2, D3]
    better: lower
    bands:
      - {lower: 1, upper: 2.5, label: Mild}
      - {lower: 2.5, upper: 3.5, label: Moderate}
      - {lower: 3.5, upper: 5, label: Marked}
  - id: wellbeing
    label: Wellbeing
    items: [W1, W2, W3]
    better: higher
    bands:
      - {lower: 1, upper: 3, label: Low}
      - {lower: 3, upper: 5, label: Good}
checks:
  - id: hopeless
    item: D3
    rule: {at_or_above: 5}
    on_skip: none
    on_missing_code: none
    message: You said you felt hopeless all the time. Please reach out for support now.
short_forms:
  - {id: brief, label: Brief, items: [D1, D3, W1]}
norms:
  sample: Fixture sample
  entries:
    - {scale: low, mean: 2.5, sd: 0.8, n: 300, reliability: 0.85}
    - {scale: wellbeing, mean: 3.2, sd: 0.7, n: 300, reliability: 0.8}
"""


def write_mood(folder: Path, text: str = MOOD_YAML) -> Path:
    path = folder / "mood.yaml"
    path.write_text(text, "utf-8")
    return path


def mood_answers(low: int, well: int, **extra: int | None) -> dict[str, int | None]:
    answers: dict[str, int | None] = {"D1": low, "D2": low, "D3": low}
    answers.update({"W1": well, "W2": well, "W3": 6 - well})
    answers.update(extra)
    return answers


@functools.cache
def alice_hash() -> str:
    """argon2id takes most of a second by design: hash the test password once."""
    return auth.hash_password(PASSWORD)


def add_test_clinician(
    session: Session, username: str = "alice", *, role: str = "admin", email: str | None = None
) -> Clinician:
    """A test account (password :data:`PASSWORD`; alice is a practice admin) with its audit
    row, without paying argon2id's cost again."""
    clinician = Clinician(
        username=username,
        display_name="Dr Alice" if username == "alice" else f"Dr {username.title()}",
        password_hash=alice_hash(),
        active=True,
        created_at=utcnow(),
        role=role,
        email=email,
    )
    session.add(clinician)
    session.flush()
    audit.append(session, "test", "clinician.add", f"clinician:{clinician.id}")
    return clinician
