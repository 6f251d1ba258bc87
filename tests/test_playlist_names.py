"""Every box on the site that names a playlist takes as many characters as the database keeps, no more, no less."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from catalog.models import Playlist, PlaylistItem, Rating, Song
from recommender.core.paths import slerp
from tests.factories import embed, make_song

pytestmark = pytest.mark.django_db

MAX_LENGTH = Playlist._meta.get_field("name").max_length
NAME_INPUT = re.compile(r'<input\b[^>]*\bname="name"[^>]*>')


@pytest.fixture
def songs(alice: User) -> list[Song]:
    """Ten analysed catalogue songs along an arc, each near the one before, the first two liked by alice;
    then one upload of alice's, analysed too."""
    rng = np.random.default_rng(0)
    start, goal = rng.standard_normal(200), rng.standard_normal(200)
    points = slerp(start, goal, np.linspace(0.0, 1.0, 10))
    catalogue = [
        embed(make_song(title=f"Step {i}", artist=f"Artist {i}"), point + 0.05 * rng.standard_normal(200))
        for i, point in enumerate(points)
    ]
    for song in catalogue[:2]:
        Rating.objects.rate(alice, song, Rating.LIKE)
    upload = embed(make_song(title="Mine", owner=alice, in_catalogue=False), points[5])
    return [*catalogue, upload]


def _playlist_of(alice: User, songs: list[Song]) -> Playlist:
    playlist = Playlist.objects.create(owner=alice, name="Sunday")
    PlaylistItem.objects.create(playlist=playlist, song=songs[0], position=1)
    return playlist


PAGES: dict[str, Callable[[User, list[Song]], str]] = {
    "playlists (create, import)": lambda alice, songs: reverse("catalog:playlist_list"),
    "a playlist (rename)": lambda alice, songs: _playlist_of(alice, songs).get_absolute_url(),
    "add a song (new playlist)": lambda alice, songs: reverse("catalog:playlist_add_song", args=[songs[0].pk]),
    "for you (save)": lambda alice, songs: reverse("recommender:for_you"),
    "more like this (save)": lambda alice, songs: reverse("recommender:more_like_this", args=[songs[0].pk]),
    "an upload (save)": lambda alice, songs: reverse("recommender:upload_detail", args=[songs[-1].pk]),
    "a path (save)": lambda alice, songs: reverse("recommender:path") + f"?from={songs[0].pk}&to={songs[9].pk}&n=3",
}


@pytest.mark.parametrize("page", PAGES)
def test_every_playlist_name_input_allows_the_models_length(alice_client, alice, songs, page):
    response = alice_client.get(PAGES[page](alice, songs))

    assert response.status_code == 200
    inputs = NAME_INPUT.findall(response.content.decode())
    assert inputs, f"no playlist-name input on {page}"
    for found in inputs:
        assert f'maxlength="{MAX_LENGTH}"' in found, found
