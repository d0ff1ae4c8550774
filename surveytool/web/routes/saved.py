"""The saved-results page: what is stored, where, and deleting it by code (after a confirmation).

Deleting takes two posts: the code (answered with how many results it would delete and a
button to confirm), then the confirmation, which deletes them securely
(:meth:`~surveytool.personal_store.PersonalStore.delete`). Neither creates a file when nothing
was ever saved.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from surveytool.errors import SurveytoolError
from surveytool.personal_store import normalize_code
from surveytool.web.deps import FormFields, SelfPages, State

router = APIRouter()


def results_phrase(count: int) -> str:
    return f"{count} saved result{'' if count == 1 else 's'}"


@router.get("/saved", response_class=HTMLResponse)
def saved_page(pages: SelfPages, state: State) -> HTMLResponse:
    return pages("saved.html", db_path=str(state.personal.path))


@router.post("/saved/delete", response_class=HTMLResponse)
def delete_saved(data: FormFields, pages: SelfPages, state: State) -> HTMLResponse:
    personal = state.personal
    code = str(data.get("code") or "")
    confirmed = data.get("confirm") == "yes"
    try:
        normalize_code(code)
        count = personal.count(code)
        if count and not confirmed:
            return pages("saved_confirm.html", code=code, count=count, what=results_phrase(count))
        deleted = personal.delete(code) if count else 0
    except SurveytoolError as exc:
        return pages("saved.html", message=str(exc), db_path=str(personal.path))
    text = (
        f"Deleted {results_phrase(deleted)}." if deleted else "Nothing was saved under that code."
    )
    return pages("saved.html", message=text, db_path=str(personal.path))
