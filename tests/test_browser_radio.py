"""In a real browser, at a desktop and a phone viewport: radio goes on past the end of the queue and reacts to
skips (issue 11 §3). Start radio from a song, let the song end, skip the radio's next two songs, and check on the
stored embeddings that the picks that follow moved away from the skipped songs' region.

Screenshots of the queue panel with the radio's reasons go to var/screenshots/issue11-radio/.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.urls import reverse

from catalog.models import Album, Play, Rating, Song
from recommender.models import Embedding
from tests.browser import CHROMIUM, CHROMIUM_MISSING, browser_page, log_in  # noqa: F401
from tests.factories import embed, make_song
from tests.test_browser_player import wait_until

playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING)]

D = 200
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots" / "issue11-radio"


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


@pytest.fixture
def catalogue() -> dict[str, list[Song]]:
    """A 4-second seed song; six songs in region X, a little nearer the seed than the six of region Y.

    The radio's first picks are therefore X songs; after two of them are skipped, it should turn to Y.
    """
    rng = np.random.default_rng(21)
    seed, a, b = np.linalg.qr(rng.standard_normal((D, 3)))[0].T
    centres = {"X": unit(seed + 0.8 * a), "Y": unit(seed + 1.0 * b)}
    songs = {"seed": [embed(make_song(title="Seed", artist="Seeder", seconds=4.0), seed)]}
    for region, centre in centres.items():
        album = Album.objects.create(title=f"Album {region}")
        songs[region] = [
            embed(
                make_song(title=f"{region}{i}", artist=f"{region} artist {i}", album=album, seconds=20.0),
                centre + 0.15 * unit(rng.standard_normal(D)),
            )
            for i in range(6)
        ]
    return songs


def vector_of(song_id: int) -> np.ndarray:
    return unit(np.asarray(Embedding.objects.get(song_id=song_id).vector))


def nearest_distance(song_id: int, to: list[int]) -> float:
    return float(min(1 - vector_of(song_id) @ vector_of(other) for other in to))


def player_state(page, user) -> dict:
    return json.loads(page.evaluate(f"() => sessionStorage.getItem('musrec-player-{user.pk}') || '{{}}'"))


def playing_id(page) -> str:
    return page.evaluate(
        "() => { const a = document.querySelector('#player-bar audio'); return a.dataset.songId || ''; }"
    )


def upcoming(page, user) -> list[dict]:
    state = player_state(page, user)
    return state.get("queue", [])[state.get("index", 0) + 1 :]


def wait_for_playing(page, song_id: str) -> None:
    page.wait_for_function(
        "(id) => { const a = document.querySelector('#player-bar audio');"
        " return a.dataset.songId === id && !a.paused && a.currentTime > 0.2; }",
        arg=song_id,
    )


def press_next(page) -> None:
    page.locator("#player-bar .player-next").click()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_radio_continues_past_the_queue_and_two_skips_move_it_away(page, alice, catalogue, viewport):
    page.set_viewport_size(VIEWPORTS[viewport])
    seed = catalogue["seed"][0]
    x_ids = {song.pk for song in catalogue["X"]}
    log_in(page, "alice", then=seed.get_absolute_url())
    page.get_by_role("link", name="Start radio").click()
    # The seed plays, and the radio queues its next songs behind it: the queue never runs out.
    wait_for_playing(page, str(seed.pk))
    wait_until(lambda: len(upcoming(page, alice)) >= 2, "the radio's first songs")
    first = [int(track["id"]) for track in upcoming(page, alice)]
    assert set(first) <= x_ids, "the nearest region comes first"
    expect(page.locator("#player-bar .player-radio-name")).to_have_text("Radio: Seed")

    # The 4-second seed plays to its end; the radio's first song follows, and says why it was picked.
    first_song = str(first[0])
    wait_for_playing(page, first_song)
    # Reported by a beacon, which may arrive a moment later.
    wait_until(lambda: Play.objects.filter(user=alice, song=seed, completed=True).exists(), "the seed's play")
    wait_until(lambda: len(upcoming(page, alice)) >= 2, "the radio's songs after the seed")
    page.locator("#player-bar .player-queue summary").click()
    # The song playing was picked before anything was heard; those after it, once the seed had played to its end.
    expect(page.locator("#player-bar li.current .queue-reason")).to_have_text("Like “Seed”, where the radio started")
    expect(
        page.locator("#player-bar li:not(.current) .queue-reason", has_text="Because you let “Seed” play to the end")
    ).not_to_have_count(0)
    if viewport == "desktop":
        expect(page.locator("#player-bar .player-reason")).to_contain_text("“Seed”")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"queue-{viewport}.png"))
    page.locator("#player-bar .player-queue summary").click()

    # Skip two songs of X in a row.
    skipped = [int(first_song)]
    press_next(page)
    second = playing_id(page)
    wait_for_playing(page, second)
    skipped.append(int(second))
    assert set(skipped) <= x_ids
    wait_until(lambda: len(upcoming(page, alice)) >= 2, "the radio's songs after one skip")
    press_next(page)
    wait_until(lambda: playing_id(page) not in {str(s) for s in skipped}, "the song after the second skip")

    # The radio asks anew after each skip; wait for the answer to the second.
    wait_until(
        lambda: (
            (s := player_state(page, alice)).get("radio", {}).get("asked") == len(s["radio"]["heard"]) == 3
            and len(upcoming(page, alice)) >= 2
        ),
        "the radio's songs after the second skip",
    )
    after = [int(track["id"]) for track in upcoming(page, alice)]
    assert len(after) >= 2
    wait_until(lambda: Play.objects.filter(user=alice, song_id__in=skipped, skipped=True).count() == 2, "2 skips")
    # On the stored embeddings: every pick after the two skips is farther from the skipped songs than any X song
    # still unplayed; the skips pushed the radio out of their region.
    x_distances = [nearest_distance(song_id, skipped) for song_id in x_ids - set(skipped)]
    after_distances = [nearest_distance(song_id, skipped) for song_id in after]
    assert min(after_distances) > max(x_distances), (after_distances, x_distances)
    assert not set(after) & x_ids
    # Nothing of the session comes back.
    assert not set(after) & {seed.pk, *skipped, *first}


def test_radio_from_an_artist_and_from_a_songs_menu_and_stopping_it(page, alice, catalogue):
    page.set_viewport_size(VIEWPORTS["desktop"])
    y_artist = catalogue["Y"][0].artist
    log_in(page, "alice", then=f"/artists/{y_artist.pk}/")
    page.get_by_role("link", name="Start radio").click()
    # No song to start with: the radio's own first songs play, the artist's song first (nearest their centroid).
    wait_until(lambda: len(player_state(page, alice).get("queue", [])) >= 3, "the artist radio's songs")
    wait_for_playing(page, str(catalogue["Y"][0].pk))
    expect(page.locator("#player-bar .player-radio-name")).to_have_text(f"Radio: {y_artist.name}")
    expect(page.locator("#player-bar .player-reason")).to_have_text(f"Like songs by {y_artist.name}")

    # From a song's "+" menu in the catalogue: that song plays first, then its radio.
    x0 = catalogue["X"][0]
    page.goto(reverse("catalog:song_list") + "?q=X0")
    row = page.locator("tr", has=page.get_by_role("button", name="Play X0", exact=True))
    row.locator("summary").click()
    row.get_by_role("button", name="Start radio from X0").click()
    wait_for_playing(page, str(x0.pk))
    wait_until(lambda: len(upcoming(page, alice)) >= 2, "the song radio's songs")
    expect(page.locator("#player-bar .player-radio-name")).to_have_text("Radio: X0")

    # Liking the playing song steers the songs still to come at once, and they say so.
    page.get_by_role("button", name="Like the playing song, X0", exact=True).click()
    page.locator("#player-bar .player-queue summary").click()
    expect(
        page.locator("#player-bar li:not(.current) .queue-reason", has_text="Because you liked “X0”")
    ).not_to_have_count(0)
    page.locator("#player-bar .player-queue summary").click()

    # Disliking the playing song moves the radio on at once, and the dislike is stored.
    page.get_by_role("button", name="Dislike the playing song, X0").click()
    wait_until(lambda: playing_id(page) not in ("", str(x0.pk)), "the song after the disliked one")
    assert Rating.objects.filter(user=alice, song=x0, value=Rating.DISLIKE).exists()

    # Stopping the radio takes its songs still to come out of the queue; the playing song goes on.
    page.locator("#player-bar .player-queue summary").click()
    page.get_by_role("button", name="Stop radio").click()
    expect(page.locator("#player-bar .player-radio")).to_be_hidden()
    assert upcoming(page, alice) == []
    assert player_state(page, alice)["radio"] is None
    assert playing_id(page) not in ("", str(x0.pk))
