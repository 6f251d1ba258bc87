from __future__ import annotations

import pytest

from catalog.genre_tree import broader_genre, is_genre
from catalog.importer import Provenance, import_file
from catalog.models import Genre, Song
from tests.factories import write_audio


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
