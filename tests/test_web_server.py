"""The real web server, gunicorn, started as `./musrec run` starts it: long search URLs, and listeners who stop
reading (a paused player, a bad connection, or someone holding streams open on purpose)."""

from __future__ import annotations

import http.client
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client
from django.urls import reverse

from musrec_site import launcher
from tests.conftest import PASSWORD
from tests.factories import make_song

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SEND_TIMEOUT = 3  # seconds a listener may read nothing before the server gives up on the stream
# Much more than the kernel buffers between the server and a listener who reads nothing (4 MiB each way at
# most on Linux), so that a stream to such a listener really waits.
BIG_FILE = 24 * 1024 * 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server_media(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("server-media")


@pytest.fixture(autouse=True)
def media_root(settings, server_media) -> Path:
    """The server's media folder, where this module's songs are stored (conftest's gives each test its own)."""
    settings.MEDIA_ROOT = server_media
    return server_media


@pytest.fixture(scope="module")
def web_server(django_db_setup, server_media, tmp_path_factory) -> Iterator[int]:
    """gunicorn with the launcher's command line on a free port, on the test database; yields the port."""
    port = free_port()
    url = urlsplit(os.environ["DATABASE_URL"])
    env = {
        **os.environ,
        "DATABASE_URL": urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"])),
        "MEDIA_ROOT": str(server_media),
        "MUSREC_STREAMS_PER_USER": "4",
        "MUSREC_STREAM_SEND_TIMEOUT": str(SEND_TIMEOUT),
    }
    log = tmp_path_factory.mktemp("web") / "web.log"
    command = launcher.web_server_command(f"127.0.0.1:{port}")
    process, _ = launcher.start_logged(command, env, log, "web server for the tests")
    try:
        launcher.wait_for_http(f"http://127.0.0.1:{port}/accounts/login/", process, log=log)
        yield port
    finally:
        launcher.stop([process])


def session_of(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def get(port: int, path: str, session: str, *, timeout: float = 10) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Cookie": f"sessionid={session}"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class Listener:
    """A raw connection asking for a song's audio that reads the headers, then nothing more until told."""

    def __init__(self, port: int, path: str, session: str) -> None:
        self.sock = socket.socket()
        # A small receive buffer, so the server's writes back up quickly.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sessionid={session}\r\n\r\n".encode())
        self.received = b""
        self.status = 0
        self.length = 0

    def read_headers(self) -> int:
        while b"\r\n\r\n" not in self.received:
            chunk = self.sock.recv(1024)
            if not chunk:
                break
            self.received += chunk
        head, _, body = self.received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                self.length = int(value)
        self.received = body
        return self.status

    def read_to_the_end(self) -> int:
        """Read until the server closes or has sent everything; the number of body bytes received."""
        total = len(self.received)
        while total < self.length:
            chunk = self.sock.recv(1024 * 1024)
            if not chunk:
                break
            total += len(chunk)
        return total

    def leave(self) -> None:
        # Closing with unread data makes the kernel reset the connection, as a closed browser tab does.
        self.sock.close()


@pytest.fixture
def big_song(db):
    song = make_song(title="Long one")
    song.audio.save("long.wav", ContentFile(os.urandom(BIG_FILE)))
    return song


def audio_path(song) -> str:
    return reverse("catalog:song_audio", args=[song.pk])


def test_a_five_thousand_character_search_gets_the_catalogue_page(web_server, alice):
    make_song(title="Wave")
    path = f"{reverse('catalog:song_list')}?q={'wave' + 'x' * 4996}"

    status, body = get(web_server, path, session_of(alice))

    page = body.decode()
    assert status == 200
    assert "URI Too Long" not in page
    assert "<title>“wavexxx" in page and "· Musrec</title>" in page
    assert f"“{'wave' + 'x' * 196}”" in page  # the query as the site keeps it: 200 characters


def test_sixteen_listeners_who_stop_reading_leave_the_site_answering(web_server, big_song, django_user_model):
    sessions = [session_of(django_user_model.objects.create_user(f"listener{n}", password=PASSWORD)) for n in range(4)]
    listeners = [Listener(web_server, audio_path(big_song), session) for session in sessions for _ in range(4)]
    try:
        started = time.monotonic()
        status, _ = get(web_server, reverse("catalog:song_list"), sessions[0], timeout=SEND_TIMEOUT - 0.5)

        assert status == 200
        assert time.monotonic() - started < SEND_TIMEOUT - 0.5
        assert [listener.read_headers() for listener in listeners] == [200] * 16
    finally:
        for listener in listeners:
            listener.leave()


def test_a_fifth_stream_at_once_is_refused_until_a_listener_leaves(web_server, big_song, alice):
    session = session_of(alice)
    listeners = [Listener(web_server, audio_path(big_song), session) for _ in range(4)]
    try:
        assert [listener.read_headers() for listener in listeners] == [200] * 4

        status, body = get(web_server, audio_path(big_song), session)
        assert (status, body) == (429, b"Too many songs are playing at once for you: stop one and try again.\n")

        listeners.pop().leave()
        deadline = time.monotonic() + 5
        while (fifth := Listener(web_server, audio_path(big_song), session)).read_headers() == 429:
            fifth.leave()
            assert time.monotonic() < deadline, "the slot of the listener who left was not given back"
            time.sleep(0.1)
        listeners.append(fifth)
    finally:
        for listener in listeners:
            listener.leave()


def test_a_listener_who_reads_nothing_for_the_send_timeout_is_cut_off(web_server, big_song, alice):
    listener = Listener(web_server, audio_path(big_song), session_of(alice))
    try:
        assert listener.read_headers() == 200
        time.sleep(SEND_TIMEOUT + 1.5)

        received = listener.read_to_the_end()

        assert 0 < received < BIG_FILE  # what the buffers held, then the end of the connection
        assert listener.length == BIG_FILE
    finally:
        listener.leave()


def test_an_exported_m3u8_plays_through_the_server_for_a_player_without_a_session(web_server, alice):
    """What VLC or mpv does with an exported playlist (issue 11, §6.6): read the file, ask for each link, no cookie."""
    from catalog.models import Playlist, PlaylistItem

    songs = [make_song(title="Alpha"), make_song(title="Bravo")]
    playlist = Playlist.objects.create(owner=alice, name="Road trip")
    for position, song in enumerate(songs, start=1):
        PlaylistItem.objects.create(playlist=playlist, song=song, position=position)
    status, m3u8 = get(web_server, reverse("catalog:playlist_export", args=[playlist.pk, "m3u8"]), session_of(alice))
    assert status == 200
    links = [line for line in m3u8.decode().splitlines() if line.startswith("http://")]

    for link, song in zip(links, songs, strict=True):
        parts = urlsplit(link)
        with song.audio.open("rb") as handle:
            first_bytes = handle.read(100)
        conn = http.client.HTTPConnection("127.0.0.1", web_server, timeout=10)
        try:
            conn.request("GET", f"{parts.path}?{parts.query}", headers={"Range": "bytes=0-99"})
            response = conn.getresponse()
            assert (response.status, response.read()) == (206, first_bytes)
        finally:
            conn.close()
