"""Their data is theirs: every view of a person's history, likes, private playlists or uploads answers 404 to others.

Two nets, so that a new view cannot slip through:

- ``PRIVATE_VIEWS`` lists each URL that shows or changes one of Alice's objects. Bob gets 404 for it
  (with the method the view serves; the other method may answer 405, exactly as for a missing object),
  nothing of Alice's changes, and Alice herself does reach it (so the 404 is not an accident).
  A new per-user view adds one line here, and, if it works on a new kind of object, one entry in
  ``alices_things``.
- ``test_every_page_that_is_not_explicitly_public_sends_visitors_to_log_in`` walks every URL pattern
  of the site: a view that forgets ``@login_required`` fails it unless it is named in ``PUBLIC``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import IntConverter, PathConverter, SlugConverter, StringConverter, UUIDConverter

from catalog.models import Genre, Play, Playlist, PlaylistItem, Rating, Song
from tests.factories import make_song

MISSING_PK = 987_654_321


def _pk(thing: Any) -> list[object]:
    return [thing.pk]


def _no_form(thing: Any) -> dict[str, object]:
    return {}


@dataclass(frozen=True)
class PrivateView:
    """One URL that shows or changes one of Alice's things."""

    url_name: str
    thing: str  # a key of alices_things
    methods: tuple[str, ...]  # what the view serves to the owner (the other method should answer 405)
    args: Callable[[Any], list[object]] = _pk  # the URL's arguments, from the thing
    data: Callable[[Any], dict[str, object]] = _no_form  # the form a POST sends, from the thing

    def __str__(self) -> str:
        return f"{self.url_name}[{self.thing}]"


class Missing:
    """Stands for a thing that does not exist: every id it is asked for names nothing."""

    def __getattr__(self, name: str) -> object:
        if name == "share_token":
            return uuid.UUID("00000000-0000-4000-8000-000000000000")
        if name == "pk" or name.endswith("_id"):
            return MISSING_PK
        raise AttributeError(name)


GET, POST, GET_POST = ("GET",), ("POST",), ("GET", "POST")

PRIVATE_VIEWS = [
    # A private upload: its owner's page and actions, and its song pages.
    PrivateView("recommender:upload_detail", "private_upload", GET),
    PrivateView("recommender:upload_delete", "private_upload", POST),
    PrivateView("recommender:upload_share", "private_upload", POST),
    PrivateView("recommender:upload_tags", "private_upload", POST, data=lambda _: {"title": "Bob's now"}),
    PrivateView("recommender:spectrogram", "private_upload", GET),
    PrivateView("recommender:more_like_this", "private_upload", GET),
    PrivateView("recommender:listeners_also_played", "private_upload", GET),
    PrivateView("recommender:save_playlist", "private_upload", POST, data=lambda _: {"name": "Bob's now", "n": 10}),
    PrivateView("catalog:song_detail", "private_upload", GET),
    PrivateView("catalog:song_audio", "private_upload", GET),
    PrivateView("catalog:song_licence", "private_upload", GET),
    PrivateView("catalog:song_rate", "private_upload", POST, data=lambda _: {"value": "like"}),
    PrivateView("catalog:song_rating_buttons", "private_upload", GET),
    PrivateView("catalog:playlist_add_song", "private_upload", GET_POST, data=lambda _: {"name": "Bob's list"}),
    # The player reports plays by song id in the form, not in the URL.
    PrivateView(
        "catalog:play_record",
        "private_upload",
        POST,
        args=lambda _: [],
        data=lambda song: {"song": song.pk, "seconds": 1},
    ),
    # A shared upload is in the catalogue for everyone, but managing it stays its owner's.
    PrivateView("recommender:upload_detail", "shared_upload", GET),
    PrivateView("recommender:upload_delete", "shared_upload", POST),
    PrivateView("recommender:upload_share", "shared_upload", POST),
    # Listening history.
    PrivateView("catalog:history_remove", "play", POST),
]
# Playlists by primary key are their owner's pages, public or not: others see a public one through its share link.
for _playlist in ("private_playlist", "public_playlist"):
    PRIVATE_VIEWS += [
        PrivateView("catalog:playlist_detail", _playlist, GET),
        PrivateView("catalog:playlist_rename", _playlist, POST, data=lambda _: {"name": "Renamed by Bob"}),
        PrivateView("catalog:playlist_delete", _playlist, POST),
        PrivateView("catalog:playlist_duplicate", _playlist, POST),
        PrivateView(
            "catalog:playlist_visibility", _playlist, POST, data=lambda p: {"public": "0" if p.is_public else "1"}
        ),
        PrivateView(
            "catalog:playlist_reorder",
            _playlist,
            POST,
            # A drop: the last song dropped before the first.
            data=lambda p: {"moved": p.items.order_by("position").last().pk, "before": p.items.first().pk},
        ),
        PrivateView("catalog:playlist_queue", _playlist, GET),
        PrivateView("catalog:playlist_export", _playlist, GET, args=lambda p: [p.pk, "m3u8"]),
        PrivateView("catalog:playlist_export", _playlist, GET, args=lambda p: [p.pk, "xspf"]),
        PrivateView("recommender:extend_playlist", _playlist, POST, data=lambda _: {"n": 5}),
    ]
PRIVATE_VIEWS += [
    PrivateView(
        "catalog:playlist_move_item",
        "playlist_item",
        POST,
        args=lambda item: [item.playlist_id, item.pk],
        data=lambda _: {"direction": "down"},
    ),
    PrivateView("catalog:playlist_remove_item", "playlist_item", POST, args=lambda item: [item.playlist_id, item.pk]),
]

# Covers and artist pages (issue 11 §4): a private upload's artist, who has no other songs, is hers alone.
PRIVATE_VIEWS += [
    PrivateView("recommender:song_cover", "private_upload", GET, args=lambda song: [song.pk, 64, "0123456789ab"]),
    PrivateView("recommender:song_cover_now", "private_upload", GET, args=lambda song: [song.pk, 64]),
    PrivateView("recommender:artist", "private_upload", GET, args=lambda song: [song.artist_id]),
    PrivateView("recommender:artist_queue", "private_upload", GET, args=lambda song: [song.artist_id]),
    PrivateView("recommender:artist_songs_like", "private_upload", GET, args=lambda song: [song.artist_id]),
]


@pytest.fixture
def catalogue(db) -> list[Song]:
    return [make_song(title=f"Catalogue {i}") for i in range(3)]


@pytest.fixture
def alices_things(alice, catalogue) -> dict[str, Any]:
    """One of each kind of thing Alice owns, each complete enough that her own views of it work."""
    private_upload = make_song(
        title="Alice private", owner=alice, in_catalogue=False, original_filename="private.wav", licence="CC-BY-4.0"
    )
    private_upload.spectrogram.save("private.png", ContentFile(b"\x89PNG\r\n\x1a\n"), save=False)
    private_upload.licence_file.save("private.txt", ContentFile(b"Alice's own licence"), save=True)
    shared_upload = make_song(title="Alice shared", owner=alice, in_catalogue=True)
    private_playlist = Playlist.objects.create(owner=alice, name="Alice private list")
    public_playlist = Playlist.objects.create(owner=alice, name="Alice public list", is_public=True)
    for playlist in (private_playlist, public_playlist):
        PlaylistItem.objects.bulk_create(
            PlaylistItem(playlist=playlist, song=song, position=i)
            for i, song in enumerate([*catalogue, private_upload], start=1)
        )
    play = Play.objects.create(user=alice, song=catalogue[0], seconds_listened=30, completed=True)
    # Her own upload in her history and likes: pages that list them show "Alice private" to her, never to Bob.
    Play.objects.create(user=alice, song=private_upload, seconds_listened=10)
    like = Rating.objects.create(user=alice, song=private_upload, value=Rating.LIKE)
    dislike = Rating.objects.create(user=alice, song=catalogue[2], value=Rating.DISLIKE)
    Genre.objects.named("Jazz").fans.add(alice)
    return {
        "private_upload": private_upload,
        "shared_upload": shared_upload,
        "private_playlist": private_playlist,
        "public_playlist": public_playlist,
        "playlist_item": private_playlist.items.first(),
        "play": play,
        "like": like,
        "dislike": dislike,
    }


def everything() -> dict[str, list[tuple]]:
    """All per-user rows of the site, to see that a refused request changed nothing for anyone."""
    return {
        "songs": list(Song.objects.order_by("pk").values_list("pk", "title", "owner_id", "in_catalogue")),
        "playlists": list(
            Playlist.objects.order_by("pk").values_list("pk", "owner_id", "name", "description", "is_public")
        ),
        "items": list(PlaylistItem.objects.order_by("pk").values_list("pk", "playlist_id", "song_id", "position")),
        "plays": list(Play.objects.order_by("pk").values_list("pk", "user_id", "song_id", "seconds_listened")),
        "ratings": list(Rating.objects.order_by("pk").values_list("pk", "user_id", "song_id", "value")),
        "fans": list(Genre.fans.through.objects.order_by("pk").values_list("genre_id", "user_id")),
    }


def call(client: Client, method: str, url: str, data: dict[str, object]):
    return client.post(url, data) if method == "POST" else client.get(url)


@pytest.mark.django_db
@pytest.mark.parametrize("view", PRIVATE_VIEWS, ids=str)
def test_bob_gets_404_for_alices_objects_and_changes_nothing(bob_client, alices_things, view):
    thing = alices_things[view.thing]
    url, data = reverse(view.url_name, args=view.args(thing)), view.data(thing)
    missing_url = reverse(view.url_name, args=view.args(Missing()))
    missing_data = view.data(Missing()) if view.args(Missing()) == view.args(thing) else data
    before = everything()

    for method in ("GET", "POST"):
        response = call(bob_client, method, url, data)
        as_if_missing = call(bob_client, method, missing_url, missing_data)

        if method in view.methods:
            assert response.status_code == 404, f"{method} {url}"
        else:
            assert response.status_code in (404, 405), f"{method} {url}"
        # Nothing in the answer tells Alice's object from one that does not exist.
        assert response.status_code == as_if_missing.status_code, f"{method} {url}"
        assert "Alice" not in response.content.decode(errors="replace")

    assert everything() == before


@pytest.mark.django_db
@pytest.mark.parametrize("view", PRIVATE_VIEWS, ids=str)
def test_alice_herself_reaches_each_view_of_her_objects(alice_client, alices_things, view):
    thing = alices_things[view.thing]

    response = call(alice_client, view.methods[0], reverse(view.url_name, args=view.args(thing)), view.data(thing))

    assert response.status_code in (200, 204, 206, 302), response.status_code


@pytest.mark.django_db
@pytest.mark.parametrize("view", PRIVATE_VIEWS, ids=str)
def test_visitors_are_sent_to_log_in_for_each_view_of_alices_objects(alices_things, view):
    thing = alices_things[view.thing]
    url = reverse(view.url_name, args=view.args(thing))
    before = everything()

    for method in view.methods:
        response = call(Client(), method, url, view.data(thing))

        if view.url_name in PUBLIC:
            # Covers answer visitors (the home page shows a few), but an upload's is not found, as if missing.
            assert response.status_code == 404, f"{method} {url}"
            continue
        assert response.status_code == 302, f"{method} {url}"
        assert response.url == f"{reverse('login')}?next={url}"
    assert everything() == before


# Lists and actions without an object in the URL act on the request user's own data only

# Each page lists the request user's own things; the text shows on Alice's page, so it would show on Bob's if leaked.
OWN_PAGES = {
    "catalog:history": "Alice private",
    "catalog:liked": "Alice private",
    "catalog:playlist_list": "Alice private list",
    "recommender:upload": "Alice private",
    "recommender:for_you": None,
    "recommender:path": None,
    "account_data": None,
}


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "hers"), OWN_PAGES.items())
def test_bobs_own_pages_show_nothing_of_alices(bob_client, alice_client, alices_things, name, hers):
    theirs = bob_client.get(reverse(name))

    assert theirs.status_code == 200
    assert "Alice" not in theirs.content.decode()
    if hers:
        assert hers in alice_client.get(reverse(name)).content.decode()


@pytest.mark.django_db
def test_the_browse_genre_menu_neither_shows_nor_counts_alices_private_upload(bob_client, alice_client, alices_things):
    private = alices_things["private_upload"]
    private.genres.add(Genre.objects.named("Alice secret genre"), Genre.objects.named("Jazz"))
    make_song(title="Public jazz", genres=["Jazz"])

    for client in (bob_client, alice_client):
        page = client.get(reverse("catalog:song_list")).content.decode()
        assert "Alice secret genre" not in page
        assert "Jazz (1)" in page  # the public song only, not Alice's upload as well


# Forms that name songs by id: a foreign private upload is an invalid choice, the same answer as a missing song.
FORMS_NAMING_SONGS = [
    ("GET", "recommender:path", lambda song, other: {"from": song, "to": other}),
    ("GET", "recommender:path", lambda song, other: {"from": other, "to": song}),
    ("POST", "recommender:save_path", lambda song, other: {"from": song, "to": other, "name": "Bob's path"}),
    ("POST", "recommender:for_you_start", lambda song, other: {"songs": [song]}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "name", "form"), FORMS_NAMING_SONGS, ids=lambda v: v if isinstance(v, str) else "")
def test_a_form_naming_alices_private_upload_answers_as_for_a_missing_song(
    bob_client, alices_things, catalogue, method, name, form
):
    private = alices_things["private_upload"]
    before = everything()

    response = call(bob_client, method, reverse(name), form(private.pk, catalogue[0].pk))
    # A redirect carries its message to the next page: read that page too.
    shown = bob_client.get(response.url) if response.status_code == 302 else response
    as_if_missing = call(bob_client, method, reverse(name), form(MISSING_PK, catalogue[0].pk))

    assert response.status_code == as_if_missing.status_code
    assert shown.status_code in (200, 400)
    assert "Alice" not in shown.content.decode()
    assert everything() == before


@pytest.mark.django_db
def test_bob_clearing_his_history_leaves_alices(bob_client, bob, alice, alices_things, catalogue):
    Play.objects.create(user=bob, song=catalogue[0])

    response = bob_client.post(reverse("catalog:history_clear"))

    assert response.status_code == 302
    assert not Play.objects.filter(user=bob).exists()
    assert Play.objects.filter(user=alice).count() == 2


@pytest.mark.django_db
def test_bob_cannot_reach_alices_items_through_his_own_playlist(bob_client, bob, alices_things, catalogue):
    bobs = Playlist.objects.create(owner=bob, name="Bob's")
    bobs.add_song(catalogue[0])
    item = alices_things["playlist_item"]
    before = everything()

    moved = bob_client.post(reverse("catalog:playlist_move_item", args=[bobs.pk, item.pk]), {"direction": "down"})
    removed = bob_client.post(reverse("catalog:playlist_remove_item", args=[bobs.pk, item.pk]))
    url = reverse("catalog:playlist_reorder", args=[bobs.pk])
    dropped_hers = bob_client.post(url, {"moved": item.pk, "before": bobs.items.get().pk})
    dropped_beside_hers = bob_client.post(url, {"moved": bobs.items.get().pk, "after": item.pk})

    assert moved.status_code == removed.status_code == 404
    # As for an item removed meanwhile in another tab: nothing of hers is named, nothing moves.
    assert dropped_hers.status_code == dropped_beside_hers.status_code == 409
    assert everything() == before


@pytest.mark.django_db
def test_bob_cannot_add_songs_to_alices_playlist(bob_client, alices_things, catalogue):
    playlist = alices_things["private_playlist"]
    before = everything()

    response = bob_client.post(reverse("catalog:playlist_add_song", args=[catalogue[0].pk]), {"playlist": playlist.pk})

    assert response.status_code == 404
    assert everything() == before


# Share links: a public playlist for anyone holding the link, without its owner's private songs


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["alice", "bob", "visitor"])
def test_the_link_of_a_private_playlist_shows_nothing_to_anyone(alice_client, bob_client, alices_things, who):
    client = {"alice": alice_client, "bob": bob_client, "visitor": Client()}[who]
    token = alices_things["private_playlist"].share_token

    for url in [
        reverse("catalog:playlist_shared", args=[token]),
        reverse("catalog:playlist_shared_export", args=[token, "m3u8"]),
        reverse("catalog:playlist_shared_export", args=[token, "xspf"]),
    ]:
        assert client.get(url).status_code == 404, url
    copy = client.post(reverse("catalog:playlist_shared_copy", args=[token]))
    assert copy.status_code == (302 if who == "visitor" else 404)


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["bob", "visitor"])
def test_a_shared_playlist_never_shows_alices_private_upload(bob_client, alices_things, who):
    client = bob_client if who == "bob" else Client()
    playlist, private = alices_things["public_playlist"], alices_things["private_upload"]
    audio_url = reverse("catalog:song_audio", args=[private.pk])

    page = client.get(reverse("catalog:playlist_shared", args=[playlist.share_token]))
    exports = [reverse("catalog:playlist_shared_export", args=[playlist.share_token, fmt]) for fmt in ("m3u8", "xspf")]
    files = [client.get(url) for url in exports]

    assert page.status_code == 200
    assert "Catalogue 0" in page.content.decode()
    assert "Alice private" not in page.content.decode()
    for response in files:
        text = b"".join(response.streaming_content).decode()
        assert response.status_code == 200
        assert "Catalogue 0" in text
        assert "Alice private" not in text and audio_url not in text


# Every URL of the site


# Pages a visitor without an account must reach. Anything else needs a login.
PUBLIC = {
    # A public playlist's share link and its export (a private playlist's answers 404: tested above).
    "catalog:playlist_shared",
    "catalog:playlist_shared_export",
    # A shared playlist's song links play for anyone holding the share, while it is shared (test_stream_links.py).
    "catalog:shared_song_audio",
    "login",
    "logout",
    "signup",
    # The home page: what Musrec is, to a visitor, with a few covers of imported catalogue songs (test_home.py).
    "recommender:home",
    "catalog:cover",
    "recommender:song_cover",
    "recommender:song_cover_now",
    # Browsers fetch the web app manifest without cookies, and the favicon for every page, the login page's too.
    "web_app_manifest",
    "favicon",
    # The Subsonic API signs each call in with the person's API secret, not a session: without one it answers ping,
    # getLicense and getOpenSubsonicExtensions only, anything else error 10 (test_subsonic.py).
    "subsonic:rest",
}
# The admin and django-rq's dashboard check is_staff themselves (tested in test_worker_and_deploy.py).
STAFF_PREFIXES = ("admin/",)

SAMPLE_VALUES = {
    IntConverter: MISSING_PK,
    UUIDConverter: uuid.UUID("6f1c0f3e-7a51-4d38-9d4e-1a2b3c4d5e6f"),
    SlugConverter: "sample-slug",
    StringConverter: "sample",
    PathConverter: "sample/path",
}


@dataclass(frozen=True)
class Route:
    name: str | None
    route: str
    kwargs: dict[str, object]


def site_routes(patterns=None, prefix: str = "", namespace: str = "", converters=None) -> Iterator[Route]:
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        found = {**(converters or {}), **getattr(pattern.pattern, "converters", {})}
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}:{pattern.namespace}" if namespace and pattern.namespace else pattern.namespace
            yield from site_routes(pattern.url_patterns, prefix + str(pattern.pattern), inner or namespace, found)
        elif isinstance(pattern, URLPattern):
            groups = pattern.pattern.regex.groupindex
            kwargs = {name: SAMPLE_VALUES.get(type(found.get(name)), "1") for name in groups}
            name = pattern.name and (f"{namespace}:{pattern.name}" if namespace else pattern.name)
            yield Route(name, prefix + str(pattern.pattern), kwargs)


def routes_needing_login() -> list[Route]:
    return [r for r in site_routes() if r.name not in PUBLIC and not r.route.startswith(STAFF_PREFIXES)]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/password_reset/", "/accounts/reset/done/"])
def test_there_is_no_password_reset_page_that_cannot_send_mail(client, path):
    assert client.get(path).status_code == 404


def test_the_walk_finds_the_sites_pages():
    names = {route.name for route in routes_needing_login()}

    # A walk that found nothing would pass the test below without checking anything.
    assert {"catalog:song_list", "recommender:upload_detail", "account_delete", "password_change"} <= names
    assert not names & PUBLIC


@pytest.mark.django_db
@pytest.mark.parametrize("route", routes_needing_login(), ids=lambda r: r.name or r.route)
def test_every_page_that_is_not_explicitly_public_sends_visitors_to_log_in(route):
    assert route.name, f"Give the URL pattern {route.route!r} a name"
    url = reverse(route.name, kwargs=route.kwargs)
    login = f"{reverse('login')}?next="

    answers = {method: call(Client(), method, url, {}) for method in ("GET", "POST")}

    for method, response in answers.items():
        # 405 before the login check is fine: it says nothing about anyone's data.
        assert response.status_code in (302, 405), f"{method} {url}: {response.status_code}"
        if response.status_code == 302:
            assert response.url.startswith(login), f"{method} {url} went to {response.url}"
    assert any(r.status_code == 302 for r in answers.values()), f"{url} answers neither GET nor POST"


@pytest.mark.django_db
def test_a_deleted_user_has_no_data_left_for_anyone_to_reach(alice, alices_things, bob_client):
    """After Alice leaves, her old URLs answer 404 to Bob just like before."""
    urls = [reverse(v.url_name, args=v.args(alices_things[v.thing])) for v in PRIVATE_VIEWS if v.methods == GET]
    User.objects.filter(pk=alice.pk).delete()

    assert {url: bob_client.get(url).status_code for url in urls} == dict.fromkeys(urls, 404)
