"""Songs of one artist with the same title are told apart by their track number and file name (issue 11, §6.11:
HyperRogue ships eleven tracks tagged "Living Caves", which looked like one song listed eleven times)."""

from __future__ import annotations

import numpy as np
import pytest
from django.urls import reverse

from catalog.models import Playlist, Song
from recommender.models import Embedding, active_dimensions
from tests.factories import embed, make_song

pytestmark = pytest.mark.django_db


def caves(**overrides: object) -> list[Song]:
    return [
        make_song(
            title="Living Caves", artist="Zeno Rogue", track_number=3, original_filename="caves-1.ogg", **overrides
        ),
        make_song(
            title="living caves", artist="Zeno Rogue", track_number=7, original_filename="caves-2.ogg", **overrides
        ),
    ]


def catalogue_page(client, **params) -> str:
    return client.get(reverse("catalog:song_list"), params).content.decode()


def test_two_songs_of_one_artist_with_one_title_show_their_track_and_file_name(alice_client):
    caves()

    page = catalogue_page(alice_client, q="caves")

    assert "(track 3 · caves-1.ogg)" in page
    assert "(track 7 · caves-2.ogg)" in page


def test_a_title_of_its_own_has_no_note(alice_client):
    make_song(title="Living Caves", artist="Zeno Rogue", track_number=3, original_filename="caves-1.ogg")
    make_song(title="Living Caves", artist="Someone Else", track_number=4, original_filename="other.ogg")

    page = catalogue_page(alice_client)

    assert "title-note" not in page


def test_without_a_track_number_the_file_name_tells_them_apart(alice_client):
    for name in ("a.ogg", "b.ogg"):
        make_song(title="Theme", artist="Composer", original_filename=name)

    page = catalogue_page(alice_client)

    assert "(a.ogg)" in page and "(b.ogg)" in page


def test_someone_elses_private_upload_of_the_same_title_changes_nothing_anyone_sees(alice_client, bob):
    make_song(title="Living Caves", artist="Zeno Rogue", original_filename="caves-1.ogg")
    make_song(title="Living Caves", artist="Zeno Rogue", owner=bob, in_catalogue=False, original_filename="mine.ogg")

    assert "title-note" not in catalogue_page(alice_client)


def test_a_shared_uploads_file_name_is_never_shown_to_others(alice_client, bob_client, alice):
    make_song(title="Intro", artist="Band", original_filename="intro.ogg")
    shared = make_song(
        title="Intro", artist="Band", owner=alice, in_catalogue=True, track_number=2, original_filename="alice-memo.m4a"
    )

    for page in (catalogue_page(bob_client), bob_client.get(shared.get_absolute_url()).content.decode()):
        assert "alice-memo" not in page
    assert "track 2" in catalogue_page(bob_client)
    assert "alice-memo.m4a" in alice_client.get(shared.get_absolute_url()).content.decode()  # her own file


def test_an_uploads_owner_sees_it_told_apart_from_the_catalogue_song_it_repeats(alice_client, alice):
    make_song(title="Living Caves", artist="Zeno Rogue", original_filename="caves-1.ogg")
    mine = make_song(
        title="Living Caves", artist="Zeno Rogue", owner=alice, in_catalogue=False, original_filename="x.ogg"
    )

    page = alice_client.get(mine.get_absolute_url()).content.decode()

    assert " · x.ogg</p>" in page


def test_recommendations_and_playlists_tell_them_apart_too(alice_client, alice):
    first, second = caves()
    seed = make_song(title="Seed")
    rng = np.random.default_rng(0)
    for song in (seed, first, second):
        embed(song, rng.standard_normal(active_dimensions()))
    playlist = Playlist.objects.create_with_songs(owner=alice, name="Caves", songs=[first, second])

    similar = Embedding.objects.similar_songs(seed, k=5, max_per_artist=None)
    playlist_page = alice_client.get(playlist.get_absolute_url()).content.decode()

    assert {song.title_note for song in similar} == {"track 3 · caves-1.ogg", "track 7 · caves-2.ogg"}
    assert "(track 3 · caves-1.ogg)" in playlist_page and "(track 7 · caves-2.ogg)" in playlist_page
