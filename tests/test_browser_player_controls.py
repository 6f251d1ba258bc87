"""In a real browser: the player's keyboard shortcuts, volume, shuffle and repeat, an editable queue, Media Session.

Issue 11 §2. Screenshots of the bar and the help overlay go to var/screenshots/issue11-player/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from catalog.models import Play, Song
from tests.browser import CHROMIUM, CHROMIUM_MISSING, browser_page, log_in  # noqa: F401
from tests.test_browser_player import TIMEOUT_S, import_song, wait_until

playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING)]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PHONE_BAR_PX = 72
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots" / "issue11-player"

# Every action handler the page registers with the Media Session, recorded before player.js runs.
RECORD_MEDIA_ACTIONS = """
window.musrecMediaActions = [];
if (navigator.mediaSession) {
  const register = navigator.mediaSession.setActionHandler.bind(navigator.mediaSession);
  navigator.mediaSession.setActionHandler = (action, handler) => {
    window.musrecMediaActions.push(action);
    register(action, handler);
  };
}
"""


@pytest.fixture
def songs(tmp_path) -> dict[str, Song]:
    """Listed in this order by title: a 2-second song, a 2-minute one (long enough to seek in), another short one."""
    return {
        "aurora": import_song(tmp_path, "aurora.wav", seconds=2, seed=1, title="Aurora", artist="North"),
        "borealis": import_song(
            tmp_path, "borealis.wav", seconds=120, sample_rate=8000, seed=2, title="Borealis", artist="North"
        ),
        "cascade": import_song(tmp_path, "cascade.wav", seconds=2, seed=3, title="Cascade", artist="South"),
    }


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def current_time(page) -> float:
    return page.evaluate("() => document.querySelector('#player-bar audio').currentTime")


def is_paused(page) -> bool:
    return page.evaluate("() => document.querySelector('#player-bar audio').paused")


def queue_titles(page) -> list[str]:
    return page.locator("#player-bar .player-queue-list li .queue-play").all_text_contents()


def play_and_wait(page, title: str) -> None:
    page.get_by_role("button", name=f"Play {title}", exact=True).click()
    page.wait_for_function("() => document.querySelector('#player-bar audio').currentTime > 0.2")
    # Focus leaves the play button, where Space would press the button rather than be a shortcut.
    page.evaluate("() => document.activeElement.blur()")


def test_keyboard_shortcuts_pause_seek_and_skip_but_not_while_typing(page, alice, songs):
    page.set_viewport_size(DESKTOP)
    log_in(page, "alice")
    title = page.locator("#player-bar .player-title")
    play_and_wait(page, "Borealis")

    page.keyboard.press("Space")
    page.wait_for_function("() => document.querySelector('#player-bar audio').paused")
    page.keyboard.press("Space")
    page.wait_for_function("() => !document.querySelector('#player-bar audio').paused")

    page.evaluate("() => { document.querySelector('#player-bar audio').currentTime = 30 }")
    page.keyboard.press("ArrowRight")
    assert 34.5 <= current_time(page) < 37
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert 24.5 <= current_time(page) < 27
    page.keyboard.press("Shift+ArrowLeft")
    assert 14.5 <= current_time(page) < 17

    page.keyboard.press("n")
    expect(title).to_have_text("Cascade")
    page.keyboard.press("P")
    expect(title).to_have_text("Borealis")

    search = page.locator("#search")
    search.focus()
    page.keyboard.type("n p")
    expect(search).to_have_value("n p")
    expect(title).to_have_text("Borealis")
    assert not is_paused(page)


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_question_mark_opens_the_shortcuts_and_escape_closes_them(page, alice, songs, viewport):
    page.set_viewport_size(DESKTOP if viewport == "desktop" else PHONE)
    log_in(page, "alice")
    play_and_wait(page, "Borealis")
    screenshot(page, f"{viewport}-bar")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")

    page.keyboard.press("?")

    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Play or pause")
    box = help_dialog.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]
    screenshot(page, f"{viewport}-help")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    # The overlay is open to the mouse too, from the queue panel.
    page.locator("#player-bar .player-queue summary").click()
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(help_dialog).to_be_visible()
    help_dialog.get_by_role("button", name="Close").click()
    expect(help_dialog).to_be_hidden()


def test_volume_shuffle_and_repeat_are_remembered_after_a_reload(page, alice, songs):
    page.set_viewport_size(DESKTOP)
    log_in(page, "alice")
    page.wait_for_load_state("load")  # the player's script listens to the slider only once it has run
    bar = page.locator("#player-bar")

    bar.get_by_role("slider", name="Volume").fill("0.4")
    bar.get_by_role("button", name="Shuffle").click()
    bar.get_by_role("button", name="Repeat: off").click()
    expect(bar.get_by_role("button", name="Repeat: all")).to_be_visible()
    bar.get_by_role("button", name="Repeat: all").click()
    screenshot(page, "desktop-bar-options-set")
    page.reload()

    expect(bar.get_by_role("slider", name="Volume")).to_have_value("0.4")
    assert page.evaluate("() => document.querySelector('#player-bar audio').volume") == pytest.approx(0.4)
    expect(bar.get_by_role("button", name="Shuffle")).to_have_attribute("aria-pressed", "true")
    expect(bar.get_by_role("button", name="Repeat: this song")).to_be_visible()

    # Repeating one song, the 2-second Aurora plays to its end twice, and the queue stays on it.
    page.get_by_role("button", name="Play Aurora", exact=True).click()
    wait_until(lambda: Play.objects.filter(user=alice, song=songs["aurora"], completed=True).count() >= 2, "2 plays")
    expect(bar.locator(".player-title")).to_have_text("Aurora")
    # Shuffled, the chosen song comes first and all three are queued.
    assert sorted(queue_titles(page)) == ["Aurora · North", "Borealis · North", "Cascade · South"]
    assert queue_titles(page)[0] == "Aurora · North"
    # Shuffle off: the queue goes back to the list's order, the playing song still playing.
    bar.locator(".player-options").get_by_role("button", name="Shuffle").click()
    assert queue_titles(page) == ["Aurora · North", "Borealis · North", "Cascade · South"]
    expect(bar.locator(".player-queue-list li.current")).to_contain_text("Aurora")

    # A song's "+" menu closes when one clicks elsewhere.
    menu = page.locator("details.add-to-playlist").first
    menu.locator("summary").click()
    expect(menu).to_have_attribute("open", "")
    page.locator("h1").first.click()
    expect(menu).not_to_have_attribute("open", "")


def test_on_a_phone_shuffle_and_repeat_live_in_the_queue_panel_and_the_bar_stays_compact(page, alice, songs):
    page.set_viewport_size(PHONE)
    log_in(page, "alice")
    bar = page.locator("#player-bar")
    play_and_wait(page, "Borealis")

    expect(bar.locator(".player-options")).to_be_hidden()
    box = bar.bounding_box()
    assert box["height"] <= PHONE_BAR_PX
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]

    bar.locator(".player-queue summary").click()
    bar.get_by_role("button", name="Shuffle").click()
    bar.get_by_role("button", name="Repeat: off").click()

    expect(bar.get_by_role("button", name="Shuffle")).to_have_attribute("aria-pressed", "true")
    expect(bar.get_by_role("button", name="Repeat: all")).to_be_visible()
    panel = bar.locator(".player-queue-panel").bounding_box()
    assert panel["x"] >= 0 and panel["x"] + panel["width"] <= PHONE["width"]
    screenshot(page, "phone-queue-panel")


def test_a_listener_queues_songs_from_the_list_then_reorders_and_removes_them(page, alice, songs):
    page.set_viewport_size(DESKTOP)
    log_in(page, "alice")
    bar = page.locator("#player-bar")

    def queue_from_menu(title: str, action: str) -> None:
        page.get_by_label(f"Add {title} to a playlist").click()
        name = f"Play {title} next" if action == "next" else f"Add {title} to the queue"
        page.get_by_role("button", name=name).click()

    queue_from_menu("Borealis", "add")
    # The first song queued waits, ready, rather than starting by itself.
    expect(bar.locator(".player-title")).to_have_text("Borealis")
    assert is_paused(page)
    queue_from_menu("Aurora", "add")
    page.get_by_label("Add Cascade to a playlist").click()
    screenshot(page, "desktop-song-menu")
    page.get_by_label("Add Cascade to a playlist").click()
    queue_from_menu("Cascade", "next")
    expect(bar.locator(".player-queue-count")).to_have_text("3")
    assert queue_titles(page) == ["Borealis · North", "Cascade · South", "Aurora · North"]

    bar.locator(".player-queue summary").click()
    screenshot(page, "desktop-queue-panel")
    bar.get_by_role("button", name="Move Aurora by North up").focus()
    page.keyboard.press("Enter")

    assert queue_titles(page) == ["Borealis · North", "Aurora · North", "Cascade · South"]
    # The keyboard stays on the song it moved.
    expect(bar.get_by_role("button", name="Move Aurora by North up")).to_be_focused()
    page.keyboard.press("Enter")
    assert queue_titles(page) == ["Aurora · North", "Borealis · North", "Cascade · South"]
    expect(bar.locator(".player-queue-list li[aria-current=true] .queue-play")).to_have_text("Borealis · North")

    bar.get_by_role("button", name="Move Aurora by North down").click()
    assert queue_titles(page) == ["Borealis · North", "Aurora · North", "Cascade · South"]
    bar.get_by_role("button", name="Remove Borealis by North from the queue").click()

    assert queue_titles(page) == ["Aurora · North", "Cascade · South"]
    expect(bar.locator(".player-title")).to_have_text("Aurora")
    expect(bar.locator(".player-queue-count")).to_have_text("2")


def test_media_session_has_the_title_artwork_and_every_action(page, alice, songs):
    page.add_init_script(RECORD_MEDIA_ACTIONS)
    page.set_viewport_size(DESKTOP)
    log_in(page, "alice")

    play_and_wait(page, "Borealis")

    metadata = page.evaluate(
        "() => { const m = navigator.mediaSession.metadata;"
        " return {title: m.title, artist: m.artist, artwork: m.artwork.map(a => a.sizes)} }"
    )
    assert metadata == {"title": "Borealis", "artist": "North", "artwork": ["128x128", "512x512"]}
    actions = set(page.evaluate("window.musrecMediaActions"))
    expected = {"play", "pause", "nexttrack", "previoustrack", "seekbackward", "seekforward", "seekto"}
    assert expected <= actions


def test_the_song_page_plays_through_the_bar_alone(page, alice, songs):
    page.set_viewport_size(DESKTOP)
    log_in(page, "alice")
    page.get_by_role("link", name="Borealis").first.click()
    expect(page.get_by_role("heading", name="Borealis")).to_be_visible()

    assert page.locator("audio").count() == 1, "only the bar's player"
    page.locator("#page").get_by_role("button", name="Play Borealis", exact=True).click()

    page.wait_for_function(
        "() => document.querySelector('#player-bar audio').currentTime > 0.2", timeout=TIMEOUT_S * 1000
    )
    expect(page.locator("#player-bar .player-title")).to_have_text("Borealis")
    screenshot(page, "desktop-song-page")
