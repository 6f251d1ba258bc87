"""An owner corrects their upload's tags on its page (issue 11, §6.11), held to what an import reads from a file,
and a private upload's tags still never reach anyone's genre menu."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import UNKNOWN_ARTIST, Album, Genre, Song
from catalog.tags import MAX_GENRE_LENGTH, MAX_GENRES
from tests.factories import make_song

pytestmark = pytest.mark.django_db


@pytest.fixture
def upload(alice) -> Song:
    return make_song(title="Track 01", artist=UNKNOWN_ARTIST, owner=alice, in_catalogue=False)


def retag(client: Client, song: Song, **fields: object):
    data = {"title": "Living Caves", "artist": "", "album": "", "track_number": "", "genres": "", **fields}
    return client.post(reverse("recommender:upload_tags", args=[song.pk]), data)


def genre_menu(client: Client) -> list[str]:
    page = client.get(reverse("catalog:song_list")).content.decode()
    menu = re.search(r'<select name="genre".*?</select>', page, re.S).group(0)
    return re.findall(r"<option value=\"[^\"]+\"[^>]*>([^<]+)</option>", menu)


def test_the_upload_page_offers_its_tags_to_edit(alice_client, upload):
    upload.genres.add(Genre.objects.create(name="Jazz"))

    page = alice_client.get(reverse("recommender:upload_detail", args=[upload.pk])).content.decode()

    assert f'action="{reverse("recommender:upload_tags", args=[upload.pk])}"' in page
    assert 'name="title" value="Track 01"' in page
    assert 'name="genres" value="Jazz"' in page
    assert 'name="artist" maxlength="255"' in page  # the unknown artist is an empty field, not a name to keep


def test_the_owner_corrects_title_artist_album_track_and_genres(alice_client, upload):
    make_song(title="Catalogue tune", genres=["Ambient", "Rock"])

    response = retag(
        alice_client,
        upload,
        title="Living Caves",
        artist="Zeno Rogue",
        album="HyperRogue",
        track_number="3",
        genres="ambient; Rock",
    )

    assert response.status_code == 302
    assert response.url == reverse("recommender:upload_detail", args=[upload.pk])
    upload.refresh_from_db()
    assert (upload.title, upload.artist.name, upload.album.title, upload.track_number) == (
        "Living Caves",
        "Zeno Rogue",
        "HyperRogue",
        3,
    )
    assert sorted(upload.genres.values_list("name", flat=True)) == ["Ambient", "Rock"]
    assert Album.objects.get(title="HyperRogue").artist.name == "Zeno Rogue"
    assert "Living Caves" in alice_client.get(response.url).content.decode()
    # Search finds it by its new names.
    assert Song.objects.filter(pk=upload.pk).search("living caves zeno").exists()


def test_a_private_upload_never_creates_a_genre(alice_client, bob_client, upload):
    make_song(genres=["Rock"])

    response = retag(alice_client, upload, genres="Rock, Classique")

    assert response.status_code == 400
    assert "“Classique” is not a genre of the catalogue yet" in response.content.decode()
    assert not Genre.objects.filter(name__iexact="Classique").exists()
    upload.refresh_from_db()
    assert upload.title == "Track 01" and not upload.genres.exists()
    assert genre_menu(bob_client) == ["Rock (1)"]


def test_a_private_upload_joining_a_catalogue_genre_is_not_counted_in_it(alice_client, bob_client, upload):
    make_song(genres=["Rock"])

    retag(alice_client, upload, genres="rock")

    assert list(upload.genres.values_list("name", flat=True)) == ["Rock"]
    assert genre_menu(bob_client) == ["Rock (1)"]
    assert "Living Caves" not in bob_client.get(reverse("catalog:song_list"), {"genre": "rock"}).content.decode()


def test_an_upload_in_the_catalogue_brings_the_genres_it_names(alice_client, alice, bob_client):
    shared = make_song(title="Shared", owner=alice, in_catalogue=True)

    retag(alice_client, shared, title="Shared", genres="Chiptune")

    assert list(shared.genres.values_list("name", flat=True)) == ["Chiptune"]
    assert "Electronic › Chiptune (1)" in genre_menu(bob_client)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"title": ""}, "This field is required."),
        ({"title": "x" * 256}, "at most 255 characters"),
        ({"title": "Bad\x00title"}, "Null characters are not allowed."),
        ({"artist": "a" * 256}, "at most 255 characters"),
        ({"track_number": "0"}, "greater than or equal to 1"),
        ({"track_number": "three"}, "Enter a whole number."),
        ({"genres": ", ".join(f"Genre {n}" for n in range(MAX_GENRES + 1))}, f"at most {MAX_GENRES} genres"),
        ({"genres": "g" * (MAX_GENRE_LENGTH + 1)}, f"at most {MAX_GENRE_LENGTH} characters"),
    ],
    ids=["no-title", "long-title", "nul", "long-artist", "track-0", "track-word", "six-genres", "long-genre"],
)
def test_tags_an_import_would_not_take_are_refused_and_nothing_changes(alice_client, alice, fields, error):
    shared = make_song(title="Shared", owner=alice, in_catalogue=True)  # may create genres: only the limits refuse

    response = retag(alice_client, shared, **fields)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert '<details class="edit-tags" open>' in response.content.decode()
    shared.refresh_from_db()
    assert shared.title == "Shared" and not shared.genres.exists()
    assert not Genre.objects.exists()


def test_bob_cannot_retag_alices_upload(bob_client, upload):
    response = retag(bob_client, upload, title="Mine now")

    assert response.status_code == 404
    upload.refresh_from_db()
    assert upload.title == "Track 01"


def test_retagging_needs_a_post(alice_client, upload):
    assert alice_client.get(reverse("recommender:upload_tags", args=[upload.pk])).status_code == 405
