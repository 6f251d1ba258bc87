"""A person's own account: sign up, download everything Musrec holds about them, or delete it all."""

from __future__ import annotations

import json

from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm, UserCreationForm
from django.contrib.auth.views import PasswordChangeView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from django_ratelimit.decorators import ratelimit

from accounts.data import account_export, account_summary, delete_account, deletion_refusal, export_filename
from accounts.forms import DeleteAccountForm


@require_GET
@login_required
def account_data(request: HttpRequest) -> HttpResponse:
    return render(request, "registration/account.html", {"summary": account_summary(request.user)})


# never_cache sends "no-store, private": the file must stay out of shared and disk caches.
@never_cache
@require_GET
@login_required
def account_data_download(request: HttpRequest) -> HttpResponse:
    data = account_export(request.user, absolute_url=request.build_absolute_uri)
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False).encode(), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = content_disposition_header(True, export_filename(request.user))
    return response


def _password_checks_rate(group: str, request: HttpRequest) -> str | None:
    # As many tries as a log-in gets before its lockout, per lockout period: a session left open on a shared
    # computer must not become a way to guess the password without limit.
    limit = settings.MUSREC_LOGIN_FAILURE_LIMIT
    return f"{limit}/{settings.MUSREC_LOGIN_LOCKOUT_MINUTES * 60}s" if limit else None


# Pages that ask for the current password again; axes sees only log-ins, so these count their own tries.
_checks_password = ratelimit(key="user", rate=_password_checks_rate, method="POST", block=False)
TOO_MANY_PASSWORD_TRIES = "Too many tries with the password. Please wait {minutes} minutes and try again."


def _too_many_tries() -> str:
    return TOO_MANY_PASSWORD_TRIES.format(minutes=settings.MUSREC_LOGIN_LOCKOUT_MINUTES)


@require_http_methods(["GET", "POST"])
@login_required
@_checks_password
def password_change(request: HttpRequest) -> HttpResponse:
    if request.limited:
        context = {"form": PasswordChangeForm(request.user), "refusal": _too_many_tries()}
        return render(request, "registration/password_change_form.html", context, status=429)
    return PasswordChangeView.as_view()(request)


@require_http_methods(["GET", "POST"])
@login_required
@_checks_password
def account_delete(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = DeleteAccountForm(user, request.POST if request.method == "POST" else None)
    refusal = deletion_refusal(user)
    if request.limited:
        context = {"form": DeleteAccountForm(user), "refusal": _too_many_tries(), "summary": account_summary(user)}
        return render(request, "registration/account_delete.html", context, status=429)
    if request.method == "POST" and refusal is None and form.is_valid():
        refusal = delete_account(user)
        if refusal is None:
            username = user.get_username()
            logout(request)
            messages.success(request, f"The account “{username}” and everything in it were deleted.")
            return redirect("login")
    context = {"form": form, "refusal": refusal, "summary": account_summary(user)}
    return render(request, "registration/account_delete.html", context, status=400 if request.method == "POST" else 200)


def _signups_rate(group: str, request: HttpRequest) -> str | None:
    # Read at each request (not at import), so a changed setting applies; None is no limit.
    return f"{settings.MUSREC_SIGNUPS_PER_HOUR}/h" if settings.MUSREC_SIGNUPS_PER_HOUR else None


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=_signups_rate, method="POST", block=False)
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("recommender:home")
    if request.limited:
        context = {
            "form": UserCreationForm(),
            "refusal": f"Too many sign-ups from your address: at most {settings.MUSREC_SIGNUPS_PER_HOUR} an hour. "
            "Please try again later.",
        }
        return render(request, "registration/signup.html", context, status=429)
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("recommender:home")
    return render(request, "registration/signup.html", {"form": form})


def login_locked_out(request: HttpRequest, original_response: HttpResponse, credentials: dict | None) -> HttpResponse:
    """django-axes' answer once a username is locked out from an address (``AXES_LOCKOUT_CALLABLE``): a page in
    the site's look saying why and for how long, for the site's log-in and the admin's alike."""
    context = {
        "username": get_client_username(request, credentials) or "",
        "failure_limit": get_failure_limit(request, credentials),
        "minutes": round(get_cool_off(request).total_seconds() / 60),
    }
    return render(request, "registration/locked_out.html", context, status=429)
