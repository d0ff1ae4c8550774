"""Clinician login and logout.

Login: argon2id, then the TOTP code when the account has a second factor (or the practice
requires one); the session cookie is HttpOnly and SameSite=Strict, its token stored only as a
SHA-256; attempts are kept in the database and rate limited per username and address, and per
address, so that a guesser elsewhere cannot lock a clinician out; failed and successful logins
are audited.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from surveytool.clinic import audit, auth, settings
from surveytool.clinic.models import Clinician
from surveytool.web.deps import (
    SESSION_COOKIE,
    ClinicPages,
    FormFields,
    MaybeClinician,
    ReadSession,
    State,
    WriteSession,
)
from surveytool.web.pages import LOGIN_PATH

router = APIRouter()


def any_account(session: Session) -> bool:
    return bool(session.query(Clinician.id).first())


@router.get(LOGIN_PATH, response_class=HTMLResponse)
def login_form(me: MaybeClinician, pages: ClinicPages, session: ReadSession) -> Response:
    if me is not None:
        return RedirectResponse("/clinic", status_code=303)
    return pages("clinic/login.html", has_accounts=any_account(session))


FAILED = {
    "password": "Wrong username or password.",
    "code": "Wrong username, password or one-time code. If your account has a second factor, "
    "type the 6-digit code your authenticator app shows now.",
    "totp_not_set": "This practice requires a second factor, and your account has none yet. "
    "Please ask a practice admin to set it up with you "
    "(surveytool clinic totp USERNAME).",
}


@router.post(LOGIN_PATH, response_class=HTMLResponse)
def login(
    request: Request, data: FormFields, pages: ClinicPages, state: State, session: WriteSession
) -> Response:
    username = str(data.get("username") or "")[:64]
    password = str(data.get("password") or "")[:1024]
    code = str(data.get("code") or "")[:32] or None
    # the TCP peer (uvicorn rewrites it from X-Forwarded-For only for `serve --trusted-proxy`)
    address = request.client.host if request.client else "unknown"
    limiter = state.clinic.limiter
    wait = limiter.retry_after(session, username, address)
    if wait > 0:
        return pages(
            "clinic/login.html",
            429,
            has_accounts=True,
            error=f"Too many attempts. Please wait {auth.wait_text(wait)} and try again.",
            username=username,
        )
    required = settings.get_setting(session, "require_totp") == "yes"
    result = auth.log_in(session, username, password, code, require_totp=required)
    limiter.record(session, username, address, succeeded=result.ok)
    if not result.ok or result.clinician is None:
        who = result.clinician
        audit.append(
            session,
            "login" if who is None else f"clinician:{who.username}",
            "login.failed",
            "" if who is None else f"clinician:{who.id}",
            {"username": username.strip().lower(), "address": address, "reason": result.reason},
        )
        return pages(
            "clinic/login.html",
            401,
            has_accounts=True,
            error=FAILED[result.reason],
            username=username,
        )
    token = auth.start_session(session, result.clinician, address=address)
    response = RedirectResponse("/clinic", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
        max_age=int(auth.MAX_SESSION.total_seconds()),
    )
    return response


@router.post("/clinic/logout")
def logout(request: Request, session: WriteSession) -> Response:
    auth.end_session(session, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
