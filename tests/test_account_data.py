"""Your data: the page, "Download my data" (one JSON file) and "Delete my account"."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import soundfile as sf
from django.contrib.auth import get_user
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.http import HttpRequest
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from catalog.models import Album, Genre, Play, Playlist, PlaylistItem, Rating, Song
from recommender.models import Embedding
from tests.browser import CHROMIUM, CHROMIUM_MISSING, browser_page  # noqa: F401
from tests.conftest import PASSWORD
from tests.factories import ANALYSABLE_SECONDS, embed, make_song, synth_signal

DELETE_URL = "account_delete"
DOWNLOAD_URL = "account_data_download"
T0 = timezone.now().replace(microsecond=0) - timedelta(days=3)


def make_upload(user: User, *, title: str, shared: bool = False, **overrides: object) -> Song:
    song = make_song(title=title, owner=user, in_catalogue=shared, original_filename=f"{title}.wav", **overrides)
    song.spectrogram.save(f"{title}.png", ContentFile(b"\x89PNG\r\n\x1a\n spectrogram"), save=True)
    return song


def make_playlist(user: User, name: str, songs: list[Song], **fields: object) -> Playlist:
    playlist = Playlist.objects.create(owner=user, name=name, **fields)
    PlaylistItem.objects.bulk_create(
        PlaylistItem(playlist=playlist, song=song, position=i) for i, song in enumerate(songs, start=1)
    )
    return playlist


@pytest.fixture
def catalogue() -> list[Song]:
    album = Album.objects.create(title="Night Drive")
    return [make_song(title=f"Catalogue {i}", artist=f"Band {i}", album=album if i == 0 else None) for i in range(4)]


@pytest.fixture
def alices_data(alice, catalogue) -> dict[str, object]:
    """Alice's history, likes, playlists, genres and uploads, with times that set a known order."""
    Genre.objects.named("Jazz").fans.add(alice)
    Genre.objects.named("Ambient").fans.add(alice)
    upload = make_upload(alice, title="Alice Demo")
    plays = [
        Play.objects.create(user=alice, song=catalogue[0], played_at=T0, seconds_listened=31.5, completed=True),
        Play.objects.create(
            user=alice, song=catalogue[1], played_at=T0 + timedelta(hours=1), seconds_listened=4, skipped=True
        ),
        Play.objects.create(user=alice, song=upload, played_at=T0 + timedelta(hours=2), seconds_listened=12),
    ]
    Rating.objects.create(user=alice, song=catalogue[0], value=Rating.LIKE, rated_at=T0)
    Rating.objects.create(user=alice, song=upload, value=Rating.LIKE, rated_at=T0 + timedelta(minutes=5))
    Rating.objects.create(user=alice, song=catalogue[1], value=Rating.DISLIKE, rated_at=T0 + timedelta(minutes=9))
    evening = make_playlist(alice, "Evening", [catalogue[2], catalogue[0], upload], description="Slow ones")
    public = make_playlist(alice, "For friends", [catalogue[3]], is_public=True)
    return {"upload": upload, "plays": plays, "evening": evening, "public": public}


@pytest.fixture
def bobs_data(bob, catalogue) -> dict[str, object]:
    """Bob's own things, every one named so that a leak into Alice's file would show."""
    Genre.objects.named("Bobcore").fans.add(bob)
    upload = make_upload(bob, title="BOBSECRET upload")
    Play.objects.create(user=bob, song=catalogue[3], played_at=T0, seconds_listened=99)
    Play.objects.create(user=bob, song=upload, played_at=T0, seconds_listened=98)
    Rating.objects.create(user=bob, song=catalogue[2], value=Rating.DISLIKE)
    Rating.objects.create(user=bob, song=upload, value=Rating.LIKE)
    playlist = make_playlist(bob, "BOBSECRET playlist", [catalogue[0], upload], description="BOBSECRET notes")
    return {"upload": upload, "playlist": playlist}


def download(client: Client) -> dict:
    response = client.get(reverse(DOWNLOAD_URL))
    assert response.status_code == 200
    return json.loads(response.content)


# The page


@pytest.mark.django_db
def test_the_data_page_counts_what_there_is_and_offers_both_actions(alice_client, alices_data, bobs_data):
    response = alice_client.get(reverse("account_data"))

    assert response.status_code == 200
    assert response.context["summary"] == {
        "plays": 3,
        "likes": 2,
        "dislikes": 1,
        "playlists": 2,
        "uploads": 1,
        "shared_uploads": 0,
        "photos": 0,
    }
    page = response.content.decode()
    assert f'href="{reverse(DOWNLOAD_URL)}"' in page
    assert f'href="{reverse(DELETE_URL)}"' in page


@pytest.mark.django_db
def test_the_navigation_links_to_the_data_page(alice_client):
    response = alice_client.get(reverse("catalog:song_list"))

    assert f'href="{reverse("account_data")}"' in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["account_data", DOWNLOAD_URL, DELETE_URL])
def test_the_account_pages_send_visitors_to_the_login_page(name):
    url = reverse(name)

    response = Client().get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"


# Download my data


@pytest.mark.django_db
def test_the_download_is_a_pretty_printed_json_attachment_that_is_never_cached(alice_client, alice):
    response = alice_client.get(reverse(DOWNLOAD_URL))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="musrec-alice-{today}.json"'
    assert {"no-store", "private"} <= {part.strip() for part in response["Cache-Control"].split(",")}
    assert response.content.decode().startswith('{\n  "format": "musrec-account-export",\n')
    assert json.loads(response.content)["profile"]["username"] == "alice"


@pytest.mark.django_db
def test_a_username_outside_ascii_still_names_the_file(db):
    user = User.objects.create_user("zoë", "zoe@example.com", PASSWORD)
    client = Client()
    client.force_login(user)

    response = client.get(reverse(DOWNLOAD_URL))

    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f"attachment; filename*=utf-8''musrec-zo%C3%AB-{today}.json"


@pytest.mark.django_db
def test_the_download_answers_only_get(alice_client):
    response = alice_client.post(reverse(DOWNLOAD_URL))

    assert response.status_code == 405


@pytest.mark.django_db
def test_the_profile_section_holds_who_alice_is_and_her_favourite_genres(alice_client, alice, alices_data):
    # django-axes, first of the authentication backends, needs the request a log-in comes with.
    Client().login(request=HttpRequest(), username="alice", password=PASSWORD)
    alice.refresh_from_db()

    profile = download(alice_client)["profile"]

    assert profile == {
        "username": "alice",
        "email": "alice@example.com",
        "first_name": "",
        "last_name": "",
        "date_joined": alice.date_joined.isoformat(),
        "last_login": alice.last_login.isoformat(),
        "favourite_genres": ["Ambient", "Jazz"],
    }


@pytest.mark.django_db
def test_the_history_section_lists_every_play_oldest_first(alice_client, alices_data, catalogue):
    upload = alices_data["upload"]

    history = download(alice_client)["history"]

    assert history == [
        {
            "song": {"id": catalogue[0].pk, "title": "Catalogue 0", "artist": "Band 0"},
            "played_at": T0.isoformat(),
            "seconds_listened": 31.5,
            "completed": True,
            "skipped": False,
        },
        {
            "song": {"id": catalogue[1].pk, "title": "Catalogue 1", "artist": "Band 1"},
            "played_at": (T0 + timedelta(hours=1)).isoformat(),
            "seconds_listened": 4.0,
            "completed": False,
            "skipped": True,
        },
        {
            "song": {"id": upload.pk, "title": "Alice Demo", "artist": upload.artist.name},
            "played_at": (T0 + timedelta(hours=2)).isoformat(),
            "seconds_listened": 12.0,
            "completed": False,
            "skipped": False,
        },
    ]


@pytest.mark.django_db
def test_the_likes_and_dislikes_sections_hold_her_ratings(alice_client, alices_data, catalogue):
    upload = alices_data["upload"]

    data = download(alice_client)

    assert data["likes"] == [
        {"song": {"id": catalogue[0].pk, "title": "Catalogue 0", "artist": "Band 0"}, "rated_at": T0.isoformat()},
        {
            "song": {"id": upload.pk, "title": "Alice Demo", "artist": upload.artist.name},
            "rated_at": (T0 + timedelta(minutes=5)).isoformat(),
        },
    ]
    assert data["dislikes"] == [
        {
            "song": {"id": catalogue[1].pk, "title": "Catalogue 1", "artist": "Band 1"},
            "rated_at": (T0 + timedelta(minutes=9)).isoformat(),
        }
    ]


@pytest.mark.django_db
def test_the_playlists_section_keeps_each_playlists_songs_in_their_order(alice_client, alices_data, catalogue):
    evening, upload = alices_data["evening"], alices_data["upload"]
    # Move the last song to the front: the file must follow positions, not ids or insertion order.
    PlaylistItem.objects.filter(playlist=evening, song=upload).update(position=0)
    evening.refresh_from_db()

    playlists = download(alice_client)["playlists"]

    assert [p["name"] for p in playlists] == ["Evening", "For friends"]
    first = playlists[0]
    assert first["description"] == "Slow ones"
    assert first["is_public"] is False
    assert first["share_link"] is None
    assert first["created_at"] == evening.created_at.isoformat()
    assert first["updated_at"] == evening.updated_at.isoformat()
    assert [(s["position"], s["id"], s["title"], s["artist"], s["album"]) for s in first["songs"]] == [
        (0, upload.pk, "Alice Demo", upload.artist.name, None),
        (1, catalogue[2].pk, "Catalogue 2", "Band 2", None),
        (2, catalogue[0].pk, "Catalogue 0", "Band 0", "Night Drive"),
    ]
    assert playlists[1]["is_public"] is True
    assert [s["title"] for s in playlists[1]["songs"]] == ["Catalogue 3"]


@pytest.mark.django_db
def test_a_public_playlist_carries_its_share_link_path(alice_client, alices_data):
    public = alices_data["public"]

    shared = download(alice_client)["playlists"][1]

    assert shared["share_link"] == reverse("catalog:playlist_shared", args=[public.share_token])
    assert Client().get(shared["share_link"]).status_code == 200


@pytest.mark.django_db
def test_the_uploads_section_describes_each_upload_and_where_its_audio_is(alice_client, alices_data):
    upload = alices_data["upload"]

    uploads = download(alice_client)["uploads"]

    assert uploads == [
        {
            "id": upload.pk,
            "title": "Alice Demo",
            "artist": upload.artist.name,
            "album": None,
            "original_filename": "Alice Demo.wav",
            "duration_seconds": ANALYSABLE_SECONDS,
            "analysis_status": "pending",
            "in_catalogue": False,
            "added_at": upload.added_at.isoformat(),
            "audio_url": f"http://testserver{reverse('catalog:song_audio', args=[upload.pk])}",
        }
    ]
    audio = alice_client.get(uploads[0]["audio_url"])
    assert audio.status_code == 200
    assert b"".join(audio.streaming_content) == upload.audio.open("rb").read()


@pytest.mark.django_db
def test_none_of_bobs_data_appears_in_alices_file(alice_client, alices_data, bobs_data, catalogue):
    response = alice_client.get(reverse(DOWNLOAD_URL))
    text = response.content.decode()
    data = json.loads(text)

    assert "BOBSECRET" not in text
    assert "Bobcore" not in text
    assert "bob" not in text.lower()
    assert bobs_data["upload"].pk not in {entry["song"]["id"] for entry in data["history"]}
    assert len(data["history"]) == 3
    assert len(data["likes"]) + len(data["dislikes"]) == 3
    assert len(data["playlists"]) == 2
    assert [u["title"] for u in data["uploads"]] == ["Alice Demo"]


@pytest.mark.django_db
def test_a_song_bob_took_back_out_of_the_catalogue_stays_in_alices_file_without_its_name(
    alice_client, alice, bob, catalogue
):
    bobs = make_upload(bob, title="BOBSECRET once shared", shared=True)
    Play.objects.create(user=alice, song=bobs, played_at=T0, seconds_listened=20, completed=True)
    Rating.objects.create(user=alice, song=bobs, value=Rating.LIKE, rated_at=T0)
    make_playlist(alice, "Mix", [catalogue[0], bobs])
    Song.objects.filter(pk=bobs.pk).update(in_catalogue=False)

    response = alice_client.get(reverse(DOWNLOAD_URL))
    data = json.loads(response.content)

    assert "BOBSECRET" not in response.content.decode()
    assert data["history"] == [
        {"song": None, "played_at": T0.isoformat(), "seconds_listened": 20.0, "completed": True, "skipped": False}
    ]
    assert data["likes"] == [{"song": None, "rated_at": T0.isoformat()}]
    assert data["playlists"][0]["songs"] == [
        {"position": 1, "id": catalogue[0].pk, "title": "Catalogue 0", "artist": "Band 0", "album": "Night Drive"},
        {"position": 2, "id": None, "title": None, "artist": None, "album": None},
    ]


@pytest.mark.django_db
def test_bob_downloads_only_his_own_data(alices_data, bobs_data, bob):
    client = Client()
    client.force_login(bob)

    data = download(client)

    assert data["profile"]["username"] == "bob"
    assert [p["name"] for p in data["playlists"]] == ["BOBSECRET playlist"]
    assert [u["title"] for u in data["uploads"]] == ["BOBSECRET upload"]
    assert "Alice Demo" not in json.dumps(data)


@pytest.mark.django_db
def test_non_ascii_text_is_written_as_itself(alice_client, alice):
    make_upload(alice, title="Café ☕ Nocturne")

    response = alice_client.get(reverse(DOWNLOAD_URL))

    assert "Café ☕ Nocturne" in response.content.decode("utf-8")


def export_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        download(client)
    return len(queries)


@pytest.mark.django_db
def test_the_export_costs_the_same_few_queries_however_much_data_there_is(alice_client, alice, catalogue):
    make_playlist(alice, "One", catalogue[:2])
    Play.objects.create(user=alice, song=catalogue[0])
    make_upload(alice, title="First")
    few = export_queries(alice_client)

    for i in range(5):
        make_playlist(alice, f"More {i}", catalogue)
        make_upload(alice, title=f"Upload {i}")
    Play.objects.bulk_create(Play(user=alice, song=song) for song in catalogue * 20)
    Rating.objects.bulk_create(Rating(user=alice, song=song, value=Rating.LIKE) for song in catalogue)
    many = export_queries(alice_client)

    assert many == few
    assert few <= 8, few  # the session, the user and the export's six queries


# Delete my account


def delete(client: Client, password: str = PASSWORD, confirm: object = "on"):
    data = {"password": password}
    if confirm is not None:
        data["confirm"] = confirm
    return client.post(reverse(DELETE_URL), data)


def assert_alice_untouched(alice: User, counts: dict[str, int]) -> None:
    assert User.objects.filter(pk=alice.pk).exists()
    assert alice_counts(alice) == counts


def alice_counts(alice: User) -> dict[str, int]:
    return {
        "plays": Play.objects.filter(user=alice).count(),
        "ratings": Rating.objects.filter(user=alice).count(),
        "playlists": Playlist.objects.filter(owner=alice).count(),
        "uploads": Song.objects.filter(owner=alice).count(),
        "genres": alice.favourite_genres.count(),
    }


@pytest.mark.django_db
def test_the_delete_page_asks_for_the_password_and_a_confirmation(alice_client, alices_data):
    response = alice_client.get(reverse(DELETE_URL))

    page = response.content.decode()
    assert response.status_code == 200
    assert 'type="password"' in page and 'name="password"' in page
    assert 'type="checkbox"' in page and 'name="confirm"' in page
    assert "3 plays" in page
    assert "1 upload and its audio file" in page


@pytest.mark.django_db
def test_the_delete_page_warns_that_shared_uploads_leave_the_catalogue(alice_client, alice):
    make_upload(alice, title="Shared", shared=True)

    response = alice_client.get(reverse(DELETE_URL))

    assert "1 of your uploads is shared in the catalogue" in response.content.decode()


@pytest.mark.django_db
def test_deleting_logs_out_and_removes_the_account_with_all_its_data(alice_client, alice, alices_data, catalogue):
    response = delete(alice_client)

    assert response.status_code == 302
    assert response.url == reverse("login")
    assert not get_user(alice_client).is_authenticated
    assert not User.objects.filter(username="alice").exists()
    assert not Play.objects.exists()
    assert not Rating.objects.exists()
    assert not Playlist.objects.exists()
    assert not PlaylistItem.objects.exists()
    assert not Song.objects.filter(pk=alices_data["upload"].pk).exists()
    assert not Genre.fans.through.objects.exists()
    # Genres and the catalogue are everyone's: they stay.
    assert set(Genre.objects.values_list("name", flat=True)) >= {"Jazz", "Ambient"}
    assert list(Song.objects.catalogue()) == sorted(catalogue, key=lambda s: s.title.lower())
    page = alice_client.get(response.url)
    assert "The account “alice” and everything in it were deleted." in page.content.decode()


@pytest.mark.django_db
def test_deleting_alice_leaves_bob_and_his_data_alone(alice_client, alices_data, bobs_data, bob, catalogue):
    before = alice_counts(bob)

    delete(alice_client)

    assert alice_counts(bob) == before
    bob_client = Client()
    bob_client.force_login(bob)
    assert bob_client.get(reverse("catalog:song_audio", args=[bobs_data["upload"].pk])).status_code == 200
    assert [i.song_id for i in bobs_data["playlist"].items.all()] == [catalogue[0].pk, bobs_data["upload"].pk]


@pytest.mark.django_db
def test_a_shared_upload_leaves_the_catalogue_and_other_peoples_playlists_with_her(alice_client, alice, bob, catalogue):
    shared = make_upload(alice, title="Alice Shared", shared=True)
    bobs = make_playlist(bob, "Bob mix", [catalogue[0], shared, catalogue[1]])
    Play.objects.create(user=bob, song=shared)

    delete(alice_client)

    assert not Song.objects.filter(pk=shared.pk).exists()
    assert [i.song_id for i in bobs.items.all()] == [catalogue[0].pk, catalogue[1].pk]
    assert Playlist.objects.filter(pk=bobs.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("not my password", "on", "That is not your current password."),
        (PASSWORD, None, "This field is required."),
        ("", "on", "This field is required."),
        (PASSWORD + "\x00", "on", "Null characters are not allowed."),
        ("x" * 100_000, "on", "Ensure this value has at most 4096 characters"),
    ],
    ids=["wrong-password", "no-checkbox", "no-password", "nul-byte", "huge"],
)
def test_a_failed_confirmation_says_why_and_changes_nothing(
    alice_client, alice, alices_data, password, confirm, message
):
    before = alice_counts(alice)

    response = delete(alice_client, password, confirm)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert get_user(alice_client) == alice
    assert_alice_untouched(alice, before)
    assert default_storage.exists(alices_data["upload"].audio.name)


@pytest.mark.django_db
def test_a_get_never_deletes_even_with_the_fields_in_the_query(alice_client, alice):
    response = alice_client.get(reverse(DELETE_URL), {"password": PASSWORD, "confirm": "on"})

    assert response.status_code == 200
    assert User.objects.filter(pk=alice.pk).exists()


@pytest.mark.django_db
def test_deleting_without_a_csrf_token_is_forbidden(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = delete(client)

    assert response.status_code == 403
    assert User.objects.filter(pk=alice.pk).exists()


@pytest.mark.django_db
def test_bobs_password_cannot_delete_alices_account(alice_client, alice, bob):
    bob.set_password("bobs own password 42")
    bob.save()

    response = delete(alice_client, "bobs own password 42")

    assert response.status_code == 400
    assert User.objects.filter(pk=alice.pk).exists()
    assert User.objects.filter(pk=bob.pk).exists()


# Superusers: the last active one may not delete themselves, or nobody could reach the admin again.


@pytest.mark.django_db
def test_the_last_active_superuser_is_refused_with_a_reason(alice_client, alice, bob):
    User.objects.filter(pk=alice.pk).update(is_superuser=True, is_staff=True)
    User.objects.create_superuser("retired", "r@example.com", PASSWORD, is_active=False)

    page = alice_client.get(reverse(DELETE_URL))
    response = delete(alice_client)

    assert "You are the only active administrator" in page.content.decode()
    assert 'name="password"' not in page.content.decode()
    assert response.status_code == 400
    assert "You are the only active administrator" in response.content.decode()
    assert User.objects.filter(pk=alice.pk).exists()
    assert get_user(alice_client).is_authenticated


@pytest.mark.django_db
def test_a_superuser_may_delete_themselves_while_another_active_superuser_remains(alice_client, alice):
    User.objects.filter(pk=alice.pk).update(is_superuser=True, is_staff=True)
    User.objects.create_superuser("admin", "admin@example.com", PASSWORD)

    response = delete(alice_client)

    assert response.status_code == 302
    assert not User.objects.filter(pk=alice.pk).exists()
    assert User.objects.filter(username="admin").exists()


# The files of uploads: gone from storage once the deletion is committed


def wav_upload(name: str, seed: int) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    sf.write(buffer, synth_signal(seconds=ANALYSABLE_SECONDS, seed=seed, sample_rate=8000), 8000, format="WAV")
    return SimpleUploadedFile(name, buffer.getvalue())


def stored_files(media_root: Path) -> set[str]:
    return {path.relative_to(media_root).as_posix() for path in Path(media_root).rglob("*") if path.is_file()}


@pytest.mark.django_db(transaction=True)
def test_deleting_the_account_removes_the_files_of_her_uploads_and_no_one_elses(alice, bob, media_root, analysis_queue):
    alice_client, bob_client = Client(), Client()
    alice_client.force_login(alice)
    bob_client.force_login(bob)
    # Bob uploads the very recording Alice uploaded too: his copy must survive her leaving.
    uploads = [(alice_client, "mine.wav", 1), (alice_client, "same.wav", 2), (bob_client, "same.wav", 2)]
    for client, name, seed in uploads:
        assert client.post(reverse("recommender:upload"), {"audio": wav_upload(name, seed)}).status_code == 302
    alices_uploads = list(Song.objects.filter(owner=alice))
    bobs = Song.objects.get(owner=bob)
    for song in [*alices_uploads, bobs]:
        # What the analysis leaves behind, made by hand so that no model is needed.
        song.spectrogram.save(f"{song.content_hash}.png", ContentFile(b"\x89PNG\r\n\x1a\n"), save=True)
        embed(song, [1.0] + [0.0] * 199)
    catalogue_song = make_song(title="Everyone's")
    before = stored_files(media_root)
    alices_files = {name for song in alices_uploads for name in (song.audio.name, song.spectrogram.name)}
    assert len(alices_files) == 4 and alices_files <= before

    response = delete(alice_client)

    assert response.status_code == 302
    assert stored_files(media_root) == before - alices_files
    assert {bobs.audio.name, bobs.spectrogram.name, catalogue_song.audio.name} <= stored_files(media_root)
    assert not Embedding.objects.filter(song_id__in=[song.pk for song in alices_uploads]).exists()
    assert Embedding.objects.filter(song=bobs).exists()
    assert bob_client.get(reverse("catalog:song_audio", args=[bobs.pk])).status_code == 200
    assert bob_client.get(reverse("recommender:spectrogram", args=[bobs.pk])).status_code == 200


# In a real browser


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING)
@pytest.mark.django_db(transaction=True)
def test_in_a_browser_alice_downloads_her_data_then_deletes_her_account(page, alice, alices_data):
    from playwright.sync_api import expect

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Your data").click()
    expect(page.get_by_role("heading", name="Your data")).to_be_visible()
    page.screenshot(path="/tmp/musrec-account.png", full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download my data").click()
    assert download.value.suggested_filename == f"musrec-alice-{timezone.localdate().isoformat()}.json"
    assert json.loads(Path(download.value.path()).read_text())["uploads"][0]["title"] == "Alice Demo"

    page.get_by_role("link", name="Delete my account…").click()
    page.get_by_label("Your current password").fill(PASSWORD)
    page.get_by_role("button", name="Delete my account").click()
    # The browser itself refuses to send the form until "I understand" is ticked.
    expect(page).to_have_url(re.compile(r"/accounts/delete/$"))
    assert User.objects.filter(username="alice").exists()
    page.get_by_role("checkbox", name=re.compile("I understand")).check()
    page.screenshot(path="/tmp/musrec-account-delete.png", full_page=True)
    page.get_by_role("button", name="Delete my account").click()

    expect(page.get_by_text("The account “alice” and everything in it were deleted.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    assert not User.objects.filter(username="alice").exists()
