"""Phones and narrow windows: no page scrolls sideways, the player bar stays in view and small, the menu folds.

Set MUSREC_SCREENSHOT_DIR to a folder to keep a screenshot of every page each test visits (issue 11's look check).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image

from catalog.importer import Outcome, import_file
from catalog.models import Album, Play, Playlist, Rating, Song
from recommender.models import Embedding
from tests.browser import CHROMIUM, CHROMIUM_MISSING, TIMEOUT_MS, browser_page, log_in, screenshot  # noqa: F401
from tests.factories import embed, make_song, write_audio

playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING)]

PHONES = {"phone-360": (360, 740), "phone-390": (390, 844)}
DESKTOP = (1280, 800)
# The bar's greatest height: one compact row on a phone, one row on a desktop window of any width.
PHONE_BAR_PX, DESKTOP_BAR_PX = 72, 64
PHONE_MAX_WIDTH = 640

LONG_TITLE = "The Extraordinarily Long Title of a Song That Goes On and On (Extended Twelve-Inch Remix)"
LONG_ARTIST = "Maximilian Oberhausen-Wittgenstein & The Philharmonic Orchestra of Somewhere"
LONG_ALBUM = "Collected Recordings from the Long Evenings, Volume Seventeen"
UPLOAD_FILE_NAME = "my_favourite_song_final_final_master_v2_really_final_this_time.wav"

D = 200

# Elements whose box sticks out of the viewport sideways, unless an ancestor clips them (an ellipsis, a scroller).
STICKING_OUT = """() => {
  const width = document.documentElement.clientWidth;
  const clipped = (element) => {
    for (let up = element.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible") return true;
    }
    return false;
  };
  const name = (element) => element.tagName.toLowerCase() + (element.id ? "#" + element.id : "")
    + (element.classList.length ? "." + [...element.classList].join(".") : "");
  const out = [];
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    if (!box.width || !box.height || !element.checkVisibility() || element.closest(".visually-hidden")) continue;
    if ((box.right > width + 0.5 || box.left < -0.5) && !clipped(element)) {
      out.push(`${name(element)} ${Math.round(box.left)}..${Math.round(box.right)}`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, clientWidth: width, out: out.slice(0, 6)};
}"""


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((width, height)).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def library(alice, tmp_path) -> dict[str, str]:
    """Songs in two kinds of music (one with very long names, long enough to keep playing), some of them liked and
    played by alice, her public playlist of them all, and an analysed upload of hers: the address of each main page.
    """
    rng = np.random.default_rng(0)
    result = import_file(
        write_audio(
            tmp_path / "long.wav",
            seconds=120,
            sample_rate=8000,
            title=LONG_TITLE,
            artist=LONG_ARTIST,
            album=LONG_ALBUM,
            genre="Progressive Electronic",
        )
    )
    assert result.outcome == Outcome.IMPORTED, result.reason
    songs = [Song.objects.get(pk=result.song_id)]
    genres = [["Rock", "Post-punk", "Shoegaze"], ["Jazz"], ["Electronic", "Ambient"], []]
    for kind in ("Forest", "Desert"):
        album = Album.objects.create(title=f"{kind} Sessions")
        for i in range(1, 6):
            songs.append(
                make_song(title=f"{kind} {i}", artist=f"{kind} Band", album=album, genres=genres[i % len(genres)])
            )
    directions = {kind: unit(rng.standard_normal(D)) for kind in ("Forest", "Desert")}
    for song in songs:
        kind = "Desert" if song.title.startswith("Desert") else "Forest"
        embed(song, directions[kind] + 0.4 * unit(rng.standard_normal(D)))
    for song in songs[:3]:
        Rating.objects.create(user=alice, song=song, value=Rating.LIKE)
    for seconds, song in enumerate(songs[:4]):
        Play.objects.create(user=alice, song=song, seconds_listened=seconds, completed=seconds % 2 == 0)

    playlist = Playlist.objects.create_with_songs(
        owner=alice, name="A road trip through the long summer evening", songs=songs, similarities=[0.93] * len(songs)
    )
    playlist.is_public = True
    playlist.description = "Everything for the drive, from the first light to the last petrol station."
    playlist.save()

    upload = make_song(title="My favourite", owner=alice, in_catalogue=False, original_filename=UPLOAD_FILE_NAME)
    upload.spectrogram.save("spectrogram.png", ContentFile(png(640, 128)))
    embed(upload, directions["Forest"])
    Embedding.objects.filter(song=upload).update(tag_scores={"rock": 0.8, "guitar": 0.6, "indie rock": 0.5})

    return {
        "home": reverse("recommender:home"),
        "browse": reverse("catalog:song_list"),
        "search": reverse("catalog:song_list") + "?q=forest",
        "song": songs[0].get_absolute_url(),
        "upload": reverse("recommender:upload"),
        "upload-result": reverse("recommender:upload_detail", args=[upload.pk]),
        "for-you": reverse("recommender:for_you"),
        "history": reverse("catalog:history"),
        "liked": reverse("catalog:liked"),
        "playlists": reverse("catalog:playlist_list"),
        "playlist": playlist.get_absolute_url(),
        "shared-playlist": playlist.get_share_url(),
        "add-to-playlist": reverse("catalog:playlist_add_song", args=[songs[1].pk]),
        "path": f"{reverse('recommender:path')}?from={songs[1].pk}&to={songs[7].pk}&n=4",
        "your-data": reverse("account_data"),
        "password": reverse("password_change"),
    }


@pytest.fixture
def new_page(page, live_server) -> Iterator:
    """Opens more pages in the browser of ``page``: a phone's (touch, a mobile viewport) or a desktop's."""
    contexts = []

    def open_page(size: tuple[int, int], *, phone: bool, javascript: bool = True):
        width, height = size
        context = page.context.browser.new_context(
            base_url=live_server.url,
            viewport={"width": width, "height": height},
            is_mobile=phone,
            has_touch=phone,
            device_scale_factor=2 if phone else 1,
            java_script_enabled=javascript,
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def visit(page, url: str) -> None:
    response = page.goto(url)
    assert response.ok, f"{url}: HTTP {response.status}"
    page.wait_for_load_state("networkidle")


def sideways_overflow(page) -> str | None:
    """What makes the page wider than the window, or None when nothing does."""
    found = page.evaluate(STICKING_OUT)
    if found["scrollWidth"] <= found["clientWidth"] and not found["out"]:
        return None
    return f"{found['scrollWidth']} px wide in {found['clientWidth']} px; sticking out: {', '.join(found['out'])}"


def sign_in(page) -> None:
    """Log alice in and wait for the page's scripts: htmx and the player are deferred, and a click before they
    run would find no one listening."""
    log_in(page, "alice")
    page.wait_for_load_state()


def play_the_long_song(page) -> None:
    page.get_by_role("button", name=f"Play {LONG_TITLE}").click()
    page.wait_for_function("() => !document.querySelector('#player-bar audio').paused")


def bar_box(page) -> dict[str, float]:
    return page.locator("#player-bar").bounding_box()


@pytest.mark.parametrize("viewport", [*PHONES, "desktop"])
def test_no_main_page_scrolls_sideways(new_page, alice, library, viewport):
    phone = viewport in PHONES
    size = PHONES.get(viewport, DESKTOP)
    page = new_page(size, phone=phone)
    sign_in(page)
    play_the_long_song(page)
    overflowing = {}

    for name, url in library.items():
        visit(page, url)
        screenshot(page, f"{viewport}-{name}")
        if problem := sideways_overflow(page):
            overflowing[name] = problem

    visitor = new_page(size, phone=phone)
    for name, url in {
        "home-visitor": reverse("recommender:home"),
        "login": reverse("login"),
        "signup": reverse("signup"),
        "shared-playlist-visitor": library["shared-playlist"],
    }.items():
        visit(visitor, url)
        screenshot(visitor, f"{viewport}-{name}")
        if problem := sideways_overflow(visitor):
            overflowing[name] = problem

    assert not overflowing, "\n".join(f"{name}: {problem}" for name, problem in overflowing.items())


def scroll_to_the_end(page) -> None:
    """Scroll to the bottom and stay there: covers that load meanwhile make the page longer after a first scroll."""
    page.wait_for_load_state("load")
    page.wait_for_function(
        """() => {
            window.scrollTo(0, document.documentElement.scrollHeight);
            const end = document.documentElement.scrollHeight - window.innerHeight;
            return Math.abs(window.scrollY - end) < 1 && [...document.images].every(image => image.complete);
        }""",
        polling=100,
        timeout=TIMEOUT_MS,
    )


@pytest.mark.parametrize("viewport", ["phone-390", "desktop"])
def test_the_player_bar_stays_in_view_while_a_song_plays(new_page, alice, library, viewport):
    phone = viewport in PHONES
    width, height = PHONES.get(viewport, DESKTOP)
    page = new_page((width, height), phone=phone)
    sign_in(page)
    audio = page.locator("#player-bar audio")
    audio.evaluate("audio => { audio.musrecMarker = 'same player' }")
    play_the_long_song(page)

    if phone:
        page.get_by_text("Menu", exact=True).click()
    page.locator("nav").get_by_role("link", name="Playlists").click()
    page.get_by_role("link", name="A road trip through the long summer evening").click()
    # The list page names the playlist too: wait for the playlist's own page before scrolling it, or the swap
    # that follows scrolls back to the top.
    page.wait_for_url(re.compile(r"/playlists/\d+/$"))
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')")
    expect(page.get_by_role("heading", name=re.compile("A road trip"))).to_be_visible()
    scroll_to_the_end(page)
    screenshot(page, f"{viewport}-playing-at-the-end-of-a-playlist")

    assert audio.evaluate("audio => audio.musrecMarker") == "same player"
    assert not audio.evaluate("audio => audio.paused")
    bar = bar_box(page)
    assert bar["x"] >= 0 and bar["x"] + bar["width"] <= width, bar
    assert bar["y"] >= 0 and bar["y"] + bar["height"] <= height + 0.5, bar
    assert bar["height"] <= (PHONE_BAR_PX if phone else DESKTOP_BAR_PX), bar
    title = page.locator("#player-bar .player-title").bounding_box()
    assert title["x"] >= bar["x"] and title["x"] + title["width"] <= bar["x"] + bar["width"], title
    # Nothing on the page hides under the bar: the page's last line ends above it.
    last = page.locator("#page main > :not(script)").last.bounding_box()
    assert last["y"] + last["height"] <= bar["y"], (last, bar)

    page.locator("#player-bar").get_by_role("button", name="Pause", exact=True).click()
    page.wait_for_function("() => document.querySelector('#player-bar audio').paused")
    page.locator("#player-bar").get_by_role("button", name="Play", exact=True).click()
    page.wait_for_function("() => !document.querySelector('#player-bar audio').paused")
    page.locator("#player-bar .player-queue summary").click()
    queue = page.locator("#player-bar .player-queue-list")
    expect(queue.locator("li[aria-current=true]")).to_contain_text(LONG_TITLE)
    box = queue.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width and box["y"] >= 0, box
    assert box["y"] + box["height"] <= bar["y"], (box, bar)
    screenshot(page, f"{viewport}-queue-open", full_page=False)


def test_the_player_bar_keeps_to_one_row_at_every_window_width(new_page, alice, library):
    page = new_page(DESKTOP, phone=False)
    sign_in(page)
    play_the_long_song(page)
    too_tall = {}

    for width in (1280, 1100, 1000, 900, 800, 700, 641, 640, 560, 480, 390, 360, 320):
        page.set_viewport_size({"width": width, "height": 700})
        height = page.locator("#player-bar").bounding_box()["height"]
        screenshot(page, f"window-{width}-browse", full_page=False)
        if height > (PHONE_BAR_PX if width <= PHONE_MAX_WIDTH else DESKTOP_BAR_PX):
            too_tall[width] = height
        if problem := sideways_overflow(page):
            too_tall[width] = problem

    assert not too_tall


def test_on_a_phone_the_menu_folds_and_opens_from_the_keyboard(new_page, alice, library):
    page = new_page(PHONES["phone-390"], phone=True)
    sign_in(page)
    nav = page.locator("nav")
    expect(nav.get_by_role("link", name="History")).to_be_hidden()
    menu = page.locator("details.site-menu")

    page.locator("details.site-menu > summary").focus()
    page.keyboard.press("Enter")

    expect(menu).to_have_attribute("open", "")
    screenshot(page, "phone-390-menu-open", full_page=False)
    for name in ("Browse", "For you", "Upload a favourite", "Playlists", "History", "Liked", "Your data", "Password"):
        link = nav.get_by_role("link", name=name)
        expect(link).to_be_visible()
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (name, box)
    expect(nav.get_by_role("button", name="Log out")).to_be_visible()
    page.keyboard.press("Escape")
    expect(menu).not_to_have_attribute("open", "")
    expect(page.locator("details.site-menu > summary")).to_be_focused()

    page.locator("details.site-menu > summary").click()
    nav.get_by_role("link", name="History").click()

    expect(page.get_by_role("heading", name=re.compile("History"))).to_be_visible()
    expect(page.locator("details.site-menu")).not_to_have_attribute("open", "")
    expect(nav.get_by_role("link", name="History")).to_be_hidden()


def test_on_a_phone_the_menu_opens_without_javascript(new_page, alice, library):
    page = new_page(PHONES["phone-360"], phone=True, javascript=False)
    sign_in(page)
    expect(page.locator("nav").get_by_role("link", name="Liked")).to_be_hidden()

    page.locator("details.site-menu > summary").click()
    page.locator("nav").get_by_role("link", name="Liked").click()

    expect(page.get_by_role("heading", name=re.compile("Liked songs"))).to_be_visible()


def test_on_a_desktop_every_link_shows_without_a_menu(new_page, alice, library):
    page = new_page(DESKTOP, phone=False)
    sign_in(page)

    expect(page.locator("details.site-menu > summary")).to_be_hidden()
    for name in ("Browse", "For you", "Upload a favourite", "Playlists", "History", "Liked", "Your data", "Password"):
        expect(page.locator("nav").get_by_role("link", name=name)).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_on_a_phone_the_add_to_playlist_menu_opens_on_screen_and_makes_a_playlist(new_page, alice, library):
    page = new_page(PHONES["phone-360"], phone=True)
    sign_in(page)
    page.get_by_label("Add Forest 3 to a playlist").click()
    menu = page.locator("details[open] .add-to-playlist-menu")
    name = menu.get_by_label("New playlist")
    expect(name).to_be_visible()
    screenshot(page, "phone-360-add-to-playlist-menu", full_page=False)

    box = menu.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["y"] >= 0, box
    assert box["y"] + box["height"] <= bar_box(page)["y"], box
    # A field to type a name in, not the browser's default sliver.
    assert name.bounding_box()["width"] >= 150
    name.fill("Songs for the bus")
    menu.get_by_role("button", name="Create and add").click()

    expect(menu.locator(".added")).to_contain_text("Songs for the bus")
    playlist = Playlist.objects.get(owner=alice, name="Songs for the bus")
    assert [item.song.title for item in playlist.items.all()] == ["Forest 3"]
