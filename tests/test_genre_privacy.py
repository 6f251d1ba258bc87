"""A private upload's tags never reach anyone else's genre menu, and a file cannot flood the genre table."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import Genre, Song
from catalog.tags import MAX_GENRE_LENGTH, MAX_GENRES, read_tags
from tests.factories import embed, make_song, write_audio


def upload(client: Client, path) -> Song:
    with path.open("rb") as handle:
        response = client.post(reverse("recommender:upload"), {"audio": handle})
    assert response.status_code == 302, response.content[:500]
    return Song.objects.get(pk=int(re.search(r"/upload/(\d+)/", response["Location"]).group(1)))


def genre_menu(client: Client) -> list[str]:
    page = client.get(reverse("catalog:song_list")).content.decode()
    menu = re.search(r'<select name="genre".*?</select>', page, re.S).group(0)
    return re.findall(r"<option value=\"[^\"]+\"[^>]*>([^<]+)</option>", menu)


@pytest.mark.django_db
def test_a_private_uploads_new_genre_is_not_created_nor_shown(alice_client, bob_client, tmp_path):
    make_song(genres=["Rock"])
    upload(alice_client, write_audio(tmp_path / "mine.flac", seconds=3, genre="Classique", title="Mine"))

    assert not Genre.objects.filter(name__iexact="Classique").exists()
    assert genre_menu(bob_client) == ["Rock (1)"]
    assert genre_menu(alice_client) == ["Rock (1)"]


@pytest.mark.django_db
def test_a_private_upload_is_not_counted_in_a_genre_it_shares_with_the_catalogue(alice_client, bob_client, tmp_path):
    make_song(genres=["Rock"])
    song = upload(alice_client, write_audio(tmp_path / "mine.flac", seconds=3, genre="Rock", title="Mine"))

    assert list(song.genres.values_list("name", flat=True)) == ["Rock"]  # it still says what it is to alice
    assert genre_menu(bob_client) == ["Rock (1)"]
    assert "Mine" not in bob_client.get(reverse("catalog:song_list") + "?genre=rock").content.decode()


@pytest.mark.django_db
def test_the_more_like_this_genre_menu_offers_only_catalogue_genres(alice_client, tmp_path):
    Genre.objects.named("Classique")  # left behind, say, by an upload since deleted
    song = embed(make_song(genres=["Rock"]), [1.0] + [0.0] * 199)

    page = alice_client.get(reverse("recommender:more_like_this", args=[song.pk])).content.decode()

    assert 'value="rock"' in page
    assert "Classique" not in page


@pytest.mark.django_db
def test_sharing_an_upload_brings_its_genres_into_the_catalogue(alice_client, bob_client, tmp_path):
    song = upload(alice_client, write_audio(tmp_path / "mine.flac", seconds=3, genre="Classique", title="Mine"))
    Song.objects.filter(pk=song.pk).update(analysis_status=Song.Analysis.DONE)

    alice_client.post(reverse("recommender:upload_share", args=[song.pk]))

    assert genre_menu(bob_client) == ["Classique (1)"]


def test_a_file_with_thousands_of_genres_gives_a_handful(tmp_path):
    many = ";".join(f"Genre number {n}" for n in range(5000)) + ";" + "x" * 500
    path = write_audio(tmp_path / "greedy.flac", seconds=1, genre=many)

    genres = read_tags(path).genres

    assert genres == [f"Genre number {n}" for n in range(MAX_GENRES)]
    assert all(len(name) <= MAX_GENRE_LENGTH for name in genres)


def test_an_overlong_genre_name_is_dropped(tmp_path):
    path = write_audio(tmp_path / "long.flac", seconds=1, genre="y" * (MAX_GENRE_LENGTH + 1) + ";Jazz")

    assert read_tags(path).genres == ["Jazz"]


@pytest.mark.django_db
def test_the_menus_count_is_what_the_genre_filter_lists_predicted_genres_included(alice, bob_client):
    """A song without genre tags is listed under the genre predicted from its sound: the menu counts it too, and
    only for catalogue songs (a private upload predicted the same genre stays uncounted)."""
    ambient = Genre.objects.named("Ambient")
    tagged = make_song(genres=["Ambient"])
    predicted = make_song()
    predicted.predicted_genres.set([ambient])
    secret = make_song(owner=alice, in_catalogue=False)
    secret.predicted_genres.set([ambient])
    options = genre_menu(bob_client)
    assert any(option.strip().endswith("Ambient (2)") for option in options), options
    listed = bob_client.get(reverse("catalog:song_list"), {"genre": ambient.slug}).content.decode()
    assert tagged.title in listed and predicted.title in listed and secret.title not in listed
