"""“Listeners also played” on song pages (issue 14): what the people who play a song also play, from the collaborative
model trained by the real job on real PostgreSQL, without ever pointing at one person's listening."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import Play, Playlist, PlaylistItem, Rating, Song
from recommender.collaborative import SongFactor, current_model, listeners_also_played, train_collaborative_model
from tests.conftest import PASSWORD
from tests.factories import embed, make_song

HTMX = {"HX-Request": "true"}
D = 200


def listen(user: User, songs: list[Song], *, times: int = 1) -> None:
    """``user`` plays each of ``songs`` to the end, ``times`` times."""
    Play.objects.bulk_create(
        Play(user=user, song=song, completed=True, seconds_listened=4) for song in songs for _ in range(times)
    )


def people(prefix: str, n: int) -> list[User]:
    return [User.objects.create_user(f"{prefix}-{i}", password=PASSWORD) for i in range(n)]


@dataclass
class Crowd:
    """Six people who play the rock songs, six who play the jazz songs; three of the rock fans also play "Rare"."""

    seed: Song
    rock: list[Song]  # the seed's company: "Same Band" has three of them
    jazz: list[Song]
    rare: Song
    rock_fans: list[User]
    jazz_fans: list[User]


@pytest.fixture(name="crowd")
def crowd_fixture(db) -> Crowd:
    rng = np.random.default_rng(3)
    centre = rng.standard_normal(D)

    def song(title: str, artist: str) -> Song:
        # Long enough to be still playing when a browser test looks (tests/test_browser_listeners_also_played.py).
        return embed(make_song(title=title, artist=artist, seconds=30), centre + rng.standard_normal(D))

    seed = song("Seed Anthem", "Seed Artist")
    rock = [song(f"Same Band {i}", "Same Band") for i in range(1, 4)] + [song("Loud Road", "Road Crew")]
    jazz = [song("Blue Hour", "Night Trio"), song("Late Set", "Late Quartet")]
    rare = song("Rare Cut", "Basement")
    rock_fans, jazz_fans = people("rock", 6), people("jazz", 6)
    for i, fan in enumerate(rock_fans):
        listen(fan, [seed, *rock], times=1 + i % 2)
        Play.objects.create(user=fan, song=jazz[0], skipped=True, seconds_listened=1)
        if i < 3:
            listen(fan, [rare])
    for fan in jazz_fans:
        listen(fan, jazz, times=2)
    return Crowd(seed, rock, jazz, rare, rock_fans, jazz_fans)


def section(client: Client, song: Song) -> str:
    """What the song page loads into itself (htmx)."""
    response = client.get(reverse("recommender:listeners_also_played", args=[song.pk]), headers=HTMX)
    assert response.status_code == 200
    return response.content.decode()


def titles(songs: list[Song]) -> list[str]:
    return [song.title for song in songs]


@pytest.mark.django_db
def test_a_song_with_enough_listeners_shows_what_they_also_play(crowd, alice, alice_client):
    assert train_collaborative_model() > 0

    shown = listeners_also_played(crowd.seed, alice)

    # The rock fans' songs, at most two of "Same Band", and never the jazz the fans skip nor the seed itself.
    assert {song.title for song in shown} <= {song.title for song in crowd.rock}
    assert "Loud Road" in titles(shown)
    assert sum(song.artist.name == "Same Band" for song in shown) == 2
    assert len(shown) == 3

    html = section(alice_client, crowd.seed)
    assert "Listeners also played" in html
    assert "People who play this also play these — from what everyone plays, never who" in html
    assert all(title in html for title in titles(shown))
    assert 'class="play' in html and "add-to-playlist" in html  # play buttons and the "+" menu, as in other lists
    # Nobody is named, and no number of listeners is given.
    assert not any(fan.username in html for fan in crowd.rock_fans + crowd.jazz_fans)
    assert not re.search(r"\d\s*(listener|people|person|play)", html, flags=re.IGNORECASE)

    # Opened by its address (no JavaScript), it is a whole page with the same list.
    page = alice_client.get(reverse("recommender:listeners_also_played", args=[crowd.seed.pk])).content.decode()
    assert "<!doctype html>" in page.lower() and "Listeners of “Seed Anthem” also played" in page
    assert all(title in page for title in titles(shown)) and "Nothing to show yet" not in page


@pytest.mark.django_db
@pytest.mark.parametrize(("minimum", "shown"), [(6, True), (7, False)])
def test_the_section_shows_from_as_many_listeners_as_the_setting_asks(
    crowd, alice, alice_client, settings, minimum, shown
):
    settings.MUSREC_CF_MIN_LISTENERS = minimum
    train_collaborative_model()
    assert SongFactor.objects.get(model=current_model(), song=crowd.seed).listeners == 6

    assert bool(listeners_also_played(crowd.seed, alice)) is shown
    html = section(alice_client, crowd.seed)
    if shown:
        assert "Listeners also played" in html
    else:
        assert html.strip() == ""  # hidden without a trace: no heading, no "not enough listeners"


@pytest.mark.django_db
def test_nothing_is_shown_before_there_is_a_model(crowd, alice, alice_client):
    assert current_model() is None
    assert listeners_also_played(crowd.seed, alice) == []
    assert section(alice_client, crowd.seed).strip() == ""
    page = alice_client.get(reverse("recommender:listeners_also_played", args=[crowd.seed.pk])).content.decode()
    assert "<!doctype html>" in page.lower() and "Nothing to show yet" in page


@pytest.mark.django_db
@pytest.mark.parametrize(("minimum", "listed"), [(5, False), (3, True)])
def test_a_song_with_fewer_listeners_than_the_setting_is_not_listed(crowd, alice, settings, minimum, listed):
    settings.MUSREC_CF_MIN_LISTENERS = minimum
    train_collaborative_model()
    assert SongFactor.objects.get(model=current_model(), song=crowd.rare).listeners == 3

    assert ("Rare Cut" in titles(listeners_also_played(crowd.seed, alice, k=20))) is listed
    # And its own page has the section only from as many listeners.
    assert bool(listeners_also_played(crowd.rare, alice)) is listed


@pytest.mark.django_db
def test_a_private_upload_never_appears_and_its_page_has_no_section(crowd, alice, bob, alice_client, bob_client):
    secret = embed(make_song(title="Alice's demo", owner=alice, in_catalogue=False), np.ones(D))
    # Everyone played it while it was shared, alice most of all, and she keeps it liked and in a playlist.
    for fan in crowd.rock_fans:
        listen(fan, [secret], times=3)
        Rating.objects.create(user=fan, song=secret, value=Rating.LIKE)
    listen(alice, [crowd.seed, secret], times=5)
    Rating.objects.create(user=alice, song=secret, value=Rating.LIKE)
    playlist = Playlist.objects.create(owner=alice, name="Mine")
    PlaylistItem.objects.create(playlist=playlist, song=secret, position=1)

    train_collaborative_model()

    for user in (alice, bob, *crowd.rock_fans):
        assert secret.pk not in [song.pk for song in listeners_also_played(crowd.seed, user, k=20)]
    assert "Alice's demo" not in section(alice_client, crowd.seed)
    assert listeners_also_played(secret, alice) == []
    assert section(alice_client, secret).strip() == ""
    page = alice_client.get(secret.get_absolute_url()).content.decode()
    assert reverse("recommender:listeners_also_played", args=[secret.pk]) not in page
    # To anyone else it does not exist.
    response = bob_client.get(reverse("recommender:listeners_also_played", args=[secret.pk]), headers=HTMX)
    assert response.status_code == 404


@pytest.mark.django_db
def test_one_person_alone_cannot_put_a_song_on_a_page(alice, bob, settings):
    """With the smallest threshold, 2: Bob plays "Bob's Pick" on repeat, likes it and keeps it in a playlist, with
    the seed; Dave plays "Bob's Pick" too and others the seed, so both songs have their two listeners. Still nobody
    but Bob plays both: listing it would tell the seed's listeners what Bob plays."""
    settings.MUSREC_CF_MIN_LISTENERS = 2
    seed, pick, other = (make_song(title=title) for title in ("Seed", "Bob's Pick", "Common Ground"))
    carol, dave, erin, frank, gina = people("person", 5)
    listen(bob, [seed, pick], times=30)
    Rating.objects.create(user=bob, song=pick, value=Rating.LIKE)
    playlist = Playlist.objects.create(owner=bob, name="On repeat")
    PlaylistItem.objects.create(playlist=playlist, song=pick, position=1)
    listen(carol, [seed, other])
    listen(dave, [pick])
    listen(alice, [seed])
    listen(frank, [seed, other])
    listen(gina, [seed, other])
    train_collaborative_model()
    model = current_model()
    assert SongFactor.objects.get(model=model, song=seed).listeners == 5
    assert SongFactor.objects.get(model=model, song=pick).listeners == 2

    for viewer in (alice, carol, dave, erin, frank, gina):
        assert titles(listeners_also_played(seed, viewer)) == ["Common Ground"], viewer
        assert "Seed" not in titles(listeners_also_played(pick, viewer))

    # Alice plays both too: she is one of the two who do, but her own plays tell her nothing new, so still nobody
    # but Bob does as far as she is concerned. To Erin, who plays neither, two people now play both.
    listen(alice, [pick])
    train_collaborative_model()

    assert "Bob's Pick" not in titles(listeners_also_played(seed, alice))
    assert "Bob's Pick" not in titles(listeners_also_played(seed, bob))
    assert "Bob's Pick" in titles(listeners_also_played(seed, erin))


@pytest.mark.django_db
def test_the_song_itself_and_its_copies_are_not_listed(crowd, alice, bob):
    # Bob shared his own copy of the seed's file: it is in the catalogue, and the rock fans play it too.
    copy = make_song(
        title="Seed Anthem (Bob's copy)", owner=bob, in_catalogue=True, content_hash=crowd.seed.content_hash
    )
    for fan in crowd.rock_fans:
        listen(fan, [copy])
    train_collaborative_model()
    assert SongFactor.objects.filter(model=current_model(), song=copy).exists()

    from_seed = [song.pk for song in listeners_also_played(crowd.seed, alice, k=20)]
    from_copy = [song.pk for song in listeners_also_played(copy, alice, k=20)]

    assert from_seed and from_copy
    assert crowd.seed.pk not in from_seed + from_copy
    assert copy.pk not in from_seed + from_copy


@pytest.mark.django_db
def test_the_number_of_queries_does_not_grow_with_the_list(crowd, alice, alice_client):
    train_collaborative_model()
    assert len(listeners_also_played(crowd.seed, alice)) == 3
    assert len(listeners_also_played(crowd.jazz[0], alice)) == 1

    counts = []
    for song in (crowd.seed, crowd.jazz[0]):
        with CaptureQueriesContext(connection) as queries:
            section(alice_client, song)
        counts.append(len(queries))

    assert counts[0] == counts[1], counts


@pytest.mark.django_db
def test_the_song_page_loads_the_section_for_catalogue_songs(crowd, alice_client):
    page = alice_client.get(crowd.seed.get_absolute_url()).content.decode()

    assert f'hx-get="{reverse("recommender:listeners_also_played", args=[crowd.seed.pk])}"' in page


def test_the_threshold_is_5_by_default_and_never_below_2(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from tests.test_settings import settings_with

    monkeypatch.delenv("MUSREC_CF_MIN_LISTENERS", raising=False)
    assert settings_with(monkeypatch)["MUSREC_CF_MIN_LISTENERS"] == 5
    assert settings_with(monkeypatch, MUSREC_CF_MIN_LISTENERS="2")["MUSREC_CF_MIN_LISTENERS"] == 2
    # One listener would be one person's listening.
    with pytest.raises(ImproperlyConfigured, match="MUSREC_CF_MIN_LISTENERS='1': 2 or more is expected"):
        settings_with(monkeypatch, MUSREC_CF_MIN_LISTENERS="1")
