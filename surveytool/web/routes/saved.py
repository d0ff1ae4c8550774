"""The saved-results page: what is stored, where, and deleting it by code."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from surveytool.errors import SurveytoolError
from surveytool.personal_store import normalize_code
from surveytool.web.deps import FormFields, SelfPages, State

router = APIRouter()


@router.get("/saved", response_class=HTMLResponse)
def saved_page(pages: SelfPages, state: State) -> HTMLResponse:
    return pages("saved.html", db_path=str(state.personal.path))


@router.post("/saved/delete", response_class=HTMLResponse)
def delete_saved(data: FormFields, pages: SelfPages, state: State) -> HTMLResponse:
    personal = state.personal
    code = str(data.get("code") or "")
    try:
        normalize_code(code)
        # nothing saved yet: answer without creating the database (nothing is stored unasked)
        count = personal.delete(code) if personal.path.exists() else 0
    except SurveytoolError as exc:
        return pages("saved.html", message=str(exc), db_path=str(personal.path))
    text = (
        f"Deleted {count} saved result{'s' if count != 1 else ''}."
        if count
        else "Nothing was saved under that code."
    )
    return pages("saved.html", message=text, db_path=str(personal.path))
