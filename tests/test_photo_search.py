"""'A photo → music': upload a photo, see its reading and the songs that match it (recommender/views_photo.py)."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from catalog.models import Playlist, PlaylistItem
from recommender.photos import Photo
from tests.test_account_data import delete
from tests.test_photo_mood import NAVY, ORANGE, bomb_png, encoded, photo_of
from tests.test_sounds_like_search import CALM, LOUD, make_described_song

URL = reverse("recommender:photo")
CALM_SAD = {**CALM, "msd:sad": 0.7, "msd:ambient": 0.7}
LOUD_HAPPY = {**LOUD, "msd:happy": 0.7, "msd:dance": 0.7, "msd:catchy": 0.6}


@pytest.fixture
def catalogue(db) -> None:
    make_described_song("Blue Hour", tags=CALM_SAD, seed=1, energy=0.1, loudness_db=-30.0, tempo_bpm=70.0)
    make_described_song("Night Drift", tags=CALM, seed=2, energy=0.2, loudness_db=-26.0, tempo_bpm=82.0)
    make_described_song("Sunburst", tags=LOUD_HAPPY, seed=3, energy=0.9, loudness_db=-6.0, tempo_bpm=138.0)
    make_described_song("Plain Song", tags={}, seed=4)


def upload(client, data: bytes, name: str = "photo.png", content_type: str = "image/png"):
    return client.post(URL, {"photo": SimpleUploadedFile(name, data, content_type=content_type)})


def titles(response) -> list[str]:
    return re.findall(r'<td class="title">.*?<a href="[^"]+">([^<]+)</a>', response.content.decode(), re.S)


def uploaded(client, colour: tuple[int, int, int]) -> Photo:
    response = upload(client, encoded(photo_of(colour), "JPEG"), "photo.jpg", "image/jpeg")
    assert response.status_code == 302
    return Photo.objects.latest("pk")


def test_it_needs_a_signed_in_person(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_page_offers_an_upload_form(alice_client):
    response = alice_client.get(URL)
    assert response.status_code == 200
    content = response.content.decode()
    assert 'type="file"' in content and 'name="photo"' in content and 'enctype="multipart/form-data"' in content
    assert "JPEG, PNG or WebP" in content


def test_a_dark_blue_photo_gets_calm_songs_and_an_orange_one_lively_songs(alice_client, alice, catalogue):
    blue = uploaded(alice_client, NAVY)
    assert blue.owner == alice
    response = alice_client.get(reverse("recommender:photo_detail", args=[blue.pk]))
    assert response.status_code == 200
    assert titles(response)[0] == "Blue Hour"
    assert titles(response).index("Night Drift") < titles(response).index("Sunburst")
    content = response.content.decode()
    assert "dark" in content and "cold" in content
    assert content.count('class="swatch"') == len(blue.statistics["palette"]) >= 1
    assert "Play all" in content and "Save as playlist" in content

    orange = uploaded(alice_client, ORANGE)
    response = alice_client.get(reverse("recommender:photo_detail", args=[orange.pk]))
    assert titles(response)[0] == "Sunburst"
    assert "warm" in response.content.decode()


def test_a_nudge_reranks_without_uploading_again(alice_client, catalogue):
    blue = uploaded(alice_client, NAVY)
    url = reverse("recommender:photo_detail", args=[blue.pk])
    response = alice_client.get(url, {"brighter": 4, "livelier": 4}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    content = response.content.decode()
    assert content.lstrip().startswith('<section id="results"')  # the fragment only
    assert titles(response)[0] == "Sunburst"
    assert "nudged" in content
    assert Photo.objects.count() == 1


def test_nonsense_slider_values_are_read_as_no_nudge(alice_client, catalogue):
    blue = uploaded(alice_client, NAVY)
    response = alice_client.get(reverse("recommender:photo_detail", args=[blue.pk]), {"brighter": "x", "livelier": ""})
    assert response.status_code == 200
    assert titles(response)[0] == "Blue Hour"


def test_saving_makes_a_private_playlist_of_the_songs_shown(alice_client, alice, catalogue):
    blue = uploaded(alice_client, NAVY)
    shown = titles(alice_client.get(reverse("recommender:photo_detail", args=[blue.pk])))
    response = alice_client.post(reverse("recommender:photo_save", args=[blue.pk]), {"name": "Blue hour"})
    playlist = Playlist.objects.get(owner=alice)
    assert response.status_code == 302 and response["Location"] == playlist.get_absolute_url()
    assert playlist.name == "Blue hour" and not playlist.is_public
    saved = list(
        PlaylistItem.objects.filter(playlist=playlist).order_by("position").values_list("song__title", flat=True)
    )
    assert saved == shown


def test_what_is_kept_is_a_small_reencoded_thumbnail_without_metadata(alice_client, catalogue):
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"
    exif[0x0112] = 6  # upright, the 1200 x 800 photo is 800 x 1200
    data = encoded(photo_of(NAVY, size=(1200, 800)), "JPEG", exif=exif)
    response = upload(alice_client, data, "photo.jpg", "image/jpeg")
    assert response.status_code == 302
    photo = Photo.objects.get()
    stored = bytes(photo.thumbnail)
    assert b"SecretCam" not in stored and b"Exif" not in stored
    assert (photo.width, photo.height) == (320, 480)
    thumbnail = alice_client.get(reverse("recommender:photo_thumbnail", args=[photo.pk]))
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumbnail.content)).size == (320, 480)
    assert "private" in thumbnail["Cache-Control"]


def test_another_persons_photo_is_not_found(alice_client, bob_client, catalogue):
    blue = uploaded(alice_client, NAVY)
    for name in ("photo_detail", "photo_thumbnail"):
        assert bob_client.get(reverse(f"recommender:{name}", args=[blue.pk])).status_code == 404
    assert bob_client.post(reverse("recommender:photo_save", args=[blue.pk]), {"name": "Mine"}).status_code == 404
    assert bob_client.post(reverse("recommender:photo_delete", args=[blue.pk])).status_code == 404
    assert not Playlist.objects.exists()
    page = bob_client.get(URL).content.decode()
    assert "Your photos" not in page and reverse("recommender:photo_thumbnail", args=[blue.pk]) not in page
    assert Photo.objects.filter(pk=blue.pk).exists()
    assert reverse("recommender:photo_detail", args=[blue.pk]) in alice_client.get(URL).content.decode()


def test_the_owner_can_delete_a_photo(alice_client, catalogue):
    blue = uploaded(alice_client, NAVY)
    response = alice_client.post(reverse("recommender:photo_delete", args=[blue.pk]))
    assert response.status_code == 302
    assert not Photo.objects.exists()


@pytest.mark.parametrize(
    ("data", "name", "content_type", "status", "message"),
    [
        (b"%PDF-1.4 not a picture", "photo.jpg", "image/jpeg", 400, "not a photo Musrec can read"),
        (encoded(photo_of(NAVY), "GIF"), "photo.gif", "image/gif", 400, "send a JPEG, PNG or WebP"),
        (encoded(photo_of(NAVY), "BMP"), "photo.bmp", "image/bmp", 400, "send a JPEG, PNG or WebP"),
        (encoded(photo_of(NAVY, size=(400, 300)), "JPEG")[:1500], "photo.jpg", "image/jpeg", 400, "damaged"),
        (bomb_png(60_000, 60_000), "bomb.png", "image/png", 400, "too many pixels"),
        (b"\xff\xd8" + b"\x00" * (10 * 1024 * 1024 + 10), "huge.jpg", "image/jpeg", 413, "larger than 10 MB"),
    ],
    ids=["not-an-image", "gif", "bmp", "truncated-jpeg", "decompression-bomb", "huge-file"],
)
def test_a_bad_file_is_refused_with_a_clear_message_and_nothing_kept(
    alice_client, data, name, content_type, status, message
):
    response = upload(alice_client, data, name, content_type)
    assert response.status_code == status
    assert message in response.content.decode()
    assert 'role="alert"' in response.content.decode()
    assert not Photo.objects.exists()


def test_too_many_photos_in_an_hour_are_refused(alice_client, bob_client, monkeypatch, one_rate_window):
    monkeypatch.setattr("recommender.views_photo.PHOTOS_PER_HOUR", 2)
    data = encoded(photo_of(NAVY), "PNG")
    assert [upload(alice_client, data).status_code for _ in range(3)] == [302, 302, 429]
    assert "Too many photos" in upload(alice_client, data).content.decode()
    assert upload(bob_client, data).status_code == 302  # counted per person
    assert Photo.objects.count() == 3


def test_sending_no_file_says_what_is_missing(alice_client):
    response = alice_client.post(URL, {})
    assert response.status_code == 400
    assert "Choose a photo" in response.content.decode()
    assert not Photo.objects.exists()


def test_the_account_data_counts_exports_and_deletes_photos(alice_client, alice, bob_client, catalogue):
    uploaded(alice_client, NAVY)
    bobs = uploaded(bob_client, ORANGE)
    assert alice_client.get(reverse("account_data")).context["summary"]["photos"] == 1
    exported = alice_client.get(reverse("account_data_download")).json()["photos"]
    assert len(exported) == 1 and exported[0]["reading"].startswith("dark")
    assert exported[0]["thumbnail_url"].startswith("http")

    response = delete(alice_client)
    assert response.status_code == 302
    assert list(Photo.objects.values_list("pk", flat=True)) == [bobs.pk]


def test_a_person_keeps_a_bounded_number_of_photos(alice_client, bob_client, monkeypatch):
    monkeypatch.setattr("recommender.views_photo.MAX_PHOTOS", 2)
    data = encoded(photo_of(NAVY), "PNG")
    assert [upload(alice_client, data).status_code for _ in range(3)] == [302, 302, 400]
    assert "delete one to add another" in upload(alice_client, data).content.decode()
    assert upload(bob_client, data).status_code == 302  # counted per person
    assert Photo.objects.count() == 3
