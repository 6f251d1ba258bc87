from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from catalog.models import Playlist, PlaylistItem, Song
from tests.factories import make_song

pytestmark = pytest.mark.django_db


def make_playlist(owner: User, *, name: str = "Sunday", songs: list[Song] | None = None) -> Playlist:
    songs = [make_song(), make_song()] if songs is None else songs
    playlist = Playlist.objects.create(owner=owner, name=name, seed=songs[0] if songs else None)
    for position, song in enumerate(songs, start=1):
        PlaylistItem.objects.create(playlist=playlist, song=song, position=position, similarity=1 - position / 10)
    return playlist


@pytest.fixture
def bobs_playlist(bob) -> Playlist:
    return make_playlist(bob, name="Bob's Secret Mix")


def text(response) -> str:
    return response.content.decode()


def test_the_playlists_page_lists_only_your_own_playlists(alice_client, alice, bobs_playlist):
    make_playlist(alice, name="Morning Run", songs=[make_song(), make_song(), make_song()])

    response = alice_client.get(reverse("catalog:playlist_list"))

    assert [p.name for p in response.context["playlists"]] == ["Morning Run"]
    assert response.context["playlists"][0].song_count == 3
    assert "Morning Run" in text(response)
    assert "Secret Mix" not in text(response)


def test_with_no_playlists_the_page_says_how_to_make_one(alice_client, bobs_playlist):
    response = alice_client.get(reverse("catalog:playlist_list"))

    assert "No playlists yet." in text(response)
    assert reverse("recommender:upload") in text(response)


def test_a_playlist_page_lists_its_songs_in_order_with_play_buttons(alice_client, alice):
    first, second = make_song(title="First Light"), make_song(title="Second Wind")
    playlist = make_playlist(alice, songs=[first, second])

    response = alice_client.get(playlist.get_absolute_url())

    page = text(response)
    assert response.status_code == 200
    assert page.index("First Light") < page.index("Second Wind")
    assert f'data-src="{reverse("catalog:song_audio", args=[first.pk])}"' in page
    assert "Grown from First Light · 2 songs" in page


@pytest.mark.parametrize(
    ("view", "method", "data"),
    [
        ("catalog:playlist_detail", "get", {}),
        ("catalog:playlist_rename", "post", {"name": "Mine now"}),
        ("catalog:playlist_delete", "post", {}),
    ],
    ids=["detail", "rename", "delete"],
)
def test_someone_elses_playlist_is_a_404_and_stays_as_it_was(alice_client, bobs_playlist, view, method, data):
    response = getattr(alice_client, method)(reverse(view, args=[bobs_playlist.pk]), data)

    assert response.status_code == 404
    bobs_playlist.refresh_from_db()
    assert bobs_playlist.name == "Bob's Secret Mix"
    assert bobs_playlist.owner.username == "bob"
    assert bobs_playlist.items.count() == 2


@pytest.mark.parametrize("view", ["catalog:playlist_detail", "catalog:playlist_rename", "catalog:playlist_delete"])
def test_a_playlist_that_does_not_exist_is_a_404(alice_client, view):
    method = alice_client.get if view == "catalog:playlist_detail" else alice_client.post

    assert method(reverse(view, args=[999_999])).status_code == 404


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("Road trip", "Road trip"),
        ("  Sunday \t  morning \n ", "Sunday morning"),
        ("Road\x00trip", "Roadtrip"),
        ("Ünïcødé 東京 🎵", "Ünïcødé 東京 🎵"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        ("x" * 300, "x" * 120),
    ],
    ids=["plain", "whitespace", "nul-inside", "unicode", "html", "300-chars"],
)
def test_renaming_keeps_a_clean_name(alice_client, alice, sent, kept):
    playlist = make_playlist(alice)

    response = alice_client.post(reverse("catalog:playlist_rename", args=[playlist.pk]), {"name": sent}, follow=True)

    playlist.refresh_from_db()
    assert playlist.name == kept
    page = text(response)
    assert "Renamed to" in page
    assert "<script>alert(1)" not in page


@pytest.mark.parametrize(
    "sent", ["", "   ", "\t\n", "\x00", "\x00 \x00"], ids=["empty", "spaces", "tab", "nul", "nuls"]
)
def test_renaming_to_an_empty_name_is_refused(alice_client, alice, sent):
    playlist = make_playlist(alice, name="Keep Me")

    response = alice_client.post(reverse("catalog:playlist_rename", args=[playlist.pk]), {"name": sent}, follow=True)

    playlist.refresh_from_db()
    assert playlist.name == "Keep Me"
    assert "A playlist needs a name." in text(response)


def test_renaming_without_a_name_field_is_refused(alice_client, alice):
    playlist = make_playlist(alice, name="Keep Me")

    response = alice_client.post(reverse("catalog:playlist_rename", args=[playlist.pk]), follow=True)

    playlist.refresh_from_db()
    assert playlist.name == "Keep Me"
    assert "A playlist needs a name." in text(response)


def test_deleting_a_playlist_removes_its_items_but_not_its_songs(alice_client, alice, bobs_playlist):
    playlist = make_playlist(alice, name="Gone Soon")
    song_ids = list(playlist.items.values_list("song_id", flat=True))

    response = alice_client.post(reverse("catalog:playlist_delete", args=[playlist.pk]), follow=True)

    assert response.redirect_chain == [(reverse("catalog:playlist_list"), 302)]
    assert "Deleted “Gone Soon”." in text(response)
    assert not Playlist.objects.filter(pk=playlist.pk).exists()
    assert not PlaylistItem.objects.filter(playlist_id=playlist.pk).exists()
    assert Song.objects.filter(pk__in=song_ids).count() == 2
    assert bobs_playlist.items.count() == 2


@pytest.mark.parametrize("view", ["catalog:playlist_rename", "catalog:playlist_delete"])
def test_renaming_and_deleting_refuse_a_get(alice_client, alice, view):
    playlist = make_playlist(alice, name="Keep Me")

    response = alice_client.get(reverse(view, args=[playlist.pk]), {"name": "Changed"})

    assert response.status_code == 405
    playlist.refresh_from_db()
    assert playlist.name == "Keep Me"


@pytest.mark.parametrize(
    ("view", "method"),
    [
        ("catalog:playlist_list", "get"),
        ("catalog:playlist_detail", "get"),
        ("catalog:playlist_rename", "post"),
        ("catalog:playlist_delete", "post"),
    ],
)
def test_a_visitor_is_sent_to_log_in(client, bobs_playlist, view, method):
    url = reverse(view) if view == "catalog:playlist_list" else reverse(view, args=[bobs_playlist.pk])

    response = getattr(client, method)(url, {"name": "Hacked"} if method == "post" else {})

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"
    bobs_playlist.refresh_from_db()
    assert bobs_playlist.name == "Bob's Secret Mix"
