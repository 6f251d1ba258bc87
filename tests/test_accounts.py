from __future__ import annotations

import pytest
from django.contrib.auth import get_user
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD
from tests.factories import make_song

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a quieter tune on the radio"


def sign_up(client: Client, username: str, password: str, password2: str | None = None):
    return client.post(
        reverse("signup"),
        {"username": username, "password1": password, "password2": password if password2 is None else password2},
    )


def test_the_sign_up_page_shows_a_form():
    response = Client().get(reverse("signup"))

    assert response.status_code == 200
    assert b'name="password1"' in response.content


def test_signing_up_creates_the_account_and_logs_you_in():
    client = Client()

    response = sign_up(client, "carol", PASSWORD)

    assert response.status_code == 302
    assert response.url == reverse("recommender:home")
    user = get_user(client)
    assert user.is_authenticated
    assert user.username == "carol"
    assert User.objects.get(username="carol").check_password(PASSWORD)
    assert client.get(reverse("catalog:song_list")).status_code == 200


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("123", "This password is too short."),
        ("123", "This password is entirely numeric."),
        ("password123", "This password is too common."),
        ("carol1234", "The password is too similar to the username."),
    ],
)
def test_sign_up_rejects_weak_passwords_with_a_message(password, message):
    response = sign_up(Client(), "carol", password)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.filter(username="carol").exists()


def test_sign_up_rejects_passwords_that_do_not_match():
    response = sign_up(Client(), "carol", PASSWORD, PASSWORD + "!")

    assert response.status_code == 200
    assert "The two password fields didn’t match." in response.content.decode()
    assert not User.objects.filter(username="carol").exists()


def test_sign_up_rejects_a_username_that_differs_only_in_case(alice):
    response = sign_up(Client(), "ALICE", PASSWORD)

    assert response.status_code == 200
    assert "A user with that username already exists." in response.content.decode()
    assert User.objects.count() == 1


def test_sign_up_normalises_look_alike_unicode_before_checking_for_duplicates(alice):
    response = sign_up(Client(), "ａｌｉｃｅ", PASSWORD)  # full-width letters fold to "alice" under NFKC

    assert response.status_code == 200
    assert "A user with that username already exists." in response.content.decode()
    assert User.objects.count() == 1


def test_a_logged_in_user_visiting_sign_up_goes_home(alice_client):
    response = alice_client.get(reverse("signup"))

    assert response.status_code == 302
    assert response.url == reverse("recommender:home")


def test_logging_in_with_the_right_password_works(alice):
    client = Client()

    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})

    assert response.status_code == 302
    assert response.url == reverse("recommender:home")
    assert get_user(client) == alice


def test_logging_in_with_a_wrong_password_fails_with_a_message(alice):
    client = Client()

    response = client.post(reverse("login"), {"username": "alice", "password": "not it"})

    assert response.status_code == 200
    assert "Please enter a correct username and password." in response.content.decode()
    assert not get_user(client).is_authenticated


def test_logging_in_follows_next_within_the_site_but_never_off_it(alice):
    song = make_song()
    inside = Client().post(
        reverse("login") + f"?next={song.get_absolute_url()}", {"username": "alice", "password": PASSWORD}
    )
    outside = Client().post(
        reverse("login") + "?next=https://evil.example.com/", {"username": "alice", "password": PASSWORD}
    )

    assert inside.url == song.get_absolute_url()
    assert outside.url == reverse("recommender:home")


def test_log_out_is_post_only(alice_client, alice):
    response = alice_client.get(reverse("logout"))

    assert response.status_code == 405
    assert get_user(alice_client) == alice


def test_logging_out_ends_the_session(alice_client):
    response = alice_client.post(reverse("logout"))

    assert response.status_code == 302
    assert not get_user(alice_client).is_authenticated
    assert alice_client.get(reverse("catalog:song_list")).status_code == 302


def test_changing_the_password_keeps_you_logged_in_and_retires_the_old_one(alice_client, alice):
    response = alice_client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert response.url == reverse("password_change_done")
    assert get_user(alice_client) == alice
    assert alice_client.get(reverse("password_change_done")).status_code == 200
    # django-axes, first of the authentication backends, needs the request a log-in comes with.
    assert not Client().login(request=HttpRequest(), username="alice", password=PASSWORD)
    assert Client().login(request=HttpRequest(), username="alice", password=NEW_PASSWORD)


def test_changing_the_password_needs_the_old_one(alice_client, alice):
    response = alice_client.post(
        reverse("password_change"),
        {"old_password": "a guess", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_the_password_change_page_needs_a_login():
    response = Client().get(reverse("password_change"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("page", ["song_list", "song_detail", "song_audio", "song_licence"])
def test_every_catalogue_page_sends_visitors_to_the_login_page(page):
    song = make_song()
    url = reverse(f"catalog:{page}", args=[] if page == "song_list" else [song.pk])

    response = Client().get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"


def test_a_missing_song_also_sends_visitors_to_the_login_page_rather_than_revealing_a_404():
    response = Client().get(reverse("catalog:song_detail", args=[999_999]))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize(
    "username",
    [
        "a" * 10_000,
        "eve\x00admin",
        "🎵🎵🎵",
        "eve\u202egnp.exe",  # right-to-left override
        "eve\u200b",  # zero-width space
        "eve admin",
        "<script>alert(1)</script>",
        "",
    ],
    ids=["huge", "nul-byte", "emoji", "rtl-override", "zero-width", "space", "html", "empty"],
)
def test_hostile_usernames_create_no_account(username):
    response = sign_up(Client(), username, PASSWORD)

    assert response.status_code == 200
    assert User.objects.count() == 0
    assert "<script>alert(1)</script>" not in response.content.decode()


def test_a_nul_byte_in_the_password_creates_no_account():
    response = sign_up(Client(), "carol", PASSWORD + "\x00")

    assert response.status_code == 200
    assert User.objects.count() == 0


def test_a_nul_byte_in_the_login_form_is_refused_without_an_error(alice):
    client = Client()

    response = client.post(reverse("login"), {"username": "alice\x00", "password": PASSWORD})

    assert response.status_code == 200
    assert not get_user(client).is_authenticated


def test_sign_up_without_a_csrf_token_is_forbidden():
    client = Client(enforce_csrf_checks=True)

    response = sign_up(client, "carol", PASSWORD)

    assert response.status_code == 403
    assert User.objects.count() == 0


def test_log_in_without_a_csrf_token_is_forbidden(alice):
    client = Client(enforce_csrf_checks=True)

    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})

    assert response.status_code == 403
    assert not get_user(client).is_authenticated


def test_changing_the_password_without_a_csrf_token_is_forbidden(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 403
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_sign_up_with_the_csrf_token_from_the_form_works():
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("signup"))
    token = client.cookies["csrftoken"].value

    response = client.post(
        reverse("signup"),
        {"username": "carol", "password1": PASSWORD, "password2": PASSWORD, "csrfmiddlewaretoken": token},
    )

    assert response.status_code == 302
    assert User.objects.filter(username="carol").exists()


# Sign-ups a network may make (MUSREC_SIGNUPS_PER_HOUR)


def test_sign_ups_from_one_address_stop_at_the_hourly_limit_with_a_message(settings, one_rate_window):
    settings.MUSREC_SIGNUPS_PER_HOUR = 3
    for name in ("carol", "dave", "erin"):
        assert sign_up(Client(), name, PASSWORD).status_code == 302

    response = sign_up(Client(), "frank", PASSWORD)

    assert response.status_code == 429
    assert (
        "Too many sign-ups from your address: at most 3 an hour. Please try again later." in response.content.decode()
    )
    assert b'name="password1"' in response.content
    assert not User.objects.filter(username="frank").exists()


def test_the_sign_up_limit_of_one_address_leaves_other_addresses_free(settings, one_rate_window):
    settings.MUSREC_SIGNUPS_PER_HOUR = 1
    sign_up(Client(), "carol", PASSWORD)
    assert sign_up(Client(), "dave", PASSWORD).status_code == 429

    response = sign_up(Client(REMOTE_ADDR="203.0.113.7"), "dave", PASSWORD)

    assert response.status_code == 302
    assert User.objects.filter(username="dave").exists()


def test_looking_at_the_sign_up_page_does_not_count(settings, one_rate_window):
    settings.MUSREC_SIGNUPS_PER_HOUR = 1
    for _ in range(3):
        assert Client().get(reverse("signup")).status_code == 200

    assert sign_up(Client(), "carol", PASSWORD).status_code == 302
