from __future__ import annotations

import numpy as np
import pytest
from django.urls import reverse

from catalog.genre_tree import broader_genre, is_genre
from catalog.importer import Provenance, import_file
from catalog.models import Genre, Playlist, Song
from tests.factories import embed, make_song, write_audio

# How a predicted genre looks on every page: the same pill, marked, with its explanation as a tooltip.
PREDICTED_ROCK = (
    '<span class="tag predicted" title="Predicted from the audio: the file\'s tags name no genre">'
    '<span aria-hidden="true">≈ </span>Rock<span class="visually-hidden"> (predicted)</span></span>'
)
EXPLANATION = "≈ Predicted from the audio: the file's tags name no genre"


@pytest.mark.parametrize(
    ("name", "parent"),
    [
        ("Melodic Death Metal", "Metal"),
        ("Death Metal", "Metal"),
        ("Indie Rock", "Rock"),
        ("Punk", "Rock"),
        ("Techno", "Electronic"),
        ("drum-and-bass", "Electronic"),
        ("Romantic Classical", "Classical"),
        ("Game", "Video game music"),
        ("Video game music", "Soundtrack"),
        ("Rock", None),
        ("Metal", None),
        ("Polka", None),
    ],
)
def test_it_places_a_genre_under_its_broader_genre(name, parent):
    assert broader_genre(name) == parent


@pytest.mark.parametrize("name", ["(None)", "<Unknown>", "unknown", "", "Other", "Music"])
def test_placeholder_tags_are_not_genres(name):
    assert not is_genre(name)


@pytest.mark.django_db
def test_a_new_sub_genre_is_created_under_its_parents_all_the_way_up():
    genre = Genre.objects.named("Melodic death metal")

    assert genre.parent.name == "Metal"
    assert genre.parent.parent is None
    assert Genre.objects.named("MELODIC DEATH METAL") == genre
    assert Genre.objects.named("Game").parent.parent.name == "Soundtrack"


@pytest.mark.django_db
def test_an_admin_placement_is_kept_when_the_genre_is_seen_again():
    polka = Genre.objects.named("Polka")
    polka.parent = Genre.objects.named("Folk")
    polka.save()

    assert Genre.objects.named("polka").parent.name == "Folk"


@pytest.mark.django_db
def test_imported_sub_genres_roll_up_into_the_genre_filter(tmp_path):
    write_audio(tmp_path / "a.ogg", seed=1, title="Blast", genre="Death Metal")
    write_audio(tmp_path / "b.ogg", seed=2, title="Swing Low", genre="Bebop")
    for path in sorted(tmp_path.glob("*.ogg")):
        import_file(path)

    metal = Genre.objects.get(name="Metal")
    assert list(Song.objects.in_genre(metal).values_list("title", flat=True)) == ["Blast"]


@pytest.mark.django_db
def test_placeholder_genres_and_artists_in_tags_are_ignored(tmp_path):
    path = write_audio(tmp_path / "a.ogg", title="Quiet", artist="<Unknown>", genre="(None)")

    import_file(path, provenance=Provenance(genres=("Video game music",)))

    song = Song.objects.get()
    assert song.artist.name == "Unknown artist"
    assert list(song.genres.values_list("name", flat=True)) == ["Video game music"]


@pytest.mark.django_db
def test_a_predicted_genre_looks_the_same_on_every_page(alice_client, alice):
    rock = Genre.objects.named("Rock")
    vector = np.ones(200)
    untagged = embed(make_song(title="Untagged", genres=[]), vector)
    untagged.predicted_genres.add(rock)
    make_song(title="Tagged", genres=["Jazz"])
    playlist = Playlist.objects.create(owner=alice, name="Mix")
    playlist.add_song(untagged)
    upload = embed(make_song(title="My demo", owner=alice, in_catalogue=False), vector)
    upload.predicted_genres.add(rock)
    pages = {
        "song list": reverse("catalog:song_list"),
        "song page": untagged.get_absolute_url(),
        "playlist": playlist.get_absolute_url(),
        # The upload's own genre, and its recommendations, where Untagged is the nearest song.
        "upload page": reverse("recommender:upload_detail", args=[upload.pk]),
    }

    for name, url in pages.items():
        body = alice_client.get(url).content.decode()
        assert PREDICTED_ROCK in body, name
        assert body.count('class="tag predicted"') == body.count(PREDICTED_ROCK), name
    assert '<span class="tag">Jazz</span>' in alice_client.get(pages["song list"]).content.decode()


@pytest.mark.django_db
def test_a_page_about_one_song_spells_out_what_predicted_means_and_a_list_leaves_it_to_the_tooltip(alice_client):
    song = make_song(title="Untagged")
    rock = Genre.objects.named("Rock")
    song.predicted_genres.add(rock)

    song_page = alice_client.get(song.get_absolute_url()).content.decode()
    song_list = alice_client.get(reverse("catalog:song_list")).content.decode()

    assert song_page.count(EXPLANATION) == 1
    assert f'<a href="{reverse("catalog:song_list")}?genre={rock.slug}">{PREDICTED_ROCK}</a>' in song_page
    assert EXPLANATION not in song_list
