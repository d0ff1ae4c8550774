"""Instruments that travel: FHIR Questionnaire, REDCap data dictionary and XLSForm, each way.

- :mod:`~surveytool.interchange.fhir`: Questionnaire export and import, QuestionnaireResponses;
- :mod:`~surveytool.interchange.redcap`: data dictionary export and import;
- :mod:`~surveytool.interchange.xlsform`: XLSForm (ODK, KoboToolbox) export and import.

Every export embeds our scoring in the target system's own language (FHIRPath, REDCap calc
fields, XLSForm calculates) so that it gives the numbers our engine gives; every import returns an
:class:`~surveytool.interchange._common.ImportResult` with what could not be mapped.
"""

from __future__ import annotations

from surveytool.interchange._common import ImportResult, dump_yaml, instrument_document

__all__ = ["ImportResult", "dump_yaml", "instrument_document"]
