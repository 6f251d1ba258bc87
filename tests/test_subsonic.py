"""The Subsonic API (/rest/…, issue 12): sign-in, errors, every endpoint's answer in JSON and in XML, streaming, covers,
and another person's private upload, which does not exist for anyone else through any endpoint.

XML answers are validated against the Subsonic 1.16.1 schema (tests/data/subsonic-rest-api-1.16.1.xsd), after
removing exactly what OpenSubsonic adds to it; JSON answers are checked for the types clients rely on.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
from pathlib import Path
from xml.etree import ElementTree

import pytest
import xmlschema
from django.test import Client
from PIL import Image

from catalog.models import Album, Artist, Cover, Play, Playlist, Song
from subsonic.models import ApiSecret
from tests.conftest import PASSWORD
from tests.factories import jpeg, make_song

SCHEMA = xmlschema.XMLSchema(Path(__file__).parent / "data" / "subsonic-rest-api-1.16.1.xsd")
NS = "{http://subsonic.org/restapi}"
# What OpenSubsonic adds to the response element, unknown to the Subsonic schema.
OPEN_SUBSONIC_ADDITIONS = ("type", "serverVersion", "openSubsonic")


# Helpers -------------------------------------------------------------------------------------------------------------


def token(username: str, secret: str) -> dict[str, str]:
    salt = secrets.token_hex(8)
    return {"u": username, "s": salt, "t": hashlib.md5(f"{secret}{salt}".encode()).hexdigest()}


def call(
    client: Client,
    method: str,
    credentials: dict[str, str],
    *,
    post: bool = False,
    headers: dict[str, str] | None = None,
    **params: object,
):
    data = {"v": "1.16.1", "c": "tests", **credentials, **params}
    if post:
        return client.post(f"/rest/{method}", data, headers=headers)
    return client.get(f"/rest/{method}", data, headers=headers)


def as_json(client: Client, method: str, credentials: dict[str, str], **params: object) -> dict:
    response = call(client, method, credentials, f="json", **params)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    return json.loads(response.content)["subsonic-response"]


def as_xml(client: Client, method: str, credentials: dict[str, str], **params: object) -> ElementTree.Element:
    """The answer in XML, valid against the Subsonic schema once OpenSubsonic's additions are taken out."""
    response = call(client, method, credentials, **params)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/xml")
    root = ElementTree.fromstring(response.content)
    assert root.tag == f"{NS}subsonic-response"
    assert root.get("openSubsonic") == "true" and root.get("type") == "musrec"
    for name in OPEN_SUBSONIC_ADDITIONS:
        del root.attrib[name]
    SCHEMA.validate(root)
    return root


def error_code(client: Client, method: str, credentials: dict[str, str], **params: object) -> int:
    answer = as_json(client, method, credentials, **params)
    assert answer["status"] == "failed"
    xml = as_xml(client, method, credentials, **params)
    assert xml.get("status") == "failed"
    assert int(xml.find(f"{NS}error").get("code")) == answer["error"]["code"]
    return answer["error"]["code"]


def assert_child(entry: dict) -> None:
    """A song entry with the JSON types the spec gives them."""
    assert isinstance(entry["id"], str) and entry["id"].startswith("tr-")
    assert entry["isDir"] is False
    assert isinstance(entry["title"], str) and isinstance(entry["artist"], str) and isinstance(entry["artistId"], str)
    for name in ("duration", "size", "bitRate"):
        assert isinstance(entry[name], int) and not isinstance(entry[name], bool), name
    assert isinstance(entry["coverArt"], str)
    assert entry["created"].endswith("Z")
    assert entry["contentType"] == "audio/wav" and entry["suffix"] == "wav"


def assert_album(entry: dict) -> None:
    assert isinstance(entry["id"], str) and entry["id"].startswith("al-")
    assert isinstance(entry["name"], str) and isinstance(entry["coverArt"], str)
    assert isinstance(entry["songCount"], int) and isinstance(entry["duration"], int)
    assert entry["created"].endswith("Z")


def assert_artist(entry: dict) -> None:
    assert isinstance(entry["id"], str) and entry["id"].startswith("ar-")
    assert isinstance(entry["name"], str) and isinstance(entry["albumCount"], int)


# Fixtures ------------------------------------------------------------------------------------------------------------


@pytest.fixture
def alice_secret(alice) -> str:
    return ApiSecret.objects.issue(alice).secret


@pytest.fixture
def bob_secret(bob) -> str:
    return ApiSecret.objects.issue(bob).secret


@pytest.fixture
def as_alice(alice, alice_secret) -> dict[str, str]:
    return token("alice", alice_secret)


@pytest.fixture
def as_bob(bob, bob_secret) -> dict[str, str]:
    return token("bob", bob_secret)


@pytest.fixture
def library(bob) -> dict[str, Song]:
    """A catalogue album of two songs and a single, and bob's private upload: by an artist and on an album of its
    own, with a genre of its own, and a second one added to the catalogue's album."""
    band = Artist.objects.create(name="The Forest Band")
    album = Album.objects.create(title="Forest Sessions", artist=band)
    first = make_song(title="Clearing", artist=band, album=album, track_number=1, genres=["Chiptune"])
    second = make_song(title="Canopy", artist=band, album=album, track_number=2, genres=["Chiptune"])
    single = make_song(title="Dune", artist="Desert Duo", genres=["Ambient"])
    secret_album = Album.objects.create(title="Bob Hidden Album", artist=Artist.objects.create(name="Bob Hidden"))
    private = make_song(
        title="Bobsong",
        artist="Bob Hidden",
        album=secret_album,
        genres=["Bobcore"],
        owner=bob,
        in_catalogue=False,
    )
    private_in_album = make_song(
        title="Bobtrack", artist=band, album=album, track_number=3, owner=bob, in_catalogue=False
    )
    return {
        "first": first,
        "second": second,
        "single": single,
        "private": private,
        "private_in_album": private_in_album,
    }


def ids(song: Song) -> dict[str, str]:
    return {"song": f"tr-{song.pk}", "album": f"al-{song.album_id}", "artist": f"ar-{song.artist_id}"}


# The envelope, the format, the framework -----------------------------------------------------------------------------


def test_ping_answers_without_credentials_in_xml_and_json(db):
    client = Client()
    assert as_json(client, "ping", {}) == {
        "status": "ok",
        "version": "1.16.1",
        "type": "musrec",
        "serverVersion": "0.1.0",
        "openSubsonic": True,
    }
    assert as_xml(client, "ping.view", {}).get("status") == "ok"


def test_ping_with_wrong_credentials_says_so(alice, alice_secret):
    # Players test a new server's sign-in with ping: a wrong secret must not look right.
    assert error_code(Client(), "ping", token("alice", "not the secret")) == 40


def test_public_endpoints_answer_anyone(db):
    client = Client()
    assert as_json(client, "getLicense", {})["license"] == {"valid": True}
    as_xml(client, "getLicense", {})
    extensions = as_json(client, "getOpenSubsonicExtensions", {})["openSubsonicExtensions"]
    assert {"name": "apiKeyAuthentication", "versions": [1]} in extensions
    assert {"name": "formPost", "versions": [1]} in extensions


def test_other_endpoints_need_credentials(db):
    assert error_code(Client(), "getArtists", {}) == 10


def test_a_site_session_does_not_sign_the_api_in(alice_client, alice_secret):
    # Each call carries its own credentials; a browser's session cookie is not one (the API takes no CSRF token).
    assert error_code(alice_client, "getArtists", {}) == 10


def test_form_post_is_answered_like_get(library, as_alice):
    response = call(Client(), "getSong.view", as_alice, post=True, f="json", id=ids(library["first"])["song"])
    assert json.loads(response.content)["subsonic-response"]["song"]["title"] == "Clearing"


def test_jsonp_is_declined_politely(db):
    answer = json.loads(call(Client(), "ping", {}, f="jsonp", callback="x").content)["subsonic-response"]
    assert answer["status"] == "failed" and answer["error"]["code"] == 0


def test_an_unknown_method_is_an_error_not_a_crash(as_alice):
    assert error_code(Client(), "getVideos", as_alice) == 0


def test_the_api_needs_no_csrf_token(library, as_alice):
    client = Client(enforce_csrf_checks=True)
    response = call(client, "ping", as_alice, post=True, f="json")
    assert json.loads(response.content)["subsonic-response"]["status"] == "ok"


# Signing in ----------------------------------------------------------------------------------------------------------


def test_token_and_salt_sign_in(as_alice):
    assert as_json(Client(), "getMusicFolders", as_alice)["status"] == "ok"


def test_an_api_key_signs_in_alone(alice_secret):
    client = Client()
    assert as_json(client, "getUser", {"apiKey": alice_secret}, username="alice")["user"]["username"] == "alice"


def test_an_api_key_with_a_username_is_error_43(alice_secret):
    assert error_code(Client(), "ping", {"apiKey": alice_secret, "u": "alice"}) == 43


def test_an_unknown_api_key_is_error_44(alice_secret):
    assert error_code(Client(), "ping", {"apiKey": "x" * 32}) == 44


def test_a_wrong_secret_is_error_40(alice_secret):
    assert error_code(Client(), "getArtists", token("alice", "wrong")) == 40


def test_no_secret_no_entry(alice):
    # Without an API secret there is nothing to sign in with, whatever is sent.
    assert error_code(Client(), "getArtists", token("alice", "")) == 40


@pytest.mark.parametrize(
    "credentials",
    [
        lambda: token("alice", PASSWORD),
        lambda: {"u": "alice", "p": PASSWORD},
        lambda: {"u": "alice", "p": "enc:" + PASSWORD.encode().hex()},
        lambda: {"apiKey": PASSWORD},
    ],
    ids=["token", "plain", "enc", "api-key"],
)
def test_the_account_password_is_never_accepted(alice_secret, credentials):
    assert error_code(Client(), "getArtists", credentials()) in (40, 44)


def test_the_legacy_password_parameter_takes_the_secret(alice_secret):
    client = Client()
    assert as_json(client, "getArtists", {"u": "alice", "p": alice_secret})["status"] == "ok"
    assert as_json(client, "getArtists", {"u": "alice", "p": "enc:" + alice_secret.encode().hex()})["status"] == "ok"


def test_token_and_password_together_are_error_43(alice_secret):
    assert error_code(Client(), "ping", token("alice", alice_secret) | {"p": alice_secret}) == 43


def test_a_revoked_secret_stops_working(alice, alice_secret):
    ApiSecret.objects.revoke(alice)
    assert error_code(Client(), "ping", token("alice", alice_secret)) == 40
    assert error_code(Client(), "ping", {"apiKey": alice_secret}) == 44


def test_a_new_secret_replaces_the_old(alice, alice_secret):
    new = ApiSecret.objects.issue(alice).secret
    assert new != alice_secret
    assert error_code(Client(), "ping", token("alice", alice_secret)) == 40
    assert as_json(Client(), "ping", token("alice", new))["status"] == "ok"


def test_an_inactive_account_cannot_sign_in(alice, alice_secret):
    alice.is_active = False
    alice.save()
    assert error_code(Client(), "ping", token("alice", alice_secret)) == 40


def failed(client: Client, credentials: dict[str, str]) -> dict:
    answer = as_json(client, "ping", credentials)
    assert answer["status"] == "failed"
    return answer["error"]


def test_failed_sign_ins_are_throttled_per_username_and_address(settings, one_rate_window, alice_secret, bob_secret):
    settings.MUSREC_LOGIN_FAILURE_LIMIT = 3
    client = Client()
    for _ in range(2):
        assert failed(client, token("alice", "guess"))["code"] == 40
    assert as_json(client, "ping", token("alice", alice_secret))["status"] == "ok"
    assert failed(client, token("alice", "guess"))["code"] == 40
    # The third failure locks the username out from this address: the right secret is refused too.
    refusal = failed(client, token("alice", alice_secret))
    assert refusal["code"] == 40 and "Too many failed sign-ins" in refusal["message"]
    # Another person signing in from the same address is not locked out, nor alice from another address.
    assert as_json(client, "ping", token("bob", bob_secret))["status"] == "ok"
    elsewhere = Client(REMOTE_ADDR="192.0.2.7")
    assert as_json(elsewhere, "ping", token("alice", alice_secret))["status"] == "ok"


def test_guessing_api_keys_is_throttled(settings, one_rate_window, alice_secret):
    settings.MUSREC_LOGIN_FAILURE_LIMIT = 2
    client = Client()
    for _ in range(2):
        assert failed(client, {"apiKey": secrets.token_urlsafe(24)})["code"] == 44
    assert "Too many failed sign-ins" in failed(client, {"apiKey": alice_secret})["message"]


def test_no_limit_when_the_limit_is_off(settings, one_rate_window, alice_secret):
    settings.MUSREC_LOGIN_FAILURE_LIMIT = 0
    client = Client()
    for _ in range(8):
        failed(client, token("alice", "guess"))
    assert as_json(client, "ping", token("alice", alice_secret))["status"] == "ok"


# Errors --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["getSong", "getAlbum", "getArtist", "stream", "download", "getCoverArt"])
def test_a_missing_id_is_error_10(as_alice, method):
    assert error_code(Client(), method, as_alice) == 10


@pytest.mark.parametrize(
    ("method", "item_id"),
    [
        ("getSong", "tr-999999"),
        ("getSong", "al-1"),
        ("getSong", "nonsense"),
        ("getAlbum", "al-999999"),
        ("getArtist", "ar-999999"),
        ("stream", "tr-999999"),
        ("getCoverArt", "xx-1"),
    ],
)
def test_an_unknown_id_is_error_70(as_alice, method, item_id):
    assert error_code(Client(), method, as_alice, id=item_id) == 70


def test_an_unknown_album_list_type_is_an_error(as_alice):
    assert error_code(Client(), "getAlbumList2", as_alice, type="byMood") == 0


def test_reading_another_users_account_is_error_50(as_alice, bob):
    assert error_code(Client(), "getUser", as_alice, username="bob") == 50


# Each endpoint's answer ----------------------------------------------------------------------------------------------


def test_artists_are_indexed_by_letter_without_articles(library, as_alice):
    client = Client()
    answer = as_json(client, "getArtists", as_alice)["artists"]
    assert answer["ignoredArticles"]
    letters = {index["name"]: [artist["name"] for artist in index["artist"]] for index in answer["index"]}
    assert letters == {"D": ["Desert Duo"], "F": ["The Forest Band"]}
    for index in answer["index"]:
        for artist in index["artist"]:
            assert_artist(artist)
    as_xml(client, "getArtists", as_alice)
    indexes = as_json(client, "getIndexes", as_alice)["indexes"]
    assert isinstance(indexes["lastModified"], int) and indexes["lastModified"] > 0
    assert [index["name"] for index in indexes["index"]] == ["D", "F"]
    as_xml(client, "getIndexes", as_alice)


def test_an_artist_with_its_albums(library, as_alice):
    client = Client()
    artist = as_json(client, "getArtist", as_alice, id=ids(library["first"])["artist"])["artist"]
    assert_artist(artist)
    assert artist["name"] == "The Forest Band" and artist["albumCount"] == 1
    assert [album["name"] for album in artist["album"]] == ["Forest Sessions"]
    assert_album(artist["album"][0])
    as_xml(client, "getArtist", as_alice, id=ids(library["first"])["artist"])


def test_an_album_with_its_songs_in_track_order(library, as_alice):
    client = Client()
    album = as_json(client, "getAlbum", as_alice, id=ids(library["first"])["album"])["album"]
    assert_album(album)
    assert [song["title"] for song in album["song"]] == ["Clearing", "Canopy"]
    assert album["songCount"] == 2 and album["artist"] == "The Forest Band"
    assert album["duration"] == round(library["first"].duration + library["second"].duration)
    for song in album["song"]:
        assert_child(song)
        assert song["albumId"] == album["id"] and song["parent"] == album["id"]
    as_xml(client, "getAlbum", as_alice, id=album["id"])


def test_a_song(library, as_alice):
    client = Client()
    song = as_json(client, "getSong", as_alice, id=ids(library["first"])["song"])["song"]
    assert_child(song)
    assert song["title"] == "Clearing" and song["track"] == 1 and song["genre"] == "Chiptune"
    assert song["path"] == "The Forest Band/Forest Sessions/Clearing.wav"
    as_xml(client, "getSong", as_alice, id=song["id"])


@pytest.mark.parametrize(
    "list_type", ["newest", "random", "frequent", "recent", "alphabeticalByName", "alphabeticalByArtist", "starred"]
)
def test_album_lists(library, alice, as_alice, list_type):
    Play.objects.record(alice, library["first"], seconds_listened=1)
    client = Client()
    albums = as_json(client, "getAlbumList2", as_alice, type=list_type, size=5)["albumList2"]["album"]
    for album in albums:
        assert_album(album)
    expected = {"starred": []}.get(list_type, ["Forest Sessions"])
    assert [album["name"] for album in albums] == expected
    as_xml(client, "getAlbumList2", as_alice, type=list_type)


def test_album_lists_are_bounded(library, as_alice):
    client = Client()
    assert as_json(client, "getAlbumList2", as_alice, type="newest", size=0)["albumList2"]["album"] == []
    assert as_json(client, "getAlbumList2", as_alice, type="newest", offset=1)["albumList2"]["album"] == []
    many = as_json(client, "getAlbumList2", as_alice, type="newest", size=10**9, offset=-5)["albumList2"]["album"]
    assert len(many) == 1


def test_albums_by_genre(library, as_alice):
    client = Client()
    albums = as_json(client, "getAlbumList2", as_alice, type="byGenre", genre="chiptune")["albumList2"]["album"]
    assert [album["name"] for album in albums] == ["Forest Sessions"]
    assert error_code(client, "getAlbumList2", as_alice, type="byGenre") == 10


def test_genres_with_their_counts(library, as_alice):
    client = Client()
    genres = as_json(client, "getGenres", as_alice)["genres"]["genre"]
    assert genres == [
        {"value": "Ambient", "songCount": 1, "albumCount": 0},
        {"value": "Chiptune", "songCount": 2, "albumCount": 1},
    ]
    xml = as_xml(client, "getGenres", as_alice)
    assert [genre.text for genre in xml.iter(f"{NS}genre")] == ["Ambient", "Chiptune"]


def test_songs_by_genre(library, as_alice):
    client = Client()
    songs = as_json(client, "getSongsByGenre", as_alice, genre="Chiptune", count=1, offset=1)["songsByGenre"]["song"]
    assert [song["title"] for song in songs] == ["Clearing"]
    as_xml(client, "getSongsByGenre", as_alice, genre="Chiptune")


def test_random_songs(library, as_alice):
    client = Client()
    songs = as_json(client, "getRandomSongs", as_alice, size=50)["randomSongs"]["song"]
    assert sorted(song["title"] for song in songs) == ["Canopy", "Clearing", "Dune"]
    for song in songs:
        assert_child(song)
    ambient = as_json(client, "getRandomSongs", as_alice, genre="Ambient")["randomSongs"]["song"]
    assert [song["title"] for song in ambient] == ["Dune"]
    as_xml(client, "getRandomSongs", as_alice)


def test_search3(library, as_alice):
    client = Client()
    found = as_json(client, "search3", as_alice, query="forest")["searchResult3"]
    assert [artist["name"] for artist in found["artist"]] == ["The Forest Band"]
    assert [album["name"] for album in found["album"]] == ["Forest Sessions"]
    assert {song["title"] for song in found["song"]} == {"Clearing", "Canopy"}
    as_xml(client, "search3", as_alice, query="forest")
    everything = as_json(client, "search3", as_alice, query='""', songCount=2, songOffset=1)["searchResult3"]
    assert [song["title"] for song in everything["song"]] == ["Clearing", "Dune"]
    assert len(everything["artist"]) == 2


def test_the_user_and_what_is_playing(library, as_alice):
    client = Client()
    user = as_json(client, "getUser", as_alice, username="alice")["user"]
    assert user["username"] == "alice" and user["streamRole"] is True and user["adminRole"] is False
    assert user["folder"] == [1]
    as_xml(client, "getUser", as_alice, username="alice")
    assert as_json(client, "getNowPlaying", as_alice)["nowPlaying"] == {"entry": []}
    as_xml(client, "getNowPlaying", as_alice)
    assert as_json(client, "getMusicFolders", as_alice)["musicFolders"] == {
        "musicFolder": [{"id": 1, "name": "Musrec"}]
    }
    as_xml(client, "getMusicFolders", as_alice)


# Audio and pictures --------------------------------------------------------------------------------------------------


def test_stream_sends_the_file_with_ranges(library, as_alice):
    song = library["first"]
    with song.audio.open("rb") as handle:
        data = handle.read()
    client = Client()
    whole = call(client, "stream", as_alice, id=ids(song)["song"], format="raw", maxBitRate=128)
    assert whole.status_code == 200 and whole["Content-Type"] == "audio/wav"
    assert b"".join(whole.streaming_content) == data
    part = call(client, "stream.view", as_alice, id=ids(song)["song"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert b"".join(part.streaming_content) == data[100:200]


def test_download_sends_the_file_as_an_attachment(library, as_alice):
    response = call(Client(), "download", as_alice, id=ids(library["first"])["song"])
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="Clearing.wav"'
    b"".join(response.streaming_content)


@pytest.mark.parametrize("kind", ["song", "album", "artist"])
def test_every_item_has_a_cover(library, as_alice, kind):
    response = call(Client(), "getCoverArt", as_alice, id=ids(library["first"])[kind], size=100)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response.content.startswith(b"\xff\xd8")


# Another person's private upload -------------------------------------------------------------------------------------


def test_the_owner_sees_their_private_upload(library, as_bob):
    client = Client()
    private = library["private"]
    assert as_json(client, "getSong", as_bob, id=ids(private)["song"])["song"]["title"] == "Bobsong"
    album = as_json(client, "getAlbum", as_bob, id=ids(library["first"])["album"])["album"]
    assert album["songCount"] == 3
    names = [a["name"] for i in as_json(client, "getArtists", as_bob)["artists"]["index"] for a in i["artist"]]
    assert "Bob Hidden" in names


@pytest.mark.parametrize("method", ["getSong", "stream", "download", "getCoverArt"])
def test_another_persons_private_song_does_not_exist(library, as_alice, method):
    for song in (library["private"], library["private_in_album"]):
        assert error_code(Client(), method, as_alice, id=ids(song)["song"]) == 70


@pytest.mark.parametrize(("method", "kind"), [("getAlbum", "album"), ("getArtist", "artist"), ("getCoverArt", "album")])
def test_another_persons_private_album_and_artist_do_not_exist(library, as_alice, method, kind):
    assert error_code(Client(), method, as_alice, id=ids(library["private"])[kind]) == 70


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("getArtists", {}),
        ("getIndexes", {}),
        ("getAlbum", {"id": "ALBUM"}),
        ("getArtist", {"id": "ARTIST"}),
        ("getAlbumList2", {"type": "newest", "size": 500}),
        ("getAlbumList2", {"type": "alphabeticalByArtist", "size": 500}),
        ("getGenres", {}),
        ("getSongsByGenre", {"genre": "Chiptune", "count": 500}),
        ("getRandomSongs", {"size": 500}),
        ("search3", {"query": "bob"}),
        ("search3", {"query": ""}),
        ("getStarred2", {}),
        ("getAlbumList2", {"type": "starred", "size": 500}),
        ("getAlbumList2", {"type": "highest", "size": 500}),
        ("getSimilarSongs", {"id": "ARTIST"}),
        ("getSimilarSongs", {"id": "ALBUM"}),
        ("getSimilarSongs2", {"id": "ARTIST"}),
    ],
)
def test_another_persons_private_upload_is_nowhere_in_lists(library, as_alice, method, params):
    """Not its title, artist, album, genre, id, nor a count that includes it."""
    params = {
        name: {"ALBUM": ids(library["first"])["album"], "ARTIST": ids(library["first"])["artist"]}.get(value, value)
        for name, value in params.items()
    }
    client = Client()
    for answer_format in ("json", "xml"):
        text = call(client, method, as_alice, f=answer_format, **params).content.decode()
        assert 'status="ok"' in text or '"status": "ok"' in text
        for hidden in ("Bobsong", "Bobtrack", "Bob Hidden", "Bobcore"):
            assert hidden not in text
        for song in (library["private"], library["private_in_album"]):
            for value in ids(song)["song"], ids(library["private"])["album"], ids(library["private"])["artist"]:
                assert f'"{value}"' not in text
    if method == "getAlbum":
        assert as_json(client, method, as_alice, **params)["album"]["songCount"] == 2


def test_a_private_genre_is_unknown_to_others(library, as_alice):
    client = Client()
    assert as_json(client, "getSongsByGenre", as_alice, genre="Bobcore")["songsByGenre"]["song"] == []
    albums = as_json(client, "getAlbumList2", as_alice, type="byGenre", genre="Bobcore")["albumList2"]["album"]
    assert albums == []


# Playlists -----------------------------------------------------------------------------------------------------------


def test_a_playlist_made_in_a_player_is_a_musrec_playlist(library, alice, as_alice):
    client = Client()
    songs = [ids(library["second"])["song"], ids(library["single"])["song"], ids(library["second"])["song"]]
    made = as_json(client, "createPlaylist", as_alice, name="On the bus", songId=songs)["playlist"]
    assert made["name"] == "On the bus" and made["owner"] == "alice" and made["public"] is False
    assert [song["title"] for song in made["entry"]] == ["Canopy", "Dune"]
    assert made["songCount"] == 2 and isinstance(made["duration"], int) and made["coverArt"] == songs[0]
    playlist = Playlist.objects.get(owner=alice)
    assert made["id"] == f"pl-{playlist.pk}"
    assert [item.song for item in playlist.items.all()] == [library["second"], library["single"]]
    as_xml(client, "getPlaylist", as_alice, id=made["id"])
    listed = as_json(client, "getPlaylists", as_alice)["playlists"]["playlist"]
    assert [(p["name"], p["songCount"]) for p in listed] == [("On the bus", 2)]
    assert "entry" not in listed[0]
    as_xml(client, "getPlaylists", as_alice)


def test_a_playlist_is_updated_and_deleted(library, alice, as_alice):
    client = Client()
    playlist = Playlist.objects.create_with_songs(
        owner=alice, name="Mix", songs=[library["first"], library["second"], library["single"]]
    )
    pid = f"pl-{playlist.pk}"
    answer = as_json(
        client,
        "updatePlaylist",
        as_alice,
        playlistId=pid,
        name="Evening",
        comment="calm",
        public="true",
        songIndexToRemove=["0", "2"],
        songIdToAdd=[ids(library["first"])["song"]],
    )
    assert answer["status"] == "ok"
    got = as_json(client, "getPlaylist", as_alice, id=pid)["playlist"]
    assert (got["name"], got["comment"], got["public"]) == ("Evening", "calm", True)
    assert [song["title"] for song in got["entry"]] == ["Canopy", "Clearing"]
    replaced = as_json(client, "createPlaylist", as_alice, playlistId=pid, songId=[ids(library["single"])["song"]])
    assert [song["title"] for song in replaced["playlist"]["entry"]] == ["Dune"]
    assert error_code(client, "updatePlaylist", as_alice, playlistId=pid, songIndexToRemove="5") == 70
    assert as_json(client, "deletePlaylist", as_alice, id=pid)["status"] == "ok"
    assert not Playlist.objects.filter(pk=playlist.pk).exists()


def test_another_persons_playlist_does_not_exist(library, bob, as_alice):
    theirs = Playlist.objects.create_with_songs(owner=bob, name="Bob's list", songs=[library["first"]])
    theirs.is_public = True
    theirs.save()
    pid = f"pl-{theirs.pk}"
    client = Client()
    assert error_code(client, "getPlaylist", as_alice, id=pid) == 70
    assert error_code(client, "updatePlaylist", as_alice, playlistId=pid, name="Mine now") == 70
    assert error_code(client, "deletePlaylist", as_alice, id=pid) == 70
    assert error_code(client, "createPlaylist", as_alice, playlistId=pid, songId=ids(library["first"])["song"]) == 70
    assert error_code(client, "getPlaylists", as_alice, username="bob") == 50
    assert as_json(client, "getPlaylists", as_alice)["playlists"]["playlist"] == []
    theirs.refresh_from_db()
    assert theirs.name == "Bob's list" and theirs.items.count() == 1


def test_another_persons_private_song_cannot_be_added(library, as_alice):
    client = Client()
    private = ids(library["private"])["song"]
    assert error_code(client, "createPlaylist", as_alice, name="Sneaky", songId=private) == 70
    assert not Playlist.objects.filter(name="Sneaky").exists()


def test_a_playlist_shows_only_the_songs_its_owner_may_see(library, alice, bob, as_alice):
    """A song bob shared and then took back out of the catalogue leaves alice's playlist's songs and counts."""
    shared = make_song(title="Bob shared", owner=bob, in_catalogue=True)
    playlist = Playlist.objects.create_with_songs(owner=alice, name="Mix", songs=[library["first"], shared])
    Song.objects.filter(pk=shared.pk).update(in_catalogue=False)
    client = Client()
    got = as_json(client, "getPlaylist", as_alice, id=f"pl-{playlist.pk}")["playlist"]
    assert [song["title"] for song in got["entry"]] == ["Clearing"] and got["songCount"] == 1
    listed = as_json(client, "getPlaylists", as_alice)["playlists"]["playlist"]
    assert listed[0]["songCount"] == 1 and listed[0]["duration"] == round(library["first"].duration)


def test_an_albums_cover_is_its_stored_picture(library, as_alice):
    album = library["first"].album
    album.cover = Cover.objects.for_picture(jpeg(400, 400, colour=(10, 20, 230)))
    album.save()
    response = call(Client(), "getCoverArt", as_alice, id=f"al-{album.pk}", size=64)
    picture = Image.open(io.BytesIO(response.content)).convert("RGB")
    assert picture.size == (64, 64)
    red, green, blue = picture.getpixel((2, 2))
    assert blue > 150 and red < 80 and green < 80


def test_json_answers_leave_missing_fields_out_rather_than_null(client, library, as_alice):
    """Typed clients (Kotlin, Swift) read a missing field as absent but may fail on null: a song with no album, no
    star and no rating has no such keys at all."""

    def nulls(value: object, path: str = "") -> list[str]:
        if isinstance(value, dict):
            return [found for key, item in value.items() for found in nulls(item, f"{path}.{key}")]
        if isinstance(value, list):
            return [found for i, item in enumerate(value) for found in nulls(item, f"{path}[{i}]")]
        return [path] if value is None else []

    for method, params in [("getRandomSongs", {"size": 10}), ("search3", {"query": "a"}), ("getArtists", {})]:
        answer = as_json(client, method, as_alice, **params)
        assert answer["status"] == "ok"
        assert nulls(answer) == [], method


def test_hostile_parameters_get_subsonic_errors_never_a_server_error(client, library, as_alice):
    """NUL bytes, digits that are not ASCII, offsets past any database number, and floods of repeated ids."""
    assert error_code(client, "ping", {"u": "ali\x00ce", "t": "a", "s": "b"}) == 40
    assert error_code(client, "getSong", as_alice, id="tr-²") == 70
    assert error_code(client, "getSong", as_alice, id="tr-" + "9" * 5000) == 70
    answer = as_json(client, "getAlbumList2", as_alice, type="newest", offset="9" * 18)
    assert answer["status"] == "ok" and not answer["albumList2"].get("album")
    assert error_code(client, "getAlbumList2", as_alice, type="newest", offset="1" + "0" * 20) == 0
    assert error_code(client, "getAlbumList2", as_alice, type="newest", offset="٣") == 0
    assert error_code(client, "star", as_alice, id=[f"tr-{i}" for i in range(501)]) == 0


def test_a_title_with_control_characters_still_gives_valid_xml(client, library, as_alice):
    Song.objects.filter(pk=library["first"].pk).update(title="Clear\x01ing\x1b")
    root = as_xml(client, "getSong", as_alice, id=f"tr-{library['first'].pk}")
    (song,) = [element for element in root.iter() if element.tag.endswith("song")]
    assert song.get("title") == "Clearing"
