"""Song links that play without a session (issue 11, §6.6: VLC and mpv were sent to the log-in page): an exported
playlist's signed, expiring links, and a shared playlist's own links, asked for by a client that has no session."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from django.core import signing
from django.test import Client, RequestFactory
from django.urls import reverse

from catalog.models import Playlist, PlaylistItem, Song
from catalog.stream_links import signed_stream_url
from catalog.streaming import claim_stream_slot
from tests.factories import make_song

pytestmark = pytest.mark.django_db


def make_playlist(owner: User, songs: list[Song], *, public: bool = False) -> Playlist:
    playlist = Playlist.objects.create(owner=owner, name="Road trip", is_public=public)
    for position, song in enumerate(songs, start=1):
        PlaylistItem.objects.create(playlist=playlist, song=song, position=position)
    return playlist


def m3u8_links(response) -> list[str]:
    return [line for line in b"".join(response.streaming_content).decode().splitlines() if line.startswith("http")]


def xspf_links(response) -> list[str]:
    root = ET.fromstring(b"".join(response.streaming_content))
    return [element.text for element in root.iter("{http://xspf.org/ns/0/}location") if "/audio" in element.text]


def path_of(url: str) -> str:
    """What a player asks the server for: the link's path and query, without the scheme and host."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def play(url: str, **headers: str):
    """A player with no session (VLC, mpv): a plain client that never logged in."""
    return Client().get(path_of(url), headers=headers)


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def file_of(song: Song, media_root) -> bytes:
    return (media_root / song.audio.name).read_bytes()


@pytest.fixture
def songs() -> list[Song]:
    return [make_song(title="Alpha"), make_song(title="Bravo")]


def test_an_exported_m3u8_plays_without_a_session(alice_client, alice, songs, media_root):
    playlist = make_playlist(alice, songs)

    links = m3u8_links(alice_client.get(reverse("catalog:playlist_export", args=[playlist.pk, "m3u8"])))

    assert len(links) == 2
    for link, song in zip(links, songs, strict=True):
        assert urlsplit(link).path == reverse("catalog:song_audio", args=[song.pk])
        response = play(link)
        assert response.status_code == 200
        assert body(response) == file_of(song, media_root)


def test_an_exported_xspf_plays_without_a_session_and_seeks_with_ranges(alice_client, alice, songs, media_root):
    playlist = make_playlist(alice, songs)

    links = xspf_links(alice_client.get(reverse("catalog:playlist_export", args=[playlist.pk, "xspf"])))

    response = play(links[1], Range="bytes=10-19")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 10-19/{len(file_of(songs[1], media_root))}"
    assert body(response) == file_of(songs[1], media_root)[10:20]


def exported_link(client: Client, playlist: Playlist) -> str:
    return m3u8_links(client.get(reverse("catalog:playlist_export", args=[playlist.pk, "m3u8"])))[0]


def test_a_changed_key_is_refused(alice_client, alice, songs):
    link = exported_link(alice_client, make_playlist(alice, songs))
    key = parse_qs(urlsplit(link).query)["key"][0]

    tampered = link.replace(key[-6:], "AAAAAA" if key[-6:] != "AAAAAA" else "BBBBBB")

    assert play(tampered).status_code == 403


def test_a_key_for_one_song_does_not_play_another(alice_client, alice, songs):
    link = exported_link(alice_client, make_playlist(alice, songs))

    other = link.replace(f"/songs/{songs[0].pk}/audio", f"/songs/{songs[1].pk}/audio")

    assert play(other).status_code == 403


def test_a_link_expires_after_the_days_the_setting_gives(alice_client, alice, songs, settings, monkeypatch):
    settings.MUSREC_STREAM_LINK_DAYS = 7
    link = exported_link(alice_client, make_playlist(alice, songs))
    now = time.time()

    monkeypatch.setattr(signing.time, "time", lambda: now + 6 * 86400)
    assert play(link).status_code == 200
    monkeypatch.setattr(signing.time, "time", lambda: now + 8 * 86400)
    expired = play(link)

    assert expired.status_code == 403
    assert "expired" in expired.content.decode()


def test_a_link_never_plays_what_its_signer_may_not_hear(alice, bob):
    alices_secret = make_song(title="Alice's demo", owner=alice, in_catalogue=False)
    request = RequestFactory().get("/")

    signed_for_bob = signed_stream_url(request, alices_secret.pk, bob)

    assert play(signed_for_bob).status_code == 404


def test_a_link_stops_playing_when_its_song_is_taken_out_of_the_catalogue(bob_client, alice, bob):
    shared = make_song(title="Alice's song, shared", owner=alice, in_catalogue=True)
    link = exported_link(bob_client, make_playlist(bob, [shared]))
    assert play(link).status_code == 200

    Song.objects.filter(pk=shared.pk).update(in_catalogue=False)

    assert play(link).status_code == 404


def test_a_link_of_a_deleted_account_plays_nothing(alice_client, alice, songs):
    link = exported_link(alice_client, make_playlist(alice, songs))

    alice.delete()

    assert play(link).status_code == 403


def test_changing_the_password_ends_the_links_exported_before(alice_client, alice, songs):
    playlist = make_playlist(alice, songs)
    link = exported_link(alice_client, playlist)
    assert play(link).status_code == 200

    alice.set_password("a new and different passphrase")
    alice.save()

    refused = play(link)
    assert refused.status_code == 403
    assert "password" in refused.content.decode()
    # A new export, made with the new password, plays.
    alice_client.force_login(alice)
    assert play(exported_link(alice_client, playlist)).status_code == 200


def test_a_link_counts_towards_its_signers_streams(alice_client, alice, songs, settings):
    settings.MUSREC_STREAMS_PER_USER = 1
    link = exported_link(alice_client, make_playlist(alice, songs))
    held = claim_stream_slot(alice.pk)  # Alice is playing a song in her browser

    assert play(link).status_code == 429
    held.release()
    assert play(link).status_code == 200


def test_without_a_key_or_a_session_the_audio_still_asks_to_log_in(songs):
    url = reverse("catalog:song_audio", args=[songs[0].pk])

    response = Client().get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"


# A shared playlist's own links


def shared_links(playlist: Playlist, fmt: str = "m3u8") -> list[str]:
    response = Client().get(reverse("catalog:playlist_shared_export", args=[playlist.share_token, fmt]))
    return m3u8_links(response) if fmt == "m3u8" else xspf_links(response)


def test_a_shared_playlists_export_plays_without_a_session(alice, songs, media_root):
    playlist = make_playlist(alice, songs, public=True)

    links = shared_links(playlist)

    assert [urlsplit(link).path for link in links] == [
        reverse("catalog:shared_song_audio", args=[playlist.share_token, song.pk]) for song in songs
    ]
    for link, song in zip(links, songs, strict=True):
        assert body(play(link)) == file_of(song, media_root)
    assert play(links[0], Range="bytes=0-9").status_code == 206


@pytest.mark.parametrize("revoke", ["0", "new"], ids=["made-private", "new-link"])
def test_revoking_a_share_ends_its_links(alice_client, alice, songs, revoke):
    playlist = make_playlist(alice, songs, public=True)
    links = shared_links(playlist, "xspf")
    assert play(links[0]).status_code == 200

    alice_client.post(reverse("catalog:playlist_visibility", args=[playlist.pk]), {"public": revoke})

    assert [play(link).status_code for link in links] == [404, 404]


def test_a_share_link_plays_only_the_playlists_catalogue_songs(alice, songs):
    secret = make_song(title="Alice's demo", owner=alice, in_catalogue=False)
    elsewhere = make_song(title="Not in the playlist")
    playlist = make_playlist(alice, [*songs, secret], public=True)

    def shared(song: Song) -> str:
        return reverse("catalog:shared_song_audio", args=[playlist.share_token, song.pk])

    assert [link.rsplit("/", 2)[1] for link in shared_links(playlist)] == [str(song.pk) for song in songs]
    assert Client().get(shared(secret)).status_code == 404
    assert Client().get(shared(elsewhere)).status_code == 404


def test_a_visitors_shared_streams_are_counted_per_share_and_address(alice, songs, settings):
    settings.MUSREC_STREAMS_PER_USER = 1
    playlist = make_playlist(alice, songs, public=True)
    other = make_playlist(alice, songs, public=True)
    url = reverse("catalog:shared_song_audio", args=[playlist.share_token, songs[0].pk])
    held = claim_stream_slot(f"share:{playlist.share_token}:address:127.0.0.1")

    assert Client().get(url).status_code == 429
    assert Client(REMOTE_ADDR="10.0.0.2").get(url).status_code == 200
    # Another share's visitors from the same address (everyone, behind a proxy) have streams of their own.
    assert Client().get(reverse("catalog:shared_song_audio", args=[other.share_token, songs[0].pk])).status_code == 200
    held.release()


def test_the_shared_page_lets_a_visitor_listen_by_the_shares_links(alice, songs):
    playlist = make_playlist(alice, songs, public=True)

    page = Client().get(playlist.get_share_url()).content.decode()

    listen = re.findall(r'<a class="listen" href="([^"]+)"', page)
    assert listen == [reverse("catalog:shared_song_audio", args=[playlist.share_token, song.pk]) for song in songs]
    assert all(Client().get(url).status_code == 200 for url in listen)
