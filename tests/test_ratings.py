"""Like and dislike on every song, and the liked songs page."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import Rating, Song
from tests.factories import make_song

pytestmark = pytest.mark.django_db


@pytest.fixture
def song() -> Song:
    return make_song(title="Heroes of Wesnoth")


def rate(client: Client, song: Song, value: str, **headers: str):
    return client.post(reverse("catalog:song_rate", args=[song.pk]), {"value": value}, headers=headers)


def pressed(html: str, label: str) -> str:
    """The aria-pressed value of the button labelled ``label``."""
    match = re.search(rf'aria-label="{re.escape(label)}" aria-pressed="(true|false)"', html)
    assert match, f"no button labelled {label!r}"
    return match.group(1)


def test_a_listener_likes_a_song_and_the_buttons_come_back_pressed(alice_client, alice, song):
    response = rate(alice_client, song, "like", **{"HX-Request": "true"})

    assert response.status_code == 200
    html = response.content.decode()
    assert pressed(html, "Like Heroes of Wesnoth") == "true"
    assert pressed(html, "Dislike Heroes of Wesnoth") == "false"
    assert Rating.objects.get(user=alice, song=song).value == Rating.LIKE


def test_pressing_like_again_clears_it(alice_client, alice, song):
    liked = rate(alice_client, song, "like", **{"HX-Request": "true"}).content.decode()
    assert 'name="value" value="clear" aria-label="Like Heroes of Wesnoth"' in liked

    response = rate(alice_client, song, "clear", **{"HX-Request": "true"})

    assert pressed(response.content.decode(), "Like Heroes of Wesnoth") == "false"
    assert not Rating.objects.exists()


def test_a_dislike_replaces_a_like(alice_client, alice, song):
    rate(alice_client, song, "like")

    response = rate(alice_client, song, "dislike", **{"HX-Request": "true"})

    assert pressed(response.content.decode(), "Dislike Heroes of Wesnoth") == "true"
    assert pressed(response.content.decode(), "Like Heroes of Wesnoth") == "false"
    assert Rating.objects.get(user=alice, song=song).value == Rating.DISLIKE


def test_without_javascript_the_form_goes_back_to_its_page(alice_client, song):
    back = "http://testserver/?q=heroes"

    response = rate(alice_client, song, "like", Referer=back)

    assert response.status_code == 302
    assert response["Location"] == back


def test_it_never_sends_you_to_another_site(alice_client, song):
    response = rate(alice_client, song, "like", Referer="https://evil.example/phish")

    assert response.status_code == 302
    assert response["Location"] == song.get_absolute_url()


@pytest.mark.parametrize("value", ["love", "", "like\x00", "1", "LIKE", "x" * 10_000])
def test_a_forged_rating_is_refused_and_changes_nothing(alice_client, alice, song, value):
    Rating.objects.rate(alice, song, Rating.DISLIKE)

    response = rate(alice_client, song, value)

    assert response.status_code == 400
    assert "value: must be like, dislike or clear" in response.content.decode()
    assert Rating.objects.get().value == Rating.DISLIKE


def test_someone_elses_private_upload_cannot_be_rated(alice_client, bob):
    private = make_song(title="Bob's demo", owner=bob, in_catalogue=False)

    response = rate(alice_client, private, "like")

    assert response.status_code == 404
    assert not Rating.objects.exists()


def test_a_song_that_does_not_exist_cannot_be_rated(alice_client):
    response = alice_client.post(reverse("catalog:song_rate", args=[987654]), {"value": "like"})

    assert response.status_code == 404


def test_rating_needs_a_login_and_a_post(client, alice_client, song):
    assert rate(client, song, "like").status_code == 302
    assert alice_client.get(reverse("catalog:song_rate", args=[song.pk]), {"value": "like"}).status_code == 405
    assert not Rating.objects.exists()


def test_ratings_are_personal(alice, bob, bob_client, song):
    Rating.objects.rate(alice, song, Rating.LIKE)

    rate(bob_client, song, "dislike")
    page = bob_client.get(song.get_absolute_url()).content.decode()

    assert Rating.objects.get(user=alice).value == Rating.LIKE
    assert Rating.objects.get(user=bob).value == Rating.DISLIKE
    assert pressed(page, "Like Heroes of Wesnoth") == "false"
    assert pressed(page, "Dislike Heroes of Wesnoth") == "true"


def test_the_model_refuses_a_value_that_is_not_like_or_dislike(alice, song):
    with pytest.raises(ValueError):
        Rating.objects.rate(alice, song, 5)
    assert not Rating.objects.exists()


# Rating state on lists, without a query per row


def test_the_catalogue_shows_each_songs_rating_on_first_render(alice_client, alice):
    liked, disliked, _neutral = (make_song(title=t) for t in ("Aaa liked", "Bbb disliked", "Ccc neutral"))
    Rating.objects.rate(alice, liked, Rating.LIKE)
    Rating.objects.rate(alice, disliked, Rating.DISLIKE)

    html = alice_client.get(reverse("catalog:song_list")).content.decode()

    assert pressed(html, "Like Aaa liked") == "true"
    assert pressed(html, "Dislike Bbb disliked") == "true"
    assert pressed(html, "Like Ccc neutral") == "false"
    assert pressed(html, "Dislike Ccc neutral") == "false"


def queries_for_catalogue(client: Client) -> int:
    client.get(reverse("catalog:song_list"))  # the genre menu and the song count are cached from the first page on
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("catalog:song_list")).status_code == 200
    return len(queries)


def test_a_long_list_costs_no_more_queries_than_a_short_one(alice_client, alice, settings):
    for i in range(30):
        Rating.objects.rate(alice, make_song(title=f"Tune {i:02d}"), Rating.LIKE if i % 2 else Rating.DISLIKE)
    settings.MUSREC_PAGE_SIZE = 3
    short = queries_for_catalogue(alice_client)
    settings.MUSREC_PAGE_SIZE = 30

    long = queries_for_catalogue(alice_client)

    assert long == short


@pytest.mark.parametrize("page", ["catalog:song_list", "catalog:history", "catalog:liked"])
def test_a_page_loads_the_ratings_of_the_songs_it_shows_not_all_of_them(alice_client, alice, page, settings):
    """Someone with years of likes must not have every one of them read to draw one page."""
    settings.MUSREC_PAGE_SIZE = 5
    for i in range(40):
        Rating.objects.rate(alice, make_song(title=f"Tune {i:02d}"), Rating.LIKE)

    with CaptureQueriesContext(connection) as queries:
        assert alice_client.get(reverse(page)).status_code == 200

    reading_ratings = [q["sql"] for q in queries.captured_queries if 'FROM "catalog_rating"' in q["sql"]]
    # The liked page counts and pages through the likes themselves; otherwise only the shown songs' ratings.
    assert all(
        '"catalog_rating"."song_id" IN' in sql or "LIMIT" in sql or "COUNT(*)" in sql for sql in reading_ratings
    ), reading_ratings


def test_the_liked_page_lists_your_likes_newest_first(alice_client, alice):
    older, newer, disliked = (make_song(title=t) for t in ("Older Love", "Newer Love", "Not For Me"))
    rate(alice_client, older, "like")
    rate(alice_client, newer, "like")
    rate(alice_client, disliked, "dislike")

    response = alice_client.get(reverse("catalog:liked"))

    assert response.status_code == 200
    assert [r.song for r in response.context["page"].object_list] == [newer, older]
    html = response.content.decode()
    assert "Not For Me" not in html
    assert 'class="play-all"' in html
    assert pressed(html, "Like Newer Love") == "true"


def test_nobody_sees_another_persons_likes(alice, bob_client, song):
    Rating.objects.rate(alice, song, Rating.LIKE)

    response = bob_client.get(reverse("catalog:liked"))

    assert list(response.context["page"].object_list) == []
    assert "Heroes of Wesnoth" not in response.content.decode()


def test_the_liked_page_needs_a_login(client):
    response = client.get(reverse("catalog:liked"))

    assert response.status_code == 302


def test_the_player_bar_gets_the_buttons_of_the_playing_song_with_its_rating(alice_client, alice, song):
    Rating.objects.rate(alice, song, Rating.DISLIKE)

    response = alice_client.get(reverse("catalog:song_rating_buttons", args=[song.pk]), headers={"HX-Request": "true"})

    page = response.content.decode()
    assert response.status_code == 200
    assert f'aria-label="Dislike the playing song, {song.title}" aria-pressed="true"' in page
    assert f'aria-label="Like the playing song, {song.title}" aria-pressed="false"' in page
    assert '<input type="hidden" name="in" value="player">' in page
    assert "{#" not in page and "#}" not in page  # a template comment over two lines is printed, not hidden


def test_no_template_comment_leaks_into_a_list_of_songs(alice_client, song):
    page = alice_client.get(reverse("catalog:song_list")).content.decode()

    assert song.title in page
    assert "{#" not in page and "#}" not in page


def test_the_player_bar_buttons_of_someone_elses_private_upload_are_not_found(alice_client, bob):
    secret = make_song(title="Bob's demo", owner=bob, in_catalogue=False)

    assert alice_client.get(reverse("catalog:song_rating_buttons", args=[secret.pk])).status_code == 404
