"""The home page (issue 11 §5): a visitor's landing with demo covers, and a signed-in person's shelves."""

from __future__ import annotations

import re
from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from catalog.models import Album, Genre, Play, Playlist, Rating, Song
from recommender.artwork import song_cover_url
from tests.factories import embed, make_song

pytestmark = pytest.mark.django_db

D = 200
KINDS = ("Forest", "Desert", "City")


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


@pytest.fixture
def catalogue() -> dict[str, list[Song]]:
    """Two albums of three analysed catalogue songs of each kind, tagged with the kind as genre."""
    rng = np.random.default_rng(5)
    songs: dict[str, list[Song]] = {}
    for kind in KINDS:
        direction = unit(rng.standard_normal(D))
        songs[kind] = []
        for number in (1, 2):
            album = Album.objects.create(title=f"{kind} Album {number}")
            for track in (1, 2, 3):
                song = make_song(
                    title=f"{kind} {number}.{track}",
                    artist=f"{kind} Artist {number}.{track}",
                    album=album,
                    track_number=track,
                    genres=[kind],
                )
                songs[kind].append(embed(song, direction + 0.3 * unit(rng.standard_normal(D))))
    return songs


@pytest.fixture
def bobs_things(bob) -> dict[str, object]:
    """Bob's private upload (with a genre of its own and one the catalogue has), a shared upload of his, a
    playlist, plays and likes of a catalogue song, and a favourite genre."""
    private = embed(
        make_song(title="Bob Secret Demo", owner=bob, in_catalogue=False, genres=["Bobcore", "Forest"]),
        unit(np.ones(D)),
    )
    shared = embed(make_song(title="Bob Shared Tune", owner=bob, in_catalogue=True), unit(np.arange(D) + 1.0))
    heard = make_song(title="Bob Heard This")
    Play.objects.create(user=bob, song=heard, seconds_listened=10, completed=True)
    Rating.objects.rate(bob, heard, Rating.LIKE)
    playlist = Playlist.objects.create_with_songs(owner=bob, name="Bob Party Mix", songs=[private, heard])
    return {"private": private, "shared": shared, "heard": heard, "playlist": playlist}


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def section(page: str, heading_id: str) -> str:
    """The HTML of the home page's section headed by ``heading_id`` (empty when there is none)."""
    match = re.search(rf'<section[^>]*aria-labelledby="{heading_id}".*?</section>', page, re.S)
    return match.group(0) if match else ""


def for_you_shelf(client: Client) -> str:
    """The For you shelf as the home page asks for it once shown (htmx, targeting its placeholder)."""
    response = client.get("/", headers={"HX-Request": "true", "HX-Target": "home-for-you"})
    html = text(response)
    assert "<html" not in html and 'id="home-for-you"' in html
    return html


def card_titles(html: str) -> list[str]:
    return re.findall(r'<a class="name" href="[^"]+">([^<]+)</a>', html)


def cover_sources(html: str) -> list[str]:
    return re.findall(r'<img class="cover" src="([^"]+)"', html)


# --- A visitor ---------------------------------------------------------------------------------------------


def test_a_visitor_sees_what_musrec_is_and_how_to_join_not_a_login_form(catalogue):
    page = text(Client().get("/"))

    assert "Find music by how it sounds" in page
    assert "recommends the songs that sound like the ones you love" in page
    assert f'href="{reverse("signup")}"' in page and f'href="{reverse("login")}"' in page
    assert 'name="password"' not in page
    assert "18 songs" in page


def test_a_visitors_landing_shows_covers_of_imported_catalogue_songs_only(catalogue, bobs_things):
    page = text(Client().get("/"))

    landing = re.search(r'<ul class="landing-covers".*?</ul>', page, re.S).group(0)
    shown = cover_sources(landing)
    assert len(shown) == 6  # one per album
    for kind in KINDS:
        assert f"{kind} Album 1" in landing and f"{kind} Album 2" in landing
    for song in (bobs_things["private"], bobs_things["shared"]):
        assert song.title not in page
        assert song_cover_url(Song.objects.select_related("album").get(pk=song.pk), 256) not in page


def test_a_visitor_may_fetch_the_landing_covers_but_no_uploads_cover(catalogue, bobs_things, bob):
    visitor = Client()
    landing = re.search(r'<ul class="landing-covers".*?</ul>', text(visitor.get("/")), re.S).group(0)

    for url in cover_sources(landing):
        response = visitor.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"] == "image/jpeg"
    bob_client = Client()
    bob_client.force_login(bob)
    for upload in (bobs_things["private"], bobs_things["shared"]):
        url = song_cover_url(Song.objects.select_related("album").get(pk=upload.pk), 128)
        assert visitor.get(url).status_code == 404
        assert visitor.get(reverse("recommender:song_cover_now", args=[upload.pk, 128])).status_code == 404
        assert bob_client.get(url).status_code == 200  # his own, as before
    # A visitor still cannot open a song, its audio or the catalogue.
    song = catalogue["City"][0]
    for url in (song.get_absolute_url(), reverse("catalog:song_audio", args=[song.pk]), reverse("catalog:song_list")):
        assert visitor.get(url).status_code == 302


# --- Signed in ---------------------------------------------------------------------------------------------


def test_the_catalogue_moved_to_songs_and_the_brand_and_menu_lead_home(alice_client, catalogue):
    assert reverse("catalog:song_list") == "/songs/"
    assert reverse("recommender:home") == "/"
    page = text(alice_client.get("/"))

    assert '<a class="brand" href="/">' in page
    nav = re.search(r'<nav aria-label="Main">.*?</nav>', page, re.S).group(0)
    assert re.findall(r'<a href="([^"]+)">(Home|Browse)</a>', nav) == [("/", "Home"), ("/songs/", "Browse")]
    assert "<title>Home · Musrec</title>" in page


def test_continue_listening_shows_each_song_once_the_latest_first(alice_client, alice, catalogue):
    forest, desert, city = catalogue["Forest"][0], catalogue["Desert"][0], catalogue["City"][0]
    now = timezone.now()
    for minutes, song in ((50, city), (40, forest), (30, desert), (20, forest), (10, forest)):
        Play.objects.create(user=alice, song=song, played_at=now - timedelta(minutes=minutes), seconds_listened=5)

    page = text(alice_client.get("/"))

    shelf = section(page, "continue-heading")
    assert card_titles(shelf) == [forest.title, desert.title, city.title]
    assert "data-queue" in shelf and f'aria-label="Play {forest.title}"' in shelf
    assert f'href="{reverse("catalog:history")}"' in shelf


def test_the_signed_in_home_has_every_section_with_its_see_all_link(alice_client, alice, catalogue):
    liked = catalogue["Forest"][:2]
    for song in liked:
        Rating.objects.rate(alice, song, Rating.LIKE)
    upload = make_song(title="Alice Own Upload", owner=alice, in_catalogue=False)
    playlist = Playlist.objects.create_with_songs(owner=alice, name="Alice Road Trip", songs=catalogue["City"][:3])
    Playlist.objects.create(owner=alice, name="Alice Empty List")
    Play.objects.create(user=alice, song=catalogue["Desert"][0], seconds_listened=5)

    page = text(alice_client.get("/"))

    placeholder = section(page, "for-you-heading")
    assert 'hx-get="/" hx-trigger="load"' in placeholder and not card_titles(placeholder)
    for_you = section(for_you_shelf(alice_client), "for-you-heading")
    assert card_titles(for_you), "For you lists songs"
    assert all(title.startswith("Forest") for title in card_titles(for_you)[:2])
    assert not set(card_titles(for_you)) & {song.title for song in liked}
    assert "Because you liked" in for_you and 'class="play-all"' in for_you
    assert f'href="{reverse("recommender:for_you")}"' in for_you
    recent = section(page, "recent-heading")
    newest = Song.objects.catalogue().order_by("-added_at", "-pk")[:12]
    assert card_titles(recent) == [song.title for song in newest]
    assert f'href="{reverse("catalog:song_list")}?sort=-added"' in recent
    uploads = section(page, "uploads-heading")
    assert card_titles(uploads) == ["Alice Own Upload"]
    assert song_cover_url(Song.objects.select_related("album").get(pk=upload.pk), 256) in uploads
    playlists = section(page, "playlists-heading")
    assert sorted(card_titles(playlists)) == ["Alice Empty List", "Alice Road Trip"]
    assert "3 songs" in playlists and "0 songs" in playlists
    assert reverse("catalog:playlist_queue", args=[playlist.pk]) in playlists
    assert song_cover_url(Song.objects.select_related("album").get(pk=catalogue["City"][0].pk), 256) in playlists
    assert card_titles(section(page, "continue-heading")) == [catalogue["Desert"][0].title]
    assert "Tell Musrec what you like" not in page


def test_browse_by_genre_counts_catalogue_songs_and_links_to_browse(alice_client, catalogue):
    Genre.objects.named("Empty Genre")  # a genre no song carries is not offered
    make_song(title="Deep Forest", genres=["Deep Forest"])
    Genre.objects.filter(name="Deep Forest").update(parent=Genre.objects.get(name="Forest"))

    page = text(alice_client.get("/"))

    chips = re.findall(r'<a href="/songs/\?genre=([^"]+)">([^<]+) <span class="count">(\d+)</span></a>', page)
    assert chips == [("forest", "Forest", "7"), ("city", "City", "6"), ("desert", "Desert", "6")]
    forest = alice_client.get(reverse("catalog:song_list"), {"genre": "forest"})
    assert forest.context["page"].paginator.count == 7


def test_bobs_uploads_playlists_history_and_tags_never_reach_alices_home(alice_client, alice, catalogue, bobs_things):
    Rating.objects.rate(alice, catalogue["City"][0], Rating.LIKE)

    page = text(alice_client.get("/"))

    for words in ("Bob Secret Demo", "Bob Party Mix", "Bobcore", "bobcore"):
        assert words not in page
    assert card_titles(section(page, "continue-heading")) == []
    assert "Bob Heard This" not in for_you_shelf(alice_client)  # Bob's like is not Alice's reason
    assert "Because you liked “Bob" not in page
    assert card_titles(section(page, "uploads-heading")) == []
    assert card_titles(section(page, "playlists-heading")) == []
    # His private upload is tagged Forest too, and is not counted.
    assert '<a href="/songs/?genre=forest">Forest <span class="count">6</span></a>' in page
    # His shared upload is in the catalogue now: everyone sees it among the songs recently added.
    assert "Bob Shared Tune" in card_titles(section(page, "recent-heading"))


# --- A new person's first minute ---------------------------------------------------------------------------


def test_a_new_person_is_asked_to_pick_songs_and_then_gets_music_to_play(alice_client, alice, catalogue):
    page = text(alice_client.get("/"))

    assert "Tell Musrec what you like" in page
    start = re.search(r'<section class="start" id="start">.*?</section>', page, re.S).group(0)
    assert f'action="{reverse("recommender:for_you_start")}"' in start
    sample = re.findall(r'name="songs" value="(\d+)"', start)
    assert len(sample) == 6
    assert len(re.findall(r'<button type="button" class="play"', start)) == 6  # each plays before picking
    assert re.findall(r'name="genres" value="([^"]+)"', start) == ["city", "desert", "forest"]
    assert f'href="{reverse("recommender:upload")}"' in page
    assert "for-you-heading" not in page

    picked = [pk for pk in sample if Song.objects.get(pk=pk).title.startswith("Desert")]
    response = alice_client.post(reverse("recommender:for_you_start"), {"songs": picked}, follow=True)

    assert response.redirect_chain == [(reverse("recommender:for_you"), 302)]
    for_you_page = text(response)
    assert '<button type="button" class="play-all">▶ Play all</button>' in for_you_page  # one click plays them
    assert response.context["songs"] and all(s.title.startswith("Desert") for s in response.context["songs"][:3])
    home = text(alice_client.get("/"))
    assert "Tell Musrec what you like" not in home
    suggested = card_titles(section(for_you_shelf(alice_client), "for-you-heading"))
    assert suggested and suggested[0].startswith("Desert")


def test_picking_a_genre_on_home_is_enough_to_get_for_you(alice_client, alice, catalogue):
    alice_client.post(reverse("recommender:for_you_start"), {"genres": ["city"]})

    shelf = section(for_you_shelf(alice_client), "for-you-heading")
    assert [title.split()[0] for title in card_titles(shelf)[:6]] == ["City"] * 6
    assert "Because you like City" in shelf


def test_someone_whose_history_says_nothing_yet_gets_the_chooser_where_for_you_would_be(alice_client, alice, catalogue):
    # Stopped halfway: neither a completed play nor a skip, so nothing For you could go on.
    Play.objects.create(user=alice, song=catalogue["City"][0], seconds_listened=40)

    page = text(alice_client.get("/"))
    shelf = for_you_shelf(alice_client)

    assert "Tell Musrec what you like" not in page and 'id="home-for-you"' in page
    assert "Tell Musrec what you like" in shelf and 'name="songs"' in shelf


# --- Cost --------------------------------------------------------------------------------------------------


def test_the_home_costs_the_same_queries_however_long_the_history(alice_client, alice, catalogue):
    heard = catalogue["Forest"][:4]
    # One kind of music, however often heard: For you asks once per kind (at most taste.MAX_CENTRES), not per play.
    Playlist.objects.create_with_songs(owner=alice, name="Mix", songs=heard[:2])
    Playlist.objects.create(owner=alice, name="Empty")
    make_song(title="Alice Upload", owner=alice, in_catalogue=False)

    def queries_for_home(plays: int) -> int:
        Play.objects.filter(user=alice).delete()
        start = timezone.now() - timedelta(days=30)
        Play.objects.bulk_create(
            Play(
                user=alice,
                song=heard[i % len(heard)],
                played_at=start + timedelta(minutes=i),
                seconds_listened=heard[i % len(heard)].duration,
                completed=True,
            )
            for i in range(plays)
        )
        # The caches (genre menu, starter songs, song count, the catalogue's sample of similarities) are filled once.
        alice_client.get("/")
        for_you_shelf(alice_client)
        with CaptureQueriesContext(connection) as page_queries:
            page = text(alice_client.get("/"))
        with CaptureQueriesContext(connection) as shelf_queries:
            shelf = for_you_shelf(alice_client)
        assert card_titles(section(page, "continue-heading")) == [song.title for song in reversed(heard)]
        assert card_titles(section(shelf, "for-you-heading"))
        return len(page_queries), len(shelf_queries)

    assert queries_for_home(4) == queries_for_home(400)


def test_a_shared_uploads_picture_on_an_imported_songs_album_is_not_shown_to_visitors(catalogue, bob):
    """Sharing an upload with a picture gives its album that picture, and so the album's imported songs: signed in,
    everyone sees it as the album's cover; a visitor never gets it, and the landing leaves that album out."""
    from catalog.importer import publish_upload
    from catalog.models import Cover
    from tests.factories import jpeg

    imported = catalogue["City"][0]
    picture = Cover.objects.for_picture(jpeg(colour=(10, 200, 30)))
    upload = make_song(title="Bob's shared", owner=bob, in_catalogue=False, album=imported.album, cover=picture)
    publish_upload(upload)
    imported = Song.objects.select_related("album").get(pk=imported.pk)
    assert imported.album.cover_id == picture.pk
    url = song_cover_url(imported, 128)

    visitor = Client()
    assert visitor.get(url).status_code == 404
    assert url not in text(visitor.get("/"))
    signed_in = Client()
    signed_in.force_login(bob)
    assert signed_in.get(url).status_code == 200
