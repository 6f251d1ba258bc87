from __future__ import annotations

import re
import threading
import uuid
import xml.etree.ElementTree as ET

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import Genre, Playlist, PlaylistChanged, PlaylistItem, Rating, Song
from catalog.playlist_files import XSPF_NAMESPACE, parse_m3u8
from tests.factories import make_song

pytestmark = pytest.mark.django_db


def make_playlist(owner: User, *, name: str = "Sunday", songs: list[Song] | None = None) -> Playlist:
    songs = [make_song(), make_song()] if songs is None else songs
    playlist = Playlist.objects.create(owner=owner, name=name, seed=songs[0] if songs else None)
    for position, song in enumerate(songs, start=1):
        PlaylistItem.objects.create(playlist=playlist, song=song, position=position, similarity=1 - position / 10)
    return playlist


@pytest.fixture
def bobs_playlist(bob) -> Playlist:
    return make_playlist(bob, name="Bob's Secret Mix")


def text(response) -> str:
    return response.content.decode()


def test_the_playlists_page_lists_only_your_own_playlists(alice_client, alice, bobs_playlist):
    make_playlist(alice, name="Morning Run", songs=[make_song(), make_song(), make_song()])

    response = alice_client.get(reverse("catalog:playlist_list"))

    assert [p.name for p in response.context["playlists"]] == ["Morning Run"]
    assert response.context["playlists"][0].song_count == 3
    assert "Morning Run" in text(response)
    assert "Secret Mix" not in text(response)


def test_with_no_playlists_the_page_says_how_to_make_one(alice_client, bobs_playlist):
    response = alice_client.get(reverse("catalog:playlist_list"))

    assert "No playlists yet." in text(response)
    assert reverse("recommender:upload") in text(response)


def test_a_playlist_page_lists_its_songs_in_order_with_play_buttons(alice_client, alice):
    first, second = make_song(title="First Light"), make_song(title="Second Wind")
    playlist = make_playlist(alice, songs=[first, second])

    response = alice_client.get(playlist.get_absolute_url())

    page = text(response)
    assert response.status_code == 200
    assert page.index("First Light") < page.index("Second Wind")
    assert f'data-src="{reverse("catalog:song_audio", args=[first.pk])}"' in page
    assert 'Grown from First Light · <span id="playlist-count">2 songs</span>' in page


@pytest.mark.parametrize(
    ("view", "method", "data"),
    [
        ("catalog:playlist_detail", "get", {}),
        ("catalog:playlist_rename", "post", {"name": "Mine now"}),
        ("catalog:playlist_delete", "post", {}),
    ],
    ids=["detail", "rename", "delete"],
)
def test_someone_elses_playlist_is_a_404_and_stays_as_it_was(alice_client, bobs_playlist, view, method, data):
    response = getattr(alice_client, method)(reverse(view, args=[bobs_playlist.pk]), data)

    assert response.status_code == 404
    bobs_playlist.refresh_from_db()
    assert bobs_playlist.name == "Bob's Secret Mix"
    assert bobs_playlist.owner.username == "bob"
    assert bobs_playlist.items.count() == 2


@pytest.mark.parametrize("view", ["catalog:playlist_detail", "catalog:playlist_rename", "catalog:playlist_delete"])
def test_a_playlist_that_does_not_exist_is_a_404(alice_client, view):
    method = alice_client.get if view == "catalog:playlist_detail" else alice_client.post

    assert method(reverse(view, args=[999_999])).status_code == 404


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("Road trip", "Road trip"),
        ("  Sunday \t  morning \n ", "Sunday morning"),
        ("Ünïcødé 東京 🎵", "Ünïcødé 東京 🎵"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        ("x" * 120, "x" * 120),
    ],
    ids=["plain", "whitespace", "unicode", "html", "120-chars"],
)
def test_renaming_keeps_a_clean_name(alice_client, alice, sent, kept):
    playlist = make_playlist(alice)

    response = alice_client.post(reverse("catalog:playlist_rename", args=[playlist.pk]), {"name": sent}, follow=True)

    playlist.refresh_from_db()
    assert playlist.name == kept
    page = text(response)
    assert "Renamed to" in page
    assert "<script>alert(1)" not in page


@pytest.mark.parametrize("sent", ["", "   ", "\t\n"], ids=["empty", "spaces", "tab"])
def test_renaming_to_an_empty_name_is_refused(alice_client, alice, sent):
    playlist = make_playlist(alice, name="Keep Me")

    response = alice_client.post(reverse("catalog:playlist_rename", args=[playlist.pk]), {"name": sent}, follow=True)

    playlist.refresh_from_db()
    assert playlist.name == "Keep Me"
    assert "A playlist needs a name." in text(response)


def test_renaming_without_a_name_field_is_refused(alice_client, alice):
    playlist = make_playlist(alice, name="Keep Me")

    response = alice_client.post(reverse("catalog:playlist_rename", args=[playlist.pk]), follow=True)

    playlist.refresh_from_db()
    assert playlist.name == "Keep Me"
    assert "A playlist needs a name." in text(response)


def test_deleting_a_playlist_removes_its_items_but_not_its_songs(alice_client, alice, bobs_playlist):
    playlist = make_playlist(alice, name="Gone Soon")
    song_ids = list(playlist.items.values_list("song_id", flat=True))

    response = alice_client.post(reverse("catalog:playlist_delete", args=[playlist.pk]), follow=True)

    assert response.redirect_chain == [(reverse("catalog:playlist_list"), 302)]
    assert "Deleted “Gone Soon”." in text(response)
    assert not Playlist.objects.filter(pk=playlist.pk).exists()
    assert not PlaylistItem.objects.filter(playlist_id=playlist.pk).exists()
    assert Song.objects.filter(pk__in=song_ids).count() == 2
    assert bobs_playlist.items.count() == 2


@pytest.mark.parametrize("view", ["catalog:playlist_rename", "catalog:playlist_delete"])
def test_renaming_and_deleting_refuse_a_get(alice_client, alice, view):
    playlist = make_playlist(alice, name="Keep Me")

    response = alice_client.get(reverse(view, args=[playlist.pk]), {"name": "Changed"})

    assert response.status_code == 405
    playlist.refresh_from_db()
    assert playlist.name == "Keep Me"


@pytest.mark.parametrize(
    ("view", "method"),
    [
        ("catalog:playlist_list", "get"),
        ("catalog:playlist_detail", "get"),
        ("catalog:playlist_rename", "post"),
        ("catalog:playlist_delete", "post"),
    ],
)
def test_a_visitor_is_sent_to_log_in(client, bobs_playlist, view, method):
    url = reverse(view) if view == "catalog:playlist_list" else reverse(view, args=[bobs_playlist.pk])

    response = getattr(client, method)(url, {"name": "Hacked"} if method == "post" else {})

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"
    bobs_playlist.refresh_from_db()
    assert bobs_playlist.name == "Bob's Secret Mix"


# --- Playlists in depth: editing, reordering, adding from anywhere, sharing, export, import ---

HTMX = {"HX-Request": "true"}


def titles(playlist: Playlist) -> list[str]:
    return list(playlist.items.order_by("position").values_list("song__title", flat=True))


def positions(playlist: Playlist) -> list[int]:
    return list(playlist.items.order_by("position").values_list("position", flat=True))


def songs_titled(*names: str) -> list[Song]:
    return [make_song(title=name) for name in names]


def private_upload(owner: User, title: str) -> Song:
    return make_song(title=title, owner=owner, in_catalogue=False)


# Model rules


def test_adding_a_song_puts_it_at_the_end(alice):
    playlist = make_playlist(alice, songs=songs_titled("One", "Two"))

    assert playlist.add_song(make_song(title="Three")) is True

    assert titles(playlist) == ["One", "Two", "Three"]
    assert positions(playlist) == [1, 2, 3]


def test_adding_a_song_already_in_the_playlist_changes_nothing(alice):
    one, two = songs_titled("One", "Two")
    playlist = make_playlist(alice, songs=[one, two])

    assert playlist.add_song(one) is False

    assert titles(playlist) == ["One", "Two"]


@pytest.mark.parametrize(
    ("steps", "position", "order"),
    [
        (-2, 1, ["C", "A", "B", "D"]),
        (-1, 2, ["A", "C", "B", "D"]),
        (1, 4, ["A", "B", "D", "C"]),
        (96, 4, ["A", "B", "D", "C"]),
        (-8, 1, ["C", "A", "B", "D"]),
    ],
    ids=["top", "up-one", "bottom", "past-the-end", "before-the-start"],
)
def test_moving_an_item_closes_up_the_others(alice, steps, position, order):
    playlist = make_playlist(alice, songs=songs_titled("A", "B", "C", "D"))
    item = playlist.items.get(song__title="C")

    assert playlist.move_item_by(item, steps) == position

    assert titles(playlist) == order
    assert positions(playlist) == [1, 2, 3, 4]


def test_moving_by_steps_counts_from_where_the_item_is_now(alice):
    playlist = make_playlist(alice, songs=songs_titled("A", "B", "C"))
    a, _b, stale = playlist.items.order_by("position")
    playlist.move_item_next_to(stale, a.pk, after=False)  # another tab dragged C to the top meanwhile

    assert playlist.move_item_by(stale, 1) == 2

    assert titles(playlist) == ["A", "C", "B"]


@pytest.mark.parametrize(
    ("moved", "neighbour", "after", "position", "order"),
    [
        ("D", "A", False, 1, ["D", "A", "B", "C", "E"]),
        ("D", "A", True, 2, ["A", "D", "B", "C", "E"]),
        ("B", "D", False, 3, ["A", "C", "B", "D", "E"]),
        ("B", "D", True, 4, ["A", "C", "D", "B", "E"]),
        ("B", "E", True, 5, ["A", "C", "D", "E", "B"]),
        ("C", "B", True, 3, ["A", "B", "C", "D", "E"]),
        ("C", "C", True, 3, ["A", "B", "C", "D", "E"]),
    ],
    ids=["up-before", "up-after", "down-before", "down-after", "to-the-end", "where-it-was", "beside-itself"],
)
def test_a_song_moved_next_to_another_lands_right_beside_it(alice, moved, neighbour, after, position, order):
    playlist = make_playlist(alice, songs=songs_titled("A", "B", "C", "D", "E"))
    item, beside = playlist.items.get(song__title=moved), playlist.items.get(song__title=neighbour)

    assert playlist.move_item_next_to(item, beside.pk, after=after) == position

    assert titles(playlist) == order
    assert positions(playlist) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("change", ["song-removed", "neighbour-removed", "neighbour-in-another-playlist"])
def test_a_move_beside_a_song_that_is_no_longer_there_changes_nothing(alice, bob, change):
    playlist = make_playlist(alice, songs=songs_titled("A", "B", "C"))
    a, _b, c = playlist.items.order_by("position")
    item, neighbour = c, a
    if change == "song-removed":
        playlist.remove_item(c)
    elif change == "neighbour-removed":
        playlist.remove_item(a)
    else:
        neighbour = make_playlist(bob).items.first()

    with pytest.raises(PlaylistChanged):
        playlist.move_item_next_to(item, neighbour.pk, after=True)

    assert positions(playlist) == list(range(1, playlist.items.count() + 1))


def test_a_move_updates_only_the_rows_between_in_one_statement(alice):
    playlist = make_playlist(alice, songs=songs_titled("A", "B", "C", "D", "E", "F"))
    e = playlist.items.get(song__title="E")

    with CaptureQueriesContext(connection) as queries:
        playlist.move_item_by(e, -1)

    item_updates = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "catalog_playlistitem"')]
    assert len(item_updates) == 1
    assert titles(playlist) == ["A", "B", "C", "E", "D", "F"]
    changed = PlaylistItem.objects.filter(playlist=playlist, song__title__in=["A", "B", "C", "F"])
    assert list(changed.order_by("position").values_list("position", flat=True)) == [1, 2, 3, 6]


def test_removing_an_item_closes_the_gap(alice):
    playlist = make_playlist(alice, songs=songs_titled("A", "B", "C"))

    assert playlist.remove_item(playlist.items.get(song__title="B")) is True

    assert titles(playlist) == ["A", "C"]
    assert positions(playlist) == [1, 2]


def test_a_duplicate_is_a_private_copy_with_the_same_songs_in_order(alice):
    playlist = make_playlist(alice, name="Sunday", songs=songs_titled("A", "B", "C"))
    playlist.description = "Slow songs"
    playlist.is_public = True
    playlist.save()

    copy = playlist.duplicate(alice)

    assert (copy.name, copy.description, copy.is_public, copy.owner) == ("Copy of Sunday", "Slow songs", False, alice)
    assert copy.share_token != playlist.share_token
    assert titles(copy) == ["A", "B", "C"]
    assert titles(playlist) == ["A", "B", "C"]


def test_a_copy_of_a_long_name_still_fits(alice):
    copy = make_playlist(alice, name="x" * 120).duplicate(alice)

    assert copy.name == ("Copy of " + "x" * 120)[:120]


def test_a_copy_for_someone_else_leaves_out_the_songs_they_cannot_see(alice, bob):
    secret = private_upload(alice, "Alice Demo")
    playlist = make_playlist(alice, songs=[secret, make_song(title="Public Song")])

    copy = playlist.duplicate(bob)

    assert titles(copy) == ["Public Song"]
    assert copy.seed is None  # the seed was Alice's private upload


def test_public_playlists_are_only_the_shared_ones(alice):
    shared = make_playlist(alice, name="Shared")
    Playlist.objects.filter(pk=shared.pk).update(is_public=True)
    make_playlist(alice, name="Mine")

    assert [p.name for p in Playlist.objects.public()] == ["Shared"]


@pytest.mark.django_db(transaction=True)
def test_two_tabs_adding_songs_at_once_never_share_a_position(alice):
    playlist = make_playlist(alice, songs=songs_titled("A"))
    new_songs = [make_song(title=f"New {n}") for n in range(6)]
    barrier = threading.Barrier(len(new_songs))
    errors: list[BaseException] = []

    def add(song: Song) -> None:
        try:
            barrier.wait()
            Playlist.objects.get(pk=playlist.pk).add_song(song)
        except BaseException as error:  # reported below; a thread's exception would otherwise vanish
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(song,)) for song in new_songs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert positions(playlist) == [1, 2, 3, 4, 5, 6, 7]
    assert sorted(titles(playlist)) == sorted(["A", *(s.title for s in new_songs)])


# Making and editing playlists


def test_a_playlist_is_made_from_the_playlists_page(alice_client, alice):
    response = alice_client.post(
        reverse("catalog:playlist_create"), {"name": "  Road   trip ", "description": "For the A7"}, follow=True
    )

    playlist = Playlist.objects.get(owner=alice)
    assert (playlist.name, playlist.description, playlist.is_public) == ("Road trip", "For the A7", False)
    assert response.redirect_chain == [(playlist.get_absolute_url(), 302)]
    assert "Created “Road trip”." in text(response)
    assert "This playlist is empty." in text(response)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "A playlist needs a name."),
        ({"name": "   "}, "A playlist needs a name."),
        ({}, "A playlist needs a name."),
        ({"name": "Road\x00trip"}, "A name cannot contain NUL characters."),
        ({"name": "x" * 121}, "A name can be at most 120 characters."),
        ({"name": "Fine", "description": "d" * 2001}, "A description can be at most 2000 characters."),
        ({"name": "Fine", "description": "bad\x00"}, "A description cannot contain NUL characters."),
        ({"name": ["One", "Two"], "description": "x" * 10_000}, "A description can be at most 2000 characters."),
    ],
    ids=["empty", "spaces", "missing", "nul", "121-chars", "long-description", "nul-description", "mangled"],
)
def test_a_bad_new_playlist_is_refused_and_nothing_is_made(alice_client, alice, data, message):
    response = alice_client.post(reverse("catalog:playlist_create"), data)

    assert response.status_code == 400
    assert message in text(response)
    assert not Playlist.objects.exists()


def test_the_details_form_changes_name_and_description(alice_client, alice):
    playlist = make_playlist(alice, name="Old")

    response = alice_client.post(
        reverse("catalog:playlist_rename", args=[playlist.pk]), {"name": "New", "description": "Line 1\nLine 2"}
    )

    playlist.refresh_from_db()
    assert response.status_code == 302
    assert (playlist.name, playlist.description) == ("New", "Line 1\nLine 2")
    page = text(alice_client.get(playlist.get_absolute_url()))
    assert "Line 1<br>Line 2" in page


def test_renaming_alone_keeps_the_description(alice_client, alice):
    playlist = make_playlist(alice, name="Old")
    Playlist.objects.filter(pk=playlist.pk).update(description="Keep me")

    alice_client.post(reverse("catalog:playlist_rename", args=[playlist.pk]), {"name": "New"})

    playlist.refresh_from_db()
    assert (playlist.name, playlist.description) == ("New", "Keep me")


@pytest.mark.parametrize(
    ("sent", "message"),
    [("Road\x00trip", "A name cannot contain NUL characters."), ("x" * 121, "A name can be at most 120 characters.")],
    ids=["nul", "121-chars"],
)
def test_renaming_to_a_hostile_name_is_refused(alice_client, alice, sent, message):
    playlist = make_playlist(alice, name="Keep Me")

    response = alice_client.post(reverse("catalog:playlist_rename", args=[playlist.pk]), {"name": sent})

    playlist.refresh_from_db()
    assert response.status_code == 400
    assert playlist.name == "Keep Me"
    assert message in text(response)


def test_duplicating_opens_the_private_copy(alice_client, alice):
    playlist = make_playlist(alice, name="Sunday", songs=songs_titled("A", "B"))

    response = alice_client.post(reverse("catalog:playlist_duplicate", args=[playlist.pk]), follow=True)

    copy = Playlist.objects.get(name="Copy of Sunday")
    assert response.redirect_chain == [(copy.get_absolute_url(), 302)]
    assert "Made “Copy of Sunday”, a private copy." in text(response)
    assert titles(copy) == ["A", "B"]


def test_the_delete_button_sits_behind_a_confirmation_that_works_without_javascript(alice_client, alice):
    playlist = make_playlist(alice, name="Sunday")

    page = text(alice_client.get(playlist.get_absolute_url()))

    assert "<summary>Delete this playlist…</summary>" in page
    assert f'action="{reverse("catalog:playlist_delete", args=[playlist.pk])}"' in page
    assert "onsubmit" not in page


# Reordering and removing


def test_moving_a_song_down_without_javascript_returns_to_the_same_button(alice_client, alice):
    playlist = make_playlist(alice, songs=songs_titled("A", "B", "C"))
    a = playlist.items.get(song__title="A")

    response = alice_client.post(reverse("catalog:playlist_move_item", args=[playlist.pk, a.pk]), {"direction": "down"})

    assert titles(playlist) == ["B", "A", "C"]
    assert response.url == f"{playlist.get_absolute_url()}?focus={a.pk}-down#item-{a.pk}"
    page = text(alice_client.get(response.url))
    assert "Moved “A” to position 2 of 3." in page
    assert 'aria-label="Move A down" autofocus' in page


def test_moving_a_song_up_with_htmx_answers_the_list_with_focus_on_the_pressed_button(alice_client, alice):
    playlist = make_playlist(alice, songs=songs_titled("A", "B", "C"))
    c = playlist.items.get(song__title="C")

    response = alice_client.post(
        reverse("catalog:playlist_move_item", args=[playlist.pk, c.pk]), {"direction": "up"}, headers=HTMX
    )

    page = text(response)
    assert response.status_code == 200
    assert titles(playlist) == ["A", "C", "B"]
    assert page.lstrip().startswith('<div id="playlist-items">')
    assert "<html" not in page
    assert page.index(">C</a>") < page.index(">B</a>")
    assert 'aria-label="Move C up" autofocus' in page
    assert page.count("autofocus") == 1
    assert 'hx-swap-oob="innerHTML"><span class="">Moved “C” to position 2 of 3.</span>' in page


@pytest.mark.parametrize("direction", ["", "sideways", "up\x00", "UP"])
def test_a_forged_direction_is_refused(alice_client, alice, direction):
    playlist = make_playlist(alice, songs=songs_titled("A", "B"))
    a = playlist.items.get(song__title="A")

    response = alice_client.post(
        reverse("catalog:playlist_move_item", args=[playlist.pk, a.pk]), {"direction": direction}
    )

    assert response.status_code == 400
    assert "A song moves up or down." in text(response)
    assert titles(playlist) == ["A", "B"]


def test_an_item_of_another_playlist_cannot_be_moved_or_removed_through_this_one(alice_client, alice):
    mine, other = make_playlist(alice, name="Mine"), make_playlist(alice, name="Other")
    stray = other.items.first()

    moved = alice_client.post(reverse("catalog:playlist_move_item", args=[mine.pk, stray.pk]), {"direction": "up"})
    removed = alice_client.post(reverse("catalog:playlist_remove_item", args=[mine.pk, stray.pk]))

    assert (moved.status_code, removed.status_code) == (404, 404)
    assert other.items.count() == 2


def test_a_drop_sends_the_song_and_the_row_it_landed_after(alice_client, alice):
    playlist = make_playlist(alice, songs=songs_titled("A", "B", "C"))
    a, _b, c = playlist.items.order_by("position").values_list("pk", flat=True)

    response = alice_client.post(
        reverse("catalog:playlist_reorder", args=[playlist.pk]), {"moved": a, "after": c, "before": ""}, headers=HTMX
    )

    assert response.status_code == 200
    assert "Moved “A” to position 3 of 3." in text(response)
    assert titles(playlist) == ["B", "C", "A"]


def test_a_drop_first_on_the_page_sends_the_row_it_landed_before(alice_client, alice):
    playlist = make_playlist(alice, songs=songs_titled("A", "B", "C"))
    a, _b, c = playlist.items.order_by("position").values_list("pk", flat=True)

    response = alice_client.post(
        reverse("catalog:playlist_reorder", args=[playlist.pk]), {"moved": c, "after": "", "before": a}
    )

    assert response.status_code == 302
    assert titles(playlist) == ["C", "A", "B"]


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"moved": "1"},
        {"moved": "1", "after": "2", "before": "3"},
        {"moved": "x", "after": "2"},
        {"moved": "1", "after": "-2"},
        {"moved": "1.5", "before": "2"},
        {"moved": "²", "after": "2"},
        {"moved": "1\x00", "after": "2"},
        {"moved": "9" * 40, "after": "2"},
        {"moved": "1", "after": "2, 3"},
        {"order": "2,1"},
    ],
    ids=[
        "empty",
        "no-neighbour",
        "two-neighbours",
        "word",
        "negative",
        "decimal",
        "superscript",
        "nul",
        "huge",
        "list",
        "whole-order",
    ],
)
def test_an_unreadable_drop_is_refused(alice_client, alice, form):
    playlist = make_playlist(alice, songs=songs_titled("A", "B"))

    response = alice_client.post(reverse("catalog:playlist_reorder", args=[playlist.pk]), form)

    assert response.status_code == 400
    assert "The new order could not be read; nothing was moved." in text(response)
    assert titles(playlist) == ["A", "B"]


def test_a_drop_beside_a_song_removed_in_another_tab_is_refused_and_the_list_shown_as_it_is(alice_client, alice):
    playlist = make_playlist(alice, songs=songs_titled("A", "B"))
    a, b = playlist.items.order_by("position")
    playlist.add_song(make_song(title="Added Elsewhere"))
    playlist.remove_item(a)

    url = reverse("catalog:playlist_reorder", args=[playlist.pk])
    plain = alice_client.post(url, {"moved": b.pk, "before": a.pk})
    swapped = alice_client.post(url, {"moved": b.pk, "before": a.pk}, headers=HTMX)

    assert plain.status_code == 409
    assert "The playlist changed meanwhile" in text(plain)
    assert swapped.status_code == 200  # htmx swaps only 2xx answers
    assert 'class="error">The playlist changed meanwhile' in text(swapped)
    assert "Added Elsewhere" in text(swapped)
    assert titles(playlist) == ["B", "Added Elsewhere"]


def test_a_drop_in_a_stale_tab_still_lands_beside_the_row_it_was_dropped_on(alice_client, alice):
    playlist = make_playlist(alice, songs=songs_titled("A", "B", "C"))
    a, b, c = playlist.items.order_by("position")
    playlist.move_item_by(c, -2)  # another tab: C, A, B

    alice_client.post(reverse("catalog:playlist_reorder", args=[playlist.pk]), {"moved": a.pk, "after": b.pk})

    assert titles(playlist) == ["C", "B", "A"]


def test_removing_a_song_keeps_the_focus_on_the_song_that_took_its_place(alice_client, alice):
    playlist = make_playlist(alice, songs=songs_titled("A", "B", "C"))
    b = playlist.items.get(song__title="B")

    response = alice_client.post(reverse("catalog:playlist_remove_item", args=[playlist.pk, b.pk]), headers=HTMX)

    assert titles(playlist) == ["A", "C"]
    assert '<span id="playlist-count" hx-swap-oob="true">2 songs</span>' in text(response)
    assert 'aria-label="Remove C from this playlist" autofocus' in text(response)
    assert "Removed “B”." in text(response)


def test_the_list_is_a_queue_for_the_player(alice_client, alice):
    playlist = make_playlist(alice, songs=songs_titled("A", "B"))

    page = text(alice_client.get(playlist.get_absolute_url()))

    queue = page[page.index("data-queue") :]
    assert queue.index('class="play-all"') < queue.index('class="play"')
    assert page.count('class="play"') == 2
    assert "data-queue-url" not in page  # the page holds the whole playlist: Play all queues its rows
    assert '<input type="hidden" name="moved"><input type="hidden" name="after">' in page
    assert 'draggable="true"' in page


def test_an_item_whose_song_its_owner_can_no_longer_see_is_listed_without_its_title(alice_client, alice, bob):
    bobs = make_song(title="Bob Shared Once", owner=bob, in_catalogue=True)
    playlist = make_playlist(alice, songs=[make_song(title="Fine"), bobs])
    Song.objects.filter(pk=bobs.pk).update(in_catalogue=False)

    page = text(alice_client.get(playlist.get_absolute_url()))

    assert "Bob Shared Once" not in page
    assert "A song you can no longer play" in page
    assert page.count("data-item-id=") == 2  # so that it can still be moved or removed


# Long playlists, a page at a time


@pytest.fixture
def page_size(monkeypatch) -> int:
    """Pages of three songs, so that a playlist of a few songs runs to several pages."""
    from catalog import views_playlists

    monkeypatch.setattr(views_playlists, "PLAYLIST_PAGE_SIZE", 3)
    return 3


def long_playlist(owner: User, count: int) -> Playlist:
    # Titles with a space: a short title alone may turn up in the page's random CSRF token.
    return make_playlist(owner, name="Long", songs=[make_song(title=f"Tune {n}") for n in range(1, count + 1)])


def rows(page: str) -> list[str]:
    """The titles of the rows a page shows, in order."""
    return re.findall(r'<a href="/songs/\d+/">(Tune \d+)</a>', page)


def test_a_playlist_longer_than_a_page_shows_one_page_of_rows_and_the_pager(alice_client, alice, page_size):
    playlist = long_playlist(alice, 7)

    first = text(alice_client.get(playlist.get_absolute_url()))
    second = text(alice_client.get(playlist.get_absolute_url(), {"page": 2}))
    last = text(alice_client.get(playlist.get_absolute_url(), {"page": 99}))

    assert rows(first) == ["Tune 1", "Tune 2", "Tune 3"]
    assert '<span id="playlist-count">7 songs</span>' in first  # the whole playlist's, not the page's
    assert "Songs 1–3 of 7" in first and f'href="{playlist.get_absolute_url()}?page=2">Next ›' in first
    assert "‹ Previous" not in first
    assert "{#" not in first and "{%" not in first  # no template comment or tag shows through
    assert rows(second) == ["Tune 4", "Tune 5", "Tune 6"]
    assert 'start="4"' in second and "Songs 4–6 of 7" in second
    assert f'href="{playlist.get_absolute_url()}">‹ Previous' in second
    assert rows(last) == ["Tune 7"] and "Next ›" not in last


def test_a_playlist_of_one_page_has_no_pager(alice_client, alice, page_size):
    page = text(alice_client.get(long_playlist(alice, 3).get_absolute_url()))

    assert rows(page) == ["Tune 1", "Tune 2", "Tune 3"]
    assert 'class="pager"' not in page


def test_only_the_first_and_last_songs_of_the_whole_playlist_cannot_move_further(alice_client, alice, page_size):
    playlist = long_playlist(alice, 7)

    first = text(alice_client.get(playlist.get_absolute_url()))
    second = text(alice_client.get(playlist.get_absolute_url(), {"page": 2}))
    last = text(alice_client.get(playlist.get_absolute_url(), {"page": 3}))

    assert 'aria-label="Move Tune 1 up" aria-disabled="true"' in first
    assert 'aria-label="Move Tune 3 down">' in first
    assert 'aria-label="Move Tune 4 up">' in second and 'aria-label="Move Tune 6 down">' in second
    assert 'aria-label="Move Tune 7 down" aria-disabled="true"' in last


def test_moving_the_first_song_of_a_page_up_shows_it_last_on_the_page_before(alice_client, alice, page_size):
    playlist = long_playlist(alice, 7)
    tune_4 = playlist.items.get(song__title="Tune 4")
    url = reverse("catalog:playlist_move_item", args=[playlist.pk, tune_4.pk])

    response = alice_client.post(f"{url}?page=2", {"direction": "up"}, headers=HTMX)

    page = text(response)
    assert titles(playlist)[:4] == ["Tune 1", "Tune 2", "Tune 4", "Tune 3"]
    assert rows(page) == ["Tune 1", "Tune 2", "Tune 4"]
    assert 'aria-label="Move Tune 4 up" autofocus' in page
    assert "Moved “Tune 4” to position 3 of 7." in page
    # The address follows the song to its page, for a reload or a bookmark.
    assert response.headers["HX-Replace-Url"] == playlist.get_absolute_url()


def test_moving_the_last_song_of_a_page_down_without_javascript_goes_to_the_next_page(alice_client, alice, page_size):
    playlist = long_playlist(alice, 7)
    tune_3 = playlist.items.get(song__title="Tune 3")

    response = alice_client.post(
        reverse("catalog:playlist_move_item", args=[playlist.pk, tune_3.pk]), {"direction": "down"}
    )

    assert response.url == f"{playlist.get_absolute_url()}?page=2&focus={tune_3.pk}-down#item-{tune_3.pk}"
    page = text(alice_client.get(response.url))
    assert rows(page) == ["Tune 3", "Tune 5", "Tune 6"]
    assert 'aria-label="Move Tune 3 down" autofocus' in page
    assert "Moved “Tune 3” to position 4 of 7." in page


def test_a_drop_on_page_two_moves_the_song_there_and_shows_page_two(alice_client, alice, page_size):
    playlist = long_playlist(alice, 7)
    tune_4, tune_6 = playlist.items.get(song__title="Tune 4"), playlist.items.get(song__title="Tune 6")
    url = reverse("catalog:playlist_reorder", args=[playlist.pk])

    response = alice_client.post(f"{url}?page=2", {"moved": tune_4.pk, "after": tune_6.pk}, headers=HTMX)

    assert rows(text(response)) == ["Tune 5", "Tune 6", "Tune 4"]
    assert response.headers["HX-Replace-Url"] == f"{playlist.get_absolute_url()}?page=2"
    assert titles(playlist) == ["Tune 1", "Tune 2", "Tune 3", "Tune 5", "Tune 6", "Tune 4", "Tune 7"]


def test_removing_a_song_on_page_two_keeps_you_on_page_two(alice_client, alice, page_size):
    playlist = long_playlist(alice, 7)
    tune_5, tune_6 = playlist.items.get(song__title="Tune 5"), playlist.items.get(song__title="Tune 6")
    remove = reverse("catalog:playlist_remove_item", args=[playlist.pk, tune_5.pk])

    swapped = alice_client.post(f"{remove}?page=2", headers=HTMX)

    page = text(swapped)
    assert rows(page) == ["Tune 4", "Tune 6", "Tune 7"]  # the first of page 3 moved up onto page 2
    assert '<span id="playlist-count" hx-swap-oob="true">6 songs</span>' in page
    assert 'aria-label="Remove Tune 6 from this playlist" autofocus' in page
    assert swapped.headers["HX-Replace-Url"] == f"{playlist.get_absolute_url()}?page=2"

    plain = alice_client.post(reverse("catalog:playlist_remove_item", args=[playlist.pk, tune_6.pk]))

    assert plain.url.startswith(f"{playlist.get_absolute_url()}?page=2&focus=")
    assert rows(text(alice_client.get(plain.url))) == ["Tune 4", "Tune 7"]


def test_removing_the_only_song_of_the_last_page_shows_the_page_before(alice_client, alice, page_size):
    playlist = long_playlist(alice, 4)
    tune_4 = playlist.items.get(song__title="Tune 4")

    response = alice_client.post(
        reverse("catalog:playlist_remove_item", args=[playlist.pk, tune_4.pk]) + "?page=2", headers=HTMX
    )

    page = text(response)
    assert rows(page) == ["Tune 1", "Tune 2", "Tune 3"]
    assert 'aria-label="Remove Tune 3 from this playlist" autofocus' in page
    assert 'class="pager"' not in page


def test_a_refused_change_shows_the_page_it_was_sent_from(alice_client, alice, page_size):
    playlist = long_playlist(alice, 7)
    tune_5 = playlist.items.get(song__title="Tune 5")
    url = reverse("catalog:playlist_move_item", args=[playlist.pk, tune_5.pk])

    swapped = alice_client.post(f"{url}?page=2", {"direction": "sideways"}, headers=HTMX)
    plain = alice_client.post(f"{url}?page=2", {"direction": "sideways"})

    assert rows(text(swapped)) == ["Tune 4", "Tune 5", "Tune 6"]
    assert "A song moves up or down." in text(swapped)
    assert plain.status_code == 400 and rows(text(plain)) == ["Tune 4", "Tune 5", "Tune 6"]


@pytest.mark.parametrize("length", [4, 12])
def test_the_change_forms_on_a_page_name_that_page(alice_client, alice, page_size, length):
    playlist = long_playlist(alice, length)

    page = text(alice_client.get(playlist.get_absolute_url(), {"page": 2}))

    tune_4 = playlist.items.get(song__title="Tune 4")
    assert f'hx-post="{reverse("catalog:playlist_move_item", args=[playlist.pk, tune_4.pk])}?page=2"' in page
    assert f'hx-post="{reverse("catalog:playlist_remove_item", args=[playlist.pk, tune_4.pk])}?page=2"' in page
    assert f'hx-post="{reverse("catalog:playlist_reorder", args=[playlist.pk])}?page=2"' in page


def test_a_page_costs_the_same_queries_however_long_the_playlist(alice_client, alice, bob, page_size):
    def queries_for_page_two(length: int) -> list[str]:
        playlist = long_playlist(alice, length)
        # The page draws genres, predicted genres, ratings and a song its owner can no longer play.
        item = playlist.items.get(song__title="Tune 4")
        item.song.genres.add(Genre.objects.named("Jazz"))
        Rating.objects.create(user=alice, song=item.song, value=Rating.LIKE)
        hidden = make_song(title="Gone Tune", owner=bob, in_catalogue=False)
        PlaylistItem.objects.filter(pk=playlist.items.get(song__title="Tune 5").pk).update(song=hidden)
        with CaptureQueriesContext(connection) as queries:
            response = alice_client.get(playlist.get_absolute_url(), {"page": 2})
        assert response.status_code == 200
        assert "A song you can no longer play" in text(response)
        assert rows(text(response)) == ["Tune 4", "Tune 6"]
        return [query["sql"] for query in queries]

    short, long = queries_for_page_two(6), queries_for_page_two(30)

    assert len(short) == len(long)
    # The page's rows are picked by position: OFFSET would read every row before them.
    assert not any("OFFSET" in sql for sql in long)


def test_an_answer_to_a_change_costs_the_same_queries_however_long_the_playlist(alice_client, alice, page_size):
    def queries_for_a_move(length: int) -> int:
        playlist = long_playlist(alice, length)
        tune_4 = playlist.items.get(song__title="Tune 4")
        url = reverse("catalog:playlist_move_item", args=[playlist.pk, tune_4.pk])
        with CaptureQueriesContext(connection) as queries:
            response = alice_client.post(f"{url}?page=2", {"direction": "down"}, headers=HTMX)
        assert rows(text(response)) == ["Tune 5", "Tune 4", "Tune 6"]
        return len(queries)

    assert queries_for_a_move(6) == queries_for_a_move(30)


def test_play_all_on_a_long_playlist_queues_every_song_its_owner_can_play(alice_client, alice, bob, page_size):
    playlist = long_playlist(alice, 5)
    hidden = make_song(title="Gone Tune", owner=bob, in_catalogue=False)
    PlaylistItem.objects.filter(pk=playlist.items.get(song__title="Tune 2").pk).update(song=hidden)
    queue_url = reverse("catalog:playlist_queue", args=[playlist.pk])

    page = text(alice_client.get(playlist.get_absolute_url(), {"page": 2}))
    tracks = alice_client.get(queue_url).json()["tracks"]

    assert f'class="play-all" data-queue-url="{queue_url}"' in page
    assert [track["title"] for track in tracks] == ["Tune 1", "Tune 3", "Tune 4", "Tune 5"]
    tune_1 = playlist.items.get(song__title="Tune 1").song
    # As the play buttons give them to the player.
    assert tracks[0] == {
        "id": str(tune_1.pk),
        "src": tune_1.audio_url,
        "title": "Tune 1",
        "artist": tune_1.artist.name,
        "url": tune_1.get_absolute_url(),
    }


def test_exporting_a_long_playlist_lists_every_song_not_one_page(alice_client, alice, page_size):
    playlist = long_playlist(alice, 7)

    response = alice_client.get(reverse("catalog:playlist_export", args=[playlist.pk, "m3u8"]))

    exported = b"".join(response.streaming_content).decode()
    assert [line.split(" - ")[-1] for line in exported.splitlines() if line.startswith("#EXTINF")] == [
        f"Tune {n}" for n in range(1, 8)
    ]


def test_another_persons_playlist_is_a_404_on_every_page(bob_client, alice, page_size):
    playlist = long_playlist(alice, 7)

    for page in ("1", "2", "99", "x"):
        assert bob_client.get(playlist.get_absolute_url(), {"page": page}).status_code == 404
    assert bob_client.get(reverse("catalog:playlist_queue", args=[playlist.pk])).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_two_tabs_moving_songs_at_once_keep_every_position_once(alice):
    playlist = make_playlist(alice, songs=[make_song(title=f"Tune {n}") for n in range(1, 9)])
    items = list(playlist.items.order_by("position"))
    moves = [(items[0], 3), (items[7], -5), (items[2], 1), (items[5], -2), (items[4], 2), (items[1], -1)]
    barrier = threading.Barrier(len(moves))
    errors: list[BaseException] = []

    def move(item: PlaylistItem, steps: int) -> None:
        try:
            barrier.wait()
            Playlist.objects.get(pk=playlist.pk).move_item_by(item, steps)
        except BaseException as error:  # reported below; a thread's exception would otherwise vanish
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=move, args=move_) for move_ in moves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert positions(playlist) == list(range(1, 9))
    assert sorted(titles(playlist)) == sorted(f"Tune {n}" for n in range(1, 9))


# Adding a song from anywhere


def test_the_add_page_lists_your_playlists_and_marks_those_that_have_the_song(alice_client, alice, bob):
    song = make_song(title="Blue Smoke")
    make_playlist(alice, name="Has It", songs=[song])
    make_playlist(alice, name="Lacks It")
    make_playlist(bob, name="Bob's List")

    response = alice_client.get(reverse("catalog:playlist_add_song", args=[song.pk]))

    page = text(response)
    assert response.status_code == 200
    assert "Add “Blue Smoke” to a playlist" in page
    assert 'Has It</button> <span class="muted" title="Already in this playlist">' in page
    assert "Lacks It</button></li>" in page
    assert "Bob's List" not in page


def test_the_plus_menu_is_fetched_as_a_fragment(alice_client, alice):
    song = make_song(title="Blue Smoke")
    make_playlist(alice, name="Sunday")

    response = alice_client.get(reverse("catalog:playlist_add_song", args=[song.pk]), {"next": "/"}, headers=HTMX)

    page = text(response)
    assert page.lstrip().startswith('<div class="playlist-chooser">')
    assert "Sunday</button>" in page
    assert '<input type="hidden" name="next" value="/">' in page


def test_a_boosted_link_to_the_add_page_gets_the_whole_page(alice_client, alice):
    song = make_song(title="Blue Smoke")

    response = alice_client.get(
        reverse("catalog:playlist_add_song", args=[song.pk]), headers={**HTMX, "HX-Boosted": "true"}
    )

    assert "<html" in text(response)
    assert "Add “Blue Smoke” to a playlist" in text(response)


def test_a_boosted_form_that_is_refused_gets_the_whole_page_with_the_reason(alice_client, alice):
    playlist = make_playlist(alice)

    response = alice_client.post(
        reverse("catalog:playlist_visibility", args=[playlist.pk]),
        {"public": "maybe"},
        headers={**HTMX, "HX-Boosted": "true"},
    )

    assert response.status_code == 400
    assert '<div id="page"' in text(response)
    assert "Choose whether the playlist is public or private." in text(response)


def test_every_song_row_has_a_plus_menu_that_works_without_javascript(alice_client):
    song = make_song(title="Blue Smoke")

    page = text(alice_client.get(reverse("catalog:song_list")))

    url = reverse("catalog:playlist_add_song", args=[song.pk])
    assert f'<a href="{url}?next={reverse("catalog:song_list")}">Choose a playlist…</a>' in page
    assert 'hx-trigger="toggle once from:closest details"' in page


def test_the_plus_menu_in_a_fragment_comes_back_to_the_page_not_the_fragment(alice_client, alice):
    playlist = make_playlist(alice, songs=songs_titled("A", "B"))
    a = playlist.items.get(song__title="A")
    page_path = playlist.get_absolute_url()

    response = alice_client.post(
        reverse("catalog:playlist_move_item", args=[playlist.pk, a.pk]),
        {"direction": "down"},
        headers={**HTMX, "HX-Current-URL": f"http://testserver{page_path}"},
    )

    assert f"?next={page_path}" in text(response)
    assert f"?next=/playlists/{playlist.pk}/items" not in text(response)


def test_adding_goes_back_to_the_page_it_came_from(alice_client, alice):
    song = make_song(title="Blue Smoke")
    playlist = make_playlist(alice, name="Sunday", songs=songs_titled("A"))
    back = reverse("catalog:song_list") + "?q=blue&page=1"

    response = alice_client.post(
        reverse("catalog:playlist_add_song", args=[song.pk]), {"playlist": playlist.pk, "next": back}, follow=True
    )

    assert response.redirect_chain == [(back, 302)]
    assert "Added “Blue Smoke” to “Sunday”." in text(response)
    assert titles(playlist) == ["A", "Blue Smoke"]


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "/\x00/", "http:\\\\evil.example"],
    ids=["other-site", "scheme-relative", "javascript", "nul", "backslashes"],
)
def test_adding_never_sends_you_to_another_site(alice_client, alice, next_url):
    song = make_song()
    playlist = make_playlist(alice, songs=[])

    response = alice_client.post(
        reverse("catalog:playlist_add_song", args=[song.pk]), {"playlist": playlist.pk, "next": next_url}
    )

    assert response.status_code == 302
    assert response.url == playlist.get_absolute_url()
    assert titles(playlist) == [song.title]


def test_adding_with_htmx_says_where_the_song_went(alice_client, alice):
    song = make_song(title="Blue Smoke")
    playlist = make_playlist(alice, name="Sunday", songs=[])

    response = alice_client.post(
        reverse("catalog:playlist_add_song", args=[song.pk]), {"playlist": playlist.pk}, headers=HTMX
    )

    assert response.status_code == 200
    assert "Added “Blue Smoke” to “Sunday”." in text(response)
    assert 'Sunday</button> <span class="muted"' in text(response)  # now marked as having it


def test_adding_a_song_twice_says_it_is_already_there_and_adds_nothing(alice_client, alice):
    song = make_song(title="Blue Smoke")
    playlist = make_playlist(alice, name="Sunday", songs=[song])

    response = alice_client.post(
        reverse("catalog:playlist_add_song", args=[song.pk]), {"playlist": playlist.pk}, headers=HTMX
    )

    assert "“Blue Smoke” is already in “Sunday”." in text(response)
    assert titles(playlist) == ["Blue Smoke"]


def test_adding_to_a_new_playlist_makes_it(alice_client, alice):
    song = make_song(title="Blue Smoke")

    response = alice_client.post(reverse("catalog:playlist_add_song", args=[song.pk]), {"name": " Fresh "})

    playlist = Playlist.objects.get(owner=alice)
    assert playlist.name == "Fresh"
    assert titles(playlist) == ["Blue Smoke"]
    assert response.url == playlist.get_absolute_url()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"playlist": "abc"}, "Choose one of your playlists."),
        ({"playlist": ""}, "Choose one of your playlists."),
        ({"name": ""}, "A playlist needs a name."),
        ({"name": "x\x00"}, "A name cannot contain NUL characters."),
        ({"name": "x" * 500}, "A name can be at most 120 characters."),
    ],
    ids=["word-id", "empty-id", "empty-name", "nul-name", "long-name"],
)
def test_a_forged_add_form_is_refused_and_changes_nothing(alice_client, alice, data, message):
    song = make_song()
    existing = make_playlist(alice, songs=[])

    plain = alice_client.post(reverse("catalog:playlist_add_song", args=[song.pk]), data)
    swapped = alice_client.post(reverse("catalog:playlist_add_song", args=[song.pk]), data, headers=HTMX)

    assert plain.status_code == 400
    assert message in text(plain)
    assert message in text(swapped)
    assert list(Playlist.objects.all()) == [existing]
    assert existing.items.count() == 0


def test_a_song_cannot_be_added_to_someone_elses_playlist(alice_client, bobs_playlist):
    response = alice_client.post(
        reverse("catalog:playlist_add_song", args=[make_song().pk]), {"playlist": bobs_playlist.pk}
    )

    assert response.status_code == 404
    assert bobs_playlist.items.count() == 2


def test_a_song_you_cannot_see_cannot_be_added_or_even_offered(alice_client, alice, bob):
    secret = private_upload(bob, "Bob Demo")
    playlist = make_playlist(alice, songs=[])

    offered = alice_client.get(reverse("catalog:playlist_add_song", args=[secret.pk]))
    added = alice_client.post(reverse("catalog:playlist_add_song", args=[secret.pk]), {"playlist": playlist.pk})

    assert (offered.status_code, added.status_code) == (404, 404)
    assert playlist.items.count() == 0


def test_your_own_private_upload_can_be_added(alice_client, alice):
    mine = private_upload(alice, "My Demo")
    playlist = make_playlist(alice, songs=[])

    alice_client.post(reverse("catalog:playlist_add_song", args=[mine.pk]), {"playlist": playlist.pk})

    assert titles(playlist) == ["My Demo"]


# Sharing


def make_public(playlist: Playlist) -> Playlist:
    Playlist.objects.filter(pk=playlist.pk).update(is_public=True)
    playlist.refresh_from_db()
    return playlist


def test_making_a_playlist_public_shows_its_share_link(alice_client, alice):
    playlist = make_playlist(alice, name="Sunday")

    response = alice_client.post(
        reverse("catalog:playlist_visibility", args=[playlist.pk]), {"public": "1"}, follow=True
    )

    playlist.refresh_from_db()
    assert playlist.is_public
    page = text(response)
    assert "“Sunday” is public: anyone with its link can see it." in page
    assert f'value="http://testserver/shared/{playlist.share_token}/"' in page
    assert 'data-copy="#share-url"' in page


def test_making_it_private_again_closes_the_link(alice_client, alice, client):
    playlist = make_public(make_playlist(alice, name="Sunday"))

    alice_client.post(reverse("catalog:playlist_visibility", args=[playlist.pk]), {"public": "0"})

    playlist.refresh_from_db()
    assert not playlist.is_public
    assert client.get(playlist.get_share_url()).status_code == 404


def test_a_revoked_link_stays_dead_when_the_playlist_is_shared_again(alice_client, alice, client):
    playlist = make_public(make_playlist(alice, name="Sunday"))
    old_link = playlist.get_share_url()
    url = reverse("catalog:playlist_visibility", args=[playlist.pk])

    alice_client.post(url, {"public": "0"})
    alice_client.post(url, {"public": "1"})

    playlist.refresh_from_db()
    assert playlist.is_public
    assert client.get(old_link).status_code == 404
    assert client.get(playlist.get_share_url()).status_code == 200


def test_new_link_replaces_the_share_link(alice_client, alice, client):
    playlist = make_public(make_playlist(alice, name="Sunday"))
    old_link = playlist.get_share_url()

    response = alice_client.post(
        reverse("catalog:playlist_visibility", args=[playlist.pk]), {"public": "new"}, follow=True
    )

    playlist.refresh_from_db()
    assert "“Sunday” has a new link; the old one shows nothing any more." in text(response)
    assert playlist.is_public and playlist.get_share_url() != old_link
    assert client.get(old_link).status_code == 404
    assert client.get(playlist.get_share_url()).status_code == 200


def test_a_private_playlist_has_no_link_to_renew(alice_client, alice):
    playlist = make_playlist(alice)
    token = playlist.share_token

    response = alice_client.post(reverse("catalog:playlist_visibility", args=[playlist.pk]), {"public": "new"})

    playlist.refresh_from_db()
    assert response.status_code == 400
    assert playlist.share_token == token and not playlist.is_public


def test_the_share_section_says_the_username_shows(alice_client, alice):
    private = make_playlist(alice, name="Mine")
    public = make_public(make_playlist(alice, name="Ours"))

    for playlist in (private, public):
        assert "your username (“alice”)" in text(alice_client.get(playlist.get_absolute_url()))


@pytest.mark.parametrize("value", ["", "yes", "true", "1\x00", "2"])
def test_a_forged_visibility_is_refused(alice_client, alice, value):
    playlist = make_playlist(alice)

    response = alice_client.post(reverse("catalog:playlist_visibility", args=[playlist.pk]), {"public": value})

    playlist.refresh_from_db()
    assert response.status_code == 400
    assert "Choose whether the playlist is public or private." in text(response)
    assert not playlist.is_public


def test_a_long_shared_playlist_is_shown_in_pages(client, alice, monkeypatch):
    from catalog import views_playlists

    monkeypatch.setattr(views_playlists, "PLAYLIST_PAGE_SIZE", 2)
    # Titles with a space: two letters alone turn up in the page's random CSRF token now and then.
    titles = ("First tune", "Second tune", "Third tune")
    playlist = make_public(make_playlist(alice, songs=[make_song(title=t) for t in titles], name="Long"))

    first = text(client.get(playlist.get_share_url()))
    second = text(client.get(playlist.get_share_url(), {"page": 2}))

    assert "3 songs" in first and "Songs 1–2 of 3" in first and "Next ›" in first
    assert "First tune" in first and "Second tune" in first and "Third tune" not in first
    assert 'start="3"' in second and "Songs 3–3 of 3" in second and "Third tune" in second


def test_a_visitor_reads_a_shared_playlist_with_the_shares_own_links_and_no_player_or_edit_controls(client, alice):
    songs = songs_titled("First Light", "Second Wind")
    playlist = make_public(make_playlist(alice, name="Sunday", songs=songs))

    response = client.get(playlist.get_share_url())

    page = text(response)
    assert response.status_code == 200
    assert page.index("First Light") < page.index("Second Wind")
    assert "A playlist shared by alice · 2 songs" in page
    assert f'href="/accounts/login/?next=/shared/{playlist.share_token}/"' in page
    assert "to play them all in Musrec's player" in page
    # Each song by the share's own link (it plays without an account while the playlist is shared), never the
    # song's own address, which needs a session.
    for song in songs:
        assert f'href="/shared/{playlist.share_token}/songs/{song.pk}/audio"' in page
    assert f"/songs/{songs[0].pk}/audio" not in page.replace(f"/shared/{playlist.share_token}/songs/", "")
    for absent in ("data-src", "Move ", "Remove", "rename", "/delete", 'name="order"'):
        assert absent not in page


def test_another_listener_reads_a_shared_playlist_and_can_play_and_copy_it(bob_client, alice, bob):
    playlist = make_public(make_playlist(alice, name="Sunday", songs=songs_titled("First Light", "Second Wind")))

    page = text(bob_client.get(playlist.get_share_url()))

    assert page.count('class="play"') == 2
    assert "data-queue" in page
    assert "Save a copy to your playlists" in page
    for absent in ("Move ", "Remove", "rename", "/delete", "/visibility", 'name="order"'):
        assert absent not in page
    response = bob_client.post(reverse("catalog:playlist_shared_copy", args=[playlist.share_token]))
    copy = Playlist.objects.get(owner=bob)
    assert response.url == copy.get_absolute_url()
    assert titles(copy) == ["First Light", "Second Wind"]


def test_a_shared_playlist_hides_songs_the_reader_cannot_see(client, bob_client, alice, bob):
    bobs_own = private_upload(bob, "Bob Demo")
    songs = [make_song(title="Catalogue Song"), private_upload(alice, "Alice Demo"), bobs_own]
    playlist = make_public(make_playlist(alice, songs=songs))

    visitor = text(client.get(playlist.get_share_url()))
    reader = text(bob_client.get(playlist.get_share_url()))

    assert "Catalogue Song" in visitor
    assert "Alice Demo" not in visitor
    assert "Bob Demo" not in visitor
    assert "Alice Demo" not in reader
    assert "Bob Demo" in reader  # his own upload, which he may see anyway
    # Not even a count of what is hidden: that would tell how many private uploads the owner keeps there.
    for page in (visitor, reader):
        assert "private and not shown" not in page
        assert "3 songs" not in page


def test_the_link_of_a_private_playlist_answers_404_to_everyone(client, alice_client, bob_client, alice):
    playlist = make_playlist(alice)

    for who in (client, bob_client, alice_client):
        assert who.get(playlist.get_share_url()).status_code == 404
        assert (
            who.get(reverse("catalog:playlist_shared_export", args=[playlist.share_token, "m3u8"])).status_code == 404
        )
    assert bob_client.post(reverse("catalog:playlist_shared_copy", args=[playlist.share_token])).status_code == 404
    assert not Playlist.objects.filter(owner__username="bob").exists()


def test_an_unknown_share_token_answers_404(client):
    assert client.get(reverse("catalog:playlist_shared", args=[uuid.uuid4()])).status_code == 404
    assert client.get("/shared/not-a-uuid/").status_code == 404


# Every owner-only view, seen by bob


OWNER_ONLY = [
    ("catalog:playlist_detail", "get", {}),
    ("catalog:playlist_rename", "post", {"name": "Mine now", "description": "bob was here"}),
    ("catalog:playlist_delete", "post", {}),
    ("catalog:playlist_duplicate", "post", {}),
    ("catalog:playlist_visibility", "post", {"public": "1"}),
    ("catalog:playlist_reorder", "post", {}),
    ("catalog:playlist_export", "get", {}),
    ("catalog:playlist_queue", "get", {}),
    ("catalog:playlist_move_item", "post", {"direction": "down"}),
    ("catalog:playlist_remove_item", "post", {}),
]


@pytest.mark.parametrize(("view", "method", "data"), OWNER_ONLY, ids=[v.split(":")[1] for v, _, _ in OWNER_ONLY])
def test_every_owner_only_view_answers_404_to_bob_and_changes_nothing(bob_client, alice, view, method, data):
    playlist = make_playlist(alice, name="Alice's Mix", songs=songs_titled("A", "B"))
    first, second = playlist.items.order_by("position")
    args = {
        "catalog:playlist_export": [playlist.pk, "m3u8"],
        "catalog:playlist_move_item": [playlist.pk, first.pk],
        "catalog:playlist_remove_item": [playlist.pk, first.pk],
    }.get(view, [playlist.pk])
    if view == "catalog:playlist_reorder":
        data = {"moved": second.pk, "before": first.pk}

    response = getattr(bob_client, method)(reverse(view, args=args), data)

    assert response.status_code == 404
    assert "Alice's Mix" not in text(response)
    playlist.refresh_from_db()
    assert (playlist.name, playlist.description, playlist.is_public) == ("Alice's Mix", "", False)
    assert titles(playlist) == ["A", "B"]
    assert Playlist.objects.count() == 1


def test_bob_cannot_add_to_alices_playlist_or_see_it_offered(bob_client, alice):
    playlist = make_playlist(alice, name="Alice's Mix", songs=[])
    song = make_song()

    offered = text(bob_client.get(reverse("catalog:playlist_add_song", args=[song.pk])))
    added = bob_client.post(reverse("catalog:playlist_add_song", args=[song.pk]), {"playlist": playlist.pk})

    assert "Alice's Mix" not in offered
    assert added.status_code == 404
    assert playlist.items.count() == 0


@pytest.mark.parametrize(
    ("view", "method"),
    [
        ("catalog:playlist_create", "post"),
        ("catalog:playlist_import", "post"),
        ("catalog:playlist_add_song", "get"),
        ("catalog:playlist_add_song", "post"),
    ],
)
def test_a_visitor_cannot_make_or_fill_playlists(client, alice, view, method):
    args = [make_song().pk] if view == "catalog:playlist_add_song" else []
    url = reverse(view, args=args)

    response = getattr(client, method)(url, {"name": "Visitor's"} if method == "post" else {})

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"
    assert not Playlist.objects.exists()


# Export


def test_exporting_m3u8_downloads_each_song_with_its_absolute_audio_url(alice_client, alice):
    first = make_song(title="Heroes", artist="Frogatto", duration=215.4)
    second = make_song(title="Blue Smoke", artist="Ada Trio", duration=61)
    playlist = make_playlist(alice, name="Sunday: Best/Worst?", songs=[first, second])

    response = alice_client.get(reverse("catalog:playlist_export", args=[playlist.pk, "m3u8"]))

    assert response.status_code == 200
    assert response["Content-Type"] == "audio/x-mpegurl; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="Sunday_ Best_Worst.m3u8"'
    body = b"".join(response.streaming_content).decode()
    # Each link signed for the exporter, so that a player without a session plays it (test_stream_links.py).
    assert re.sub(r"\?key=[\w%.:-]+", "?key=…", body) == (
        "#EXTM3U\n"
        "#PLAYLIST:Sunday: Best/Worst?\n"
        "#EXTINF:215,Frogatto - Heroes\n"
        f"http://testserver/songs/{first.pk}/audio?key=…\n"
        "#EXTINF:61,Ada Trio - Blue Smoke\n"
        f"http://testserver/songs/{second.pk}/audio?key=…\n"
    )


def test_a_non_ascii_name_gives_a_utf8_file_name(alice_client, alice):
    playlist = make_playlist(alice, name="Été 東京")

    response = alice_client.get(reverse("catalog:playlist_export", args=[playlist.pk, "xspf"]))

    assert response["Content-Disposition"] == "attachment; filename*=utf-8''%C3%89t%C3%A9%20%E6%9D%B1%E4%BA%AC.xspf"


def test_exporting_xspf_gives_valid_xml(alice_client, alice):
    song = make_song(title="Rock & <Roll>", artist="Ada Trio", duration=2.5)
    playlist = make_playlist(alice, name="Sunday", songs=[song])

    response = alice_client.get(reverse("catalog:playlist_export", args=[playlist.pk, "xspf"]))

    assert response["Content-Type"] == "application/xspf+xml; charset=utf-8"
    root = ET.fromstring(b"".join(response.streaming_content))
    ns = {"x": XSPF_NAMESPACE}
    track = root.find("x:trackList/x:track", ns)
    assert track.findtext("x:title", namespaces=ns) == "Rock & <Roll>"
    assert track.findtext("x:location", namespaces=ns).startswith(f"http://testserver/songs/{song.pk}/audio?key=")
    assert track.findtext("x:duration", namespaces=ns) == "2500"


def test_an_unknown_export_format_is_a_404(alice_client, alice):
    playlist = make_playlist(alice)

    assert alice_client.get(reverse("catalog:playlist_export", args=[playlist.pk, "pls"])).status_code == 404


def test_a_shared_export_lists_only_the_songs_the_downloader_may_see(client, alice):
    playlist = make_public(make_playlist(alice, songs=[make_song(title="Catalogue"), private_upload(alice, "Demo")]))

    visitor = client.get(reverse("catalog:playlist_shared_export", args=[playlist.share_token, "m3u8"]))
    owner = Client()
    owner.force_login(alice)
    own = owner.get(reverse("catalog:playlist_export", args=[playlist.pk, "m3u8"]))

    visitor_body = b"".join(visitor.streaming_content).decode()
    assert "Catalogue" in visitor_body
    assert "Demo" not in visitor_body
    assert "Demo" in b"".join(own.streaming_content).decode()


# Import


def import_file(client: Client, content: str | bytes, filename: str = "Road Trip.m3u8", **data: object):
    data_bytes = content.encode() if isinstance(content, str) else content
    upload = SimpleUploadedFile(filename, data_bytes, content_type="audio/x-mpegurl")
    return client.post(reverse("catalog:playlist_import"), {"file": upload, **data})


def test_adding_to_a_full_playlist_is_refused_with_the_reason(alice_client, alice, monkeypatch):
    from catalog.models import playlists as playlist_models

    monkeypatch.setattr(playlist_models, "MAX_PLAYLIST_SONGS", 2)
    playlist = Playlist.objects.create_with_songs(owner=alice, name="Full", songs=[make_song(), make_song()])
    third = make_song(title="Third")

    response = alice_client.post(reverse("catalog:playlist_add_song", args=[third.pk]), {"playlist": playlist.pk})

    assert response.status_code == 400
    assert "this one is full" in text(response)
    assert playlist.items.count() == 2


def test_importing_matches_titles_and_artists_and_reports_what_did_not_match(alice_client, alice):
    make_song(title="Heroes of Wesnoth", artist="Frogatto")
    make_song(title="Ace of Spades", artist="Motörhead")
    make_song(title="Blue Smoke", artist="Ada Trio")
    make_song(title="Blue Smoke", artist="Someone Else")

    response = import_file(
        alice_client,
        "#EXTM3U\n"
        "#EXTINF:215,FROGATTO - heroes of wesnoth\n"  # case differs
        "/music/a.ogg\n"
        "#EXTINF:10,Motorhead - Ace of Spades\n"  # accent differs
        "/music/b.mp3\n"
        "#EXTINF:10,Nobody - Missing Song\n"
        "/music/c.mp3\n"
        "#EXTINF:oops\n"
        "/music/03 - Ada Trio - Blue Smoke.flac\n"  # no #EXTINF name: the file name, without track number
        "#EXTINF:10,Frogatto - Heroes of Wesnoth\n"  # the same song again
        "/music/a-again.ogg\n",
    )

    page = text(response)
    playlist = Playlist.objects.get(owner=alice)
    assert response.status_code == 200
    assert playlist.name == "Road Trip"
    assert not playlist.is_public
    assert titles(playlist) == ["Heroes of Wesnoth", "Ace of Spades", "Blue Smoke"]
    assert list(playlist.items.values_list("song__artist__name", flat=True)) == ["Frogatto", "Motörhead", "Ada Trio"]
    assert "Made" in page and "with 3 songs; 2 entries did not match." in page
    assert "Nobody - Missing Song" in page
    assert "no song you can play has this title and artist" in page
    assert "the same song as line 3" in page
    assert "#EXTINF:oops" in page
    assert "an #EXTINF line reads #EXTINF:&lt;seconds&gt;,&lt;Artist&gt; - &lt;Title&gt;" in page


def test_a_name_of_many_dashes_gives_a_few_readings_and_the_import_stays_small(alice_client, alice):
    """A 164 KB file of "#EXTINF:1,a - b - c - ..." once expanded to 40,789 titles and 79 MB of text."""
    make_song(title="b - c", artist="a")
    many_dashes = " - ".join(f"w{n}" for n in range(400))
    lines = [f"#EXTINF:1,{many_dashes}\n/x/{n}.mp3" for n in range(60)]
    content = "#EXTINF:1,a - b - c\n/x/real.mp3\n" + "\n".join(lines) + "\n"
    assert len(content.encode()) > 150_000
    sent: list[str] = []

    def record(execute, sql, params, many, context):
        sent.append(sql + repr(params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        response = import_file(alice_client, content)

    assert response.status_code == 200
    assert titles(Playlist.objects.get(owner=alice)) == ["b - c"]
    assert "60 entries did not match" in text(response)
    # Each entry offers at most 3 splits and its whole name (no title over 255 characters), so what is
    # asked of the database stays near the size of the file, not its square.
    assert sum(len(query) for query in sent) < 2_000_000


def test_an_entry_offers_at_most_a_few_readings():
    entry = parse_m3u8("#EXTINF:1," + " - ".join("abcdefgh") + "\nx.mp3\n").entries[0]

    assert entry.readings() == [
        ("a", "b - c - d - e - f - g - h"),
        ("a - b", "c - d - e - f - g - h"),
        ("a - b - c", "d - e - f - g - h"),
        ("", "a - b - c - d - e - f - g - h"),
    ]


def test_an_import_takes_the_name_given(alice_client, alice):
    make_song(title="Blue Smoke", artist="Ada Trio")

    import_file(alice_client, "Ada Trio - Blue Smoke.mp3\n", filename="x.m3u", name="  My  Mix ")

    assert Playlist.objects.get(owner=alice).name == "My Mix"


def test_an_import_matches_only_songs_the_importer_can_see(alice_client, alice, bob):
    private_upload(bob, "Bob Demo")
    private_upload(alice, "Alice Demo")

    response = import_file(alice_client, "#EXTINF:1,Bob Demo\nx.mp3\n#EXTINF:1,Alice Demo\ny.mp3\n")

    assert titles(Playlist.objects.get(owner=alice)) == ["Alice Demo"]
    assert "Bob Demo" in text(response)  # reported as not matched, by the name in the file


def test_what_is_exported_imports_back_as_the_same_playlist(alice_client, alice):
    playlist = make_playlist(alice, name="Sunday", songs=[make_song(title="A - B", artist="X - Y"), make_song()])
    exported = b"".join(
        alice_client.get(reverse("catalog:playlist_export", args=[playlist.pk, "m3u8"])).streaming_content
    )

    import_file(alice_client, exported, filename="Sunday.m3u8")

    copy = Playlist.objects.exclude(pk=playlist.pk).get()
    assert titles(copy) == titles(playlist)


def test_when_nothing_matches_no_playlist_is_made(alice_client, alice):
    make_song(title="Blue Smoke", artist="Ada Trio")

    response = import_file(alice_client, "#EXTINF:1,Nobody - Nothing\nx.mp3\n")

    assert response.status_code == 200
    assert "No entry matched a song you can play, so no playlist was made." in text(response)
    assert not Playlist.objects.exists()


def test_a_file_of_garbage_lines_is_reported_not_crashed_on(alice_client, alice):
    response = import_file(alice_client, "#EXTINF:x\n\x01\x02\x03\n#EXTINF:1,Dangling\n" + "y" * 5000 + "\n")

    page = text(response)
    assert response.status_code == 200
    assert "No songs could be read from this file, so no playlist was made." in page
    assert "the line holds control characters, not text" in page
    assert "no file follows this #EXTINF line" in page
    assert "the line is longer than 4096 characters" in page
    assert not Playlist.objects.exists()


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "cover.m3u8", "This is a binary file, not a playlist."),
        ("Motörhead - Ace.mp3\n".encode("latin-1"), "old.m3u", "The file is not UTF-8 text"),
        ("Blue Smoke.mp3\n".encode("utf-16"), "win.m3u8", "The file is UTF-16 text"),
        (b"Blue Smoke.mp3\n" + b"x" * (1024 * 1024), "huge.m3u8", "The file is larger than 1 MB."),
        (b"", "empty.m3u8", "The file is empty."),
        (b"Blue Smoke.mp3\n", "list.txt", "Import an .m3u8 or .m3u playlist file."),
    ],
    ids=["binary", "latin-1", "utf-16", "oversized", "empty", "wrong-extension"],
)
def test_a_file_that_is_not_a_playlist_is_refused_and_nothing_is_made(alice_client, alice, content, name, message):
    make_song(title="Blue Smoke")

    response = import_file(alice_client, content, filename=name)

    assert response.status_code == 400
    assert message in text(response)
    assert not Playlist.objects.exists()


def test_a_huge_file_sent_to_the_import_is_not_read_past_a_few_megabytes(alice_client, alice, tmp_path):
    """The song upload's 50 MB limit is for songs: any other form taking a file stops reading far sooner."""
    response = import_file(alice_client, b"Blue Smoke.mp3\n" * (6 * 1024 * 1024 // 15), filename="huge.m3u8")

    assert response.status_code == 413
    assert "The file is larger than 1 MB." in text(response)
    assert not Playlist.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "x\x00"}, "A name cannot contain NUL characters."),
        ({"name": "x" * 121}, "A name can be at most 120 characters."),
    ],
    ids=["nul", "long"],
)
def test_an_import_with_a_hostile_name_is_refused(alice_client, alice, data, message):
    make_song(title="Blue Smoke")

    response = import_file(alice_client, "Blue Smoke.mp3\n", **data)

    assert response.status_code == 400
    assert message in text(response)
    assert not Playlist.objects.exists()


def test_an_import_without_a_file_says_so(alice_client, alice):
    response = alice_client.post(reverse("catalog:playlist_import"), {"name": "x"})

    assert response.status_code == 400
    assert "Choose an .m3u8 file to import." in text(response)
    assert not Playlist.objects.exists()


def test_a_utf8_file_with_a_bom_is_imported(alice_client, alice):
    make_song(title="Ace of Spades", artist="Motörhead")

    import_file(alice_client, "\ufeff#EXTM3U\n#EXTINF:1,Motörhead - Ace of Spades\na.mp3\n".encode())

    assert titles(Playlist.objects.get(owner=alice)) == ["Ace of Spades"]


# The playlists page


def test_the_playlists_page_offers_a_new_playlist_and_an_import(alice_client):
    page = text(alice_client.get(reverse("catalog:playlist_list")))

    assert f'action="{reverse("catalog:playlist_create")}"' in page
    assert f'action="{reverse("catalog:playlist_import")}" enctype="multipart/form-data"' in page


def test_the_playlists_page_marks_public_playlists(alice_client, alice):
    make_public(make_playlist(alice, name="Shared One"))

    assert '<span class="tag">public</span>' in text(alice_client.get(reverse("catalog:playlist_list")))
