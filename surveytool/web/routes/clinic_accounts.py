"""Accounts on the web: one's own password and second factor, a password reset with a one-time
code, the admin's page of accounts (role, deactivation, reset codes), assigning a client, and
the address a notification mail links to (``/clinic/alerts/<id>``).

Only admins reach ``/clinic/admin`` and assignment; anyone else gets "not found", as for a
client they may not see.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from surveytool.clinic import accounts, auth, settings
from surveytool.clinic.clinicians import actor_of
from surveytool.clinic.errors import ClinicError, NotFoundError
from surveytool.clinic.models import Clinician
from surveytool.web.deps import ClinicPages, CurrentClinician, FormFields, ReadSession, WriteSession
from surveytool.web.pages import LOGIN_PATH, Refusal

router = APIRouter()

ACCOUNT = "/clinic/account"
ADMIN = "/clinic/admin"
RESET = "/clinic/reset"


def not_found() -> Refusal:
    return Refusal("Not found", "There is no such page.", 404, back="/clinic")


def require_admin(me: Clinician) -> None:
    if not me.is_admin:
        raise not_found()


@router.get("/clinic/alerts/{alert_id}")
def alert_page(alert_id: int, me: CurrentClinician, session: ReadSession) -> Response:
    """Where a notification mail points: the alert on its client's page (login first)."""
    try:
        alert = accounts.alert_of(session, me, alert_id)
    except NotFoundError as exc:
        raise Refusal("Not found", "There is no such alert.", 404, back="/clinic") from exc
    return RedirectResponse(f"/clinic/clients/{alert.client_id}#alert-{alert.id}", status_code=303)


# ---- one's own account ---------------------------------------------------------------------


@router.get(ACCOUNT, response_class=HTMLResponse)
def account_page(me: CurrentClinician, pages: ClinicPages, session: ReadSession) -> Response:
    secret = None if me.totp_secret else auth.new_totp_secret()
    return pages(
        "clinic/account.html",
        me=me,
        secret=secret,
        uri=None if secret is None else auth.totp_uri(secret, me.username),
        required=settings.get_setting(session, "require_totp") == "yes",
    )


@router.post(ACCOUNT + "/password")
def change_password(me: CurrentClinician, data: FormFields, session: WriteSession) -> Response:
    new = str(data.get("new") or "")[:1024]
    if new != str(data.get("repeat") or "")[:1024]:
        raise Refusal(
            "The password was not changed", "The two new passwords differ.", 400, back=ACCOUNT
        )
    try:
        target = accounts.get_clinician(session, me.id)
        auth.change_password(
            session, target, str(data.get("current") or "")[:1024], new, actor=actor_of(me, "")
        )
    except ClinicError as exc:
        raise Refusal("The password was not changed", str(exc), 400, back=ACCOUNT) from exc
    # every session of the account ended, this one too: log in with the new password
    return RedirectResponse(LOGIN_PATH, status_code=303)


@router.post(ACCOUNT + "/totp")
def enable_totp(me: CurrentClinician, data: FormFields, session: WriteSession) -> Response:
    try:
        target = accounts.get_clinician(session, me.id)
        auth.enable_totp(
            session,
            target,
            str(data.get("secret") or "")[:64],
            str(data.get("code") or "")[:32],
            actor=actor_of(me, ""),
        )
    except ClinicError as exc:
        raise Refusal("The second factor is not on", str(exc), 400, back=ACCOUNT) from exc
    return RedirectResponse(ACCOUNT, status_code=303)


# ---- reset with a one-time code ------------------------------------------------------------


@router.get(RESET, response_class=HTMLResponse)
def reset_page(pages: ClinicPages) -> Response:
    return pages("clinic/reset.html")


@router.post(RESET, response_class=HTMLResponse)
def reset(data: FormFields, pages: ClinicPages, session: WriteSession) -> Response:
    new = str(data.get("new") or "")[:1024]
    username = str(data.get("username") or "")[:64]
    if new != str(data.get("repeat") or "")[:1024]:
        return pages(
            "clinic/reset.html", 400, error="The two new passwords differ.", username=username
        )
    try:
        auth.redeem_reset_code(session, username, str(data.get("code") or "")[:64], new)
    except ClinicError as exc:
        return pages("clinic/reset.html", 400, error=str(exc), username=username)
    return pages.message(
        "Your password is set", "Log in with your new password.", 200, back=LOGIN_PATH
    )


# ---- the admin's pages ---------------------------------------------------------------------


@router.get(ADMIN, response_class=HTMLResponse)
def admin_page(me: CurrentClinician, pages: ClinicPages, session: ReadSession) -> Response:
    require_admin(me)
    return pages(
        "clinic/admin.html",
        me=me,
        accounts=accounts.clinicians(session),
        values=settings.all_settings(session),
    )


@router.post(ADMIN + "/accounts/{clinician_id}", response_class=HTMLResponse)
def admin_act(
    clinician_id: int,
    me: CurrentClinician,
    data: FormFields,
    pages: ClinicPages,
    session: WriteSession,
) -> Response:
    require_admin(me)
    act = str(data.get("act") or "")
    actor = actor_of(me, "")
    try:
        target = accounts.get_clinician(session, clinician_id)
        if act == "deactivate":
            accounts.set_active(session, target, False, actor=actor)
        elif act == "reactivate":
            accounts.set_active(session, target, True, actor=actor)
        elif act in ("admin", "clinician"):
            accounts.set_role(session, target, act, actor=actor)
        elif act == "reset":
            code = auth.issue_reset_code(session, target, actor=actor)
            return pages(
                "clinic/message.html",
                title=f"Reset code for {target.username}",
                message=f"Reset code: {code}. Give it to {target.name} in person or by phone; "
                f"it works once, for 24 hours, at {RESET}. Their old password no longer works.",
                back=ADMIN,
                me=me,
            )
        elif act == "totp_off":
            auth.disable_totp(session, target, actor=actor)
        else:
            raise ClinicError(f"unknown action {act!r}")
    except NotFoundError as exc:
        raise not_found() from exc
    except ClinicError as exc:
        raise Refusal("Nothing was changed", str(exc), 400, back=ADMIN) from exc
    return RedirectResponse(ADMIN, status_code=303)


@router.post("/clinic/clients/{client_id}/assign")
def assign_client(
    client_id: int, me: CurrentClinician, data: FormFields, session: WriteSession
) -> Response:
    require_admin(me)
    back = f"/clinic/clients/{client_id}"
    try:
        client = accounts.client_of(session, me, client_id)
        chosen = str(data.get("clinician") or "")
        target = accounts.get_clinician(session, int(chosen)) if chosen.isdigit() else None
        accounts.assign(session, client, target, actor=actor_of(me, ""))
    except NotFoundError as exc:
        raise not_found() from exc
    except ClinicError as exc:
        raise Refusal("The client was not assigned", str(exc), 400, back=back) from exc
    return RedirectResponse(back, status_code=303)
