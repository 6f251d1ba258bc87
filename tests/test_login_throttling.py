"""Log-in throttling (django-axes): wrong passwords for one username from one address lock that pair out for a while,
on the site's log-in and the admin's alike."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user
from django.contrib.auth.models import User
from django.db.models import F
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

ELSEWHERE = "203.0.113.7"


def log_in(client: Client, username: str, password: str, *, url: str | None = None):
    return client.post(url or reverse("login"), {"username": username, "password": password})


def fail_to_log_in(client: Client, username: str, *, times: int, url: str | None = None):
    for _ in range(times):
        response = log_in(client, username, "a wrong guess", url=url)
    return response


def test_the_fifth_wrong_password_locks_the_username_out_with_a_page_that_says_why(alice):
    client = Client()

    fourth = fail_to_log_in(client, "alice", times=4)
    fifth = log_in(client, "alice", "a wrong guess")

    assert fourth.status_code == 200
    assert fifth.status_code == 429
    page = fifth.content.decode()
    assert "Too many attempts" in page
    assert "Logging in as “alice” failed 5 times in a row from your address" in page
    assert "paused for 15 minutes" in page
    assert "♫ Musrec" in page  # the site's own page, not a line of plain text


def test_a_locked_out_username_is_refused_even_with_the_right_password(alice):
    client = Client()
    fail_to_log_in(client, "alice", times=5)

    response = log_in(client, "alice", PASSWORD)

    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert not get_user(client).is_authenticated


def test_the_admin_log_in_is_locked_out_the_same_way(db):
    User.objects.create_superuser("root", "root@example.com", PASSWORD)
    client = Client()
    admin_login = reverse("admin:login")

    fail_to_log_in(client, "root", times=5, url=admin_login)
    response = log_in(client, "root", PASSWORD, url=admin_login)

    assert response.status_code == 429
    assert "Logging in as “root” failed 5 times" in response.content.decode()
    assert not get_user(client).is_authenticated


def test_alices_lockout_holds_back_neither_bob_nor_alice_from_another_address(alice, bob):
    fail_to_log_in(Client(), "alice", times=5)

    bob_here = log_in(Client(), "bob", PASSWORD)
    alice_elsewhere = log_in(Client(REMOTE_ADDR=ELSEWHERE), "alice", PASSWORD)

    assert bob_here.status_code == 302
    assert alice_elsewhere.status_code == 302


def test_the_lockout_ends_after_the_wait(alice):
    fail_to_log_in(Client(), "alice", times=5)
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=16))

    response = log_in(Client(), "alice", PASSWORD)

    assert response.status_code == 302


def test_a_successful_log_in_starts_the_count_again(alice):
    fail_to_log_in(Client(), "alice", times=4)
    assert log_in(Client(), "alice", PASSWORD).status_code == 302

    fail_to_log_in(Client(), "alice", times=4)
    response = log_in(Client(), "alice", PASSWORD)

    assert response.status_code == 302


def test_the_limit_and_the_wait_follow_the_settings(alice, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=3)

    response = fail_to_log_in(Client(), "alice", times=2)

    assert response.status_code == 429
    assert "failed 2 times in a row from your address, so it is paused for 3 minutes" in response.content.decode()


@pytest.mark.parametrize(
    ("url_name", "form"),
    [
        ("password_change", {"old_password": "a wrong guess", "new_password1": "x", "new_password2": "x"}),
        ("account_delete", {"password": "a wrong guess", "confirm": "on"}),
    ],
)
def test_pages_that_ask_for_the_password_again_limit_the_guesses(
    alice_client, bob_client, alice, url_name, form, one_rate_window
):
    """A session left open on a shared computer must not become a way to guess the password without limit."""
    url = reverse(url_name)
    answers = [alice_client.post(url, form).status_code for _ in range(6)]

    refused_before = 200 if url_name == "password_change" else 400  # a wrong password: the form again, saying so
    assert answers == [refused_before] * 5 + [429]
    assert "Too many tries with the password" in alice_client.post(url, form).content.decode()
    assert bob_client.post(url, form).status_code in (200, 400)  # bob has his own count
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
