"""Instruments that travel: FHIR Questionnaire, REDCap data dictionary and XLSForm, each way.

- :mod:`~surveytool.interchange.fhir`: Questionnaire export and import, QuestionnaireResponses;
- :mod:`~surveytool.interchange.redcap`: data dictionary export and import;
- :mod:`~surveytool.interchange.xlsform`: XLSForm (ODK, KoboToolbox) export and import.

Every export embeds our scoring in the target system's own language (FHIRPath, REDCap calc
fields, XLSForm calculates) so that it gives the numbers our engine gives; every import returns an
:class:`~surveytool.interchange._common.ImportResult` with what could not be mapped.
"""

from __future__ import annotations

import json
from pathlib import Path

from surveytool.interchange._common import ImportResult, dump_yaml, instrument_document

__all__ = ["ImportResult", "dump_yaml", "instrument_document", "read_instrument_file"]


def read_instrument_file(path: str | Path, *, form: str | None = None) -> ImportResult:
    """Import an instrument file of another system, told by its extension and content.

    ``.json``: a FHIR Questionnaire; ``.csv`` (or ``.txt``): a REDCap data dictionary (``form``
    picks one of its forms); ``.xlsx``: an XLSForm. Unreadable files give a result whose report
    says why (code ``not_an_instrument``), never an exception.
    """
    from surveytool.interchange import fhir, redcap, xlsform
    from surveytool.interchange._common import refusal

    path = Path(path)
    name = str(path)

    def refused(message: str) -> ImportResult:
        return refusal(name, "not_an_instrument", message)

    if not path.is_file():
        return refused("no such file; check the path")
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return xlsform.import_workbook(path, name)
    from surveytool.io.files import MAX_DEFINITION_BYTES, read_bytes_bounded

    try:
        text = read_bytes_bounded(path, MAX_DEFINITION_BYTES, "file", OSError).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return refused(f"cannot read the file as UTF-8 text: {exc}")
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            return refused(f"not valid JSON (line {exc.lineno}: {exc.msg})")
        return fhir.import_questionnaire(data, name)
    if suffix in (".csv", ".txt", ".tsv"):
        return redcap.import_dictionary(text, name, form=form)
    return refused(
        f"cannot tell the format from the extension {suffix or '(none)'!r}: give a FHIR "
        "Questionnaire (.json), a REDCap data dictionary (.csv) or an XLSForm (.xlsx)"
    )
