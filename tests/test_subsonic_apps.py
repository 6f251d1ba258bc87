"""The Apps page (/apps/): the API secret a Subsonic player signs in with, made, shown once, replaced, revoked."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from subsonic.models import ApiSecret

APPS = reverse("subsonic:apps")


def shown_secret(html: str) -> str | None:
    found = re.search(r"data-api-secret>([^<]+)<", html)
    return found.group(1) if found else None


def test_the_page_needs_a_login(client):
    response = client.get(APPS)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_it_shows_the_server_and_username_and_no_secret_yet(alice_client):
    response = alice_client.get(APPS)
    html = response.content.decode()
    assert response.status_code == 200
    assert "http://testserver" in html and "<code>alice</code>" in html
    assert "Make an API secret" in html and shown_secret(html) is None
    assert "Symfonium" in html and "DSub" in html


def test_a_new_secret_is_shown_once(alice, alice_client):
    response = alice_client.post(APPS, {"action": "issue"}, follow=True)
    secret = shown_secret(response.content.decode())
    assert secret == ApiSecret.objects.get(user=alice).secret and len(secret) >= 32
    assert response.redirect_chain == [(APPS, 302)]
    assert "no-store" in response["Cache-Control"]
    again = alice_client.get(APPS).content.decode()
    assert shown_secret(again) is None and secret not in again
    assert "Make a new secret" in again


def test_a_new_secret_replaces_the_old_one(alice, alice_client):
    first = shown_secret(alice_client.post(APPS, {"action": "issue"}, follow=True).content.decode())
    second = shown_secret(alice_client.post(APPS, {"action": "issue"}, follow=True).content.decode())
    assert first != second and ApiSecret.objects.get(user=alice).secret == second


def test_revoking_removes_the_secret(alice, alice_client):
    alice_client.post(APPS, {"action": "issue"}, follow=True)
    html = alice_client.post(APPS, {"action": "revoke"}, follow=True).content.decode()
    assert "was revoked" in html
    assert not ApiSecret.objects.filter(user=alice).exists()


def test_each_person_has_their_own_secret(alice, bob, alice_client, bob_client):
    alice_client.post(APPS, {"action": "issue"}, follow=True)
    bob_page = bob_client.get(APPS).content.decode()
    assert ApiSecret.objects.get(user=alice).secret not in bob_page
    assert "Make an API secret" in bob_page


def test_the_menu_links_to_the_page(alice_client):
    assert f'href="{APPS}"' in alice_client.get(reverse("account_data")).content.decode()


def test_the_page_refuses_a_post_without_the_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(APPS, {"action": "issue"}).status_code == 403
    assert not ApiSecret.objects.filter(user=alice).exists()
