from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import Album, Genre
from tests.factories import make_song

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def titles(response) -> list[str]:
    return [song.title for song in response.context["page"].object_list]


def browse(client, **params: str):
    return client.get(reverse("catalog:song_list"), params)


@pytest.fixture
def genre_tree(db) -> dict[str, Genre]:
    """Rock › Punk rock › Hardcore punk, and Jazz beside them."""
    rock = Genre.objects.create(name="Rock")
    punk = Genre.objects.create(name="Punk rock", parent=rock)
    hardcore = Genre.objects.create(name="Hardcore punk", parent=punk)
    jazz = Genre.objects.create(name="Jazz")
    return {"rock": rock, "punk": punk, "hardcore": hardcore, "jazz": jazz}


def test_an_empty_catalogue_says_how_to_import_music(alice_client):
    response = browse(alice_client)

    assert response.status_code == 200
    assert "The catalogue is empty." in response.content.decode()


def test_the_first_page_holds_page_size_songs_and_page_two_the_rest(alice_client, settings):
    settings.MUSREC_PAGE_SIZE = 3
    for n in range(5):
        make_song(title=f"Track {n}")

    first = browse(alice_client)
    second = browse(alice_client, page="2")

    assert titles(first) == ["Track 0", "Track 1", "Track 2"]
    assert titles(second) == ["Track 3", "Track 4"]
    assert "Page 1 of 2" in first.content.decode()
    assert "Next ›" in first.content.decode()
    assert "‹ Previous" in second.content.decode()


def test_pager_links_keep_the_search_and_sort(alice_client, settings):
    settings.MUSREC_PAGE_SIZE = 1
    make_song(title="Blue one")
    make_song(title="Blue two")

    response = browse(alice_client, q="blue", sort="-title")

    body = response.content.decode()
    assert 'href="?q=blue&amp;sort=-title&amp;page=2"' in body
    assert 'hx-get="?q=blue&amp;sort=-title&amp;page=2"' in body


@pytest.mark.parametrize(("page", "expected"), [("abc", 1), ("999", 2), ("-1", 2), ("0", 2), ("", 1), ("1.5", 1)])
def test_a_page_number_that_is_not_a_page_shows_the_first_or_last_page(alice_client, settings, page, expected):
    settings.MUSREC_PAGE_SIZE = 2
    for n in range(3):
        make_song(title=f"Track {n}")

    response = browse(alice_client, page=page)

    assert response.status_code == 200
    assert response.context["page"].number == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("title", ["apple", "Banana", "cherry"]),
        ("-title", ["cherry", "Banana", "apple"]),
        ("artist", ["Banana", "cherry", "apple"]),
        ("-artist", ["apple", "cherry", "Banana"]),
        ("added", ["Banana", "cherry", "apple"]),
        ("-added", ["apple", "cherry", "Banana"]),
        ("", ["apple", "Banana", "cherry"]),
        ("nonsense", ["apple", "Banana", "cherry"]),
        ("-added_at; DROP TABLE catalog_song", ["apple", "Banana", "cherry"]),
    ],
)
def test_songs_sort_by_title_artist_or_date_added_either_way(alice_client, sort, expected):
    make_song(title="Banana", artist="ABBA")
    make_song(title="cherry", artist="björk")
    make_song(title="apple", artist="Zappa")

    response = browse(alice_client, sort=sort)

    assert response.status_code == 200
    assert titles(response) == expected


def test_the_genre_filter_includes_every_sub_genre(alice_client, genre_tree):
    make_song(title="Anthem", genres=["Rock"])
    make_song(title="Blitzkrieg", genres=["Punk rock"])
    make_song(title="Straight Edge", genres=["Hardcore punk"])
    make_song(title="So What", genres=["Jazz"])
    make_song(title="Untagged")

    rock = browse(alice_client, genre=genre_tree["rock"].slug)
    punk = browse(alice_client, genre=genre_tree["punk"].slug)

    assert titles(rock) == ["Anthem", "Blitzkrieg", "Straight Edge"]
    assert titles(punk) == ["Blitzkrieg", "Straight Edge"]
    assert "3 results in Rock" in rock.content.decode()


def test_a_song_in_a_genre_and_its_sub_genre_is_listed_once(alice_client, genre_tree):
    make_song(title="Both", genres=["Rock", "Punk rock"])

    response = browse(alice_client, genre=genre_tree["rock"].slug)

    assert titles(response) == ["Both"]
    assert response.context["page"].paginator.count == 1


def test_the_genre_filter_combines_with_search(alice_client, genre_tree):
    make_song(title="Ocean Rock", genres=["Rock"])
    make_song(title="Ocean Punk", genres=["Hardcore punk"])
    make_song(title="Ocean Jazz", genres=["Jazz"])
    make_song(title="Desert Rock", genres=["Rock"])

    response = browse(alice_client, q="ocean", genre=genre_tree["rock"].slug)

    assert sorted(titles(response)) == ["Ocean Punk", "Ocean Rock"]


def test_the_genre_filter_combines_with_sorting(alice_client, genre_tree):
    make_song(title="Anthem", genres=["Rock"])
    make_song(title="Blitzkrieg", genres=["Punk rock"])
    make_song(title="So What", genres=["Jazz"])

    response = browse(alice_client, genre=genre_tree["rock"].slug, sort="-title")

    assert titles(response) == ["Blitzkrieg", "Anthem"]


@pytest.mark.parametrize("slug", ["no-such-genre", "rock'; --", "%00", "\x00", "a" * 5000])
def test_an_unknown_genre_is_ignored_and_every_song_is_shown(alice_client, genre_tree, slug):
    """A stale link to a genre that was deleted or renamed shows the whole catalogue, as the
    genre menu (which falls back to "All genres") says, rather than an empty page."""
    make_song(title="Anthem", genres=["Rock"])
    make_song(title="So What", genres=["Jazz"])

    response = browse(alice_client, genre=slug)

    assert response.status_code == 200
    assert titles(response) == ["Anthem", "So What"]
    assert response.context["genre"] is None


def test_the_genre_menu_lists_genres_with_songs_under_their_parent(alice_client, genre_tree):
    make_song(title="Blitzkrieg", genres=["Punk rock"])

    page = browse(alice_client).content.decode()

    assert "Rock › Punk rock (1)" in page
    assert "Jazz" not in page


def test_the_genre_menu_offers_a_broader_genre_counting_the_songs_below_it(alice_client, genre_tree):
    make_song(title="Anthem", genres=["Rock"])
    make_song(title="Blitzkrieg", genres=["Punk rock"])
    make_song(title="Straight Edge", genres=["Hardcore punk", "Punk rock"])
    make_song(title="So What", genres=["Jazz"])

    menu = {genre.name: genre.song_count for genre in browse(alice_client).context["genres"]}

    assert menu == {"Rock": 3, "Punk rock": 2, "Hardcore punk": 1, "Jazz": 1}


def test_the_genre_menu_shows_a_broader_genre_that_has_no_songs_of_its_own(alice_client, genre_tree):
    make_song(title="Straight Edge", genres=["Hardcore punk"])

    page = browse(alice_client).content.decode()

    assert f'<option value="{genre_tree["rock"].slug}">Rock (1)</option>' in page


def test_an_htmx_request_gets_only_the_results_fragment(alice_client):
    make_song(title="Wesnoth")

    response = alice_client.get(reverse("catalog:song_list"), {"q": "wesnoth"}, headers=HTMX)

    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="results"')
    assert "Wesnoth" in body
    assert "<html" not in body
    assert '<form class="filters"' not in body  # rows carry their own like/dislike forms


def test_search_as_you_type_does_not_count_the_genre_tree_again(alice_client):
    make_song(title="Wesnoth", genres=["Rock"])

    with CaptureQueriesContext(connection) as queries:
        alice_client.get(reverse("catalog:song_list"), {"q": "wesn"}, headers=HTMX)

    assert not [q for q in queries.captured_queries if "WITH RECURSIVE" in q["sql"]]


def test_a_normal_request_gets_the_full_page(alice_client):
    make_song(title="Wesnoth")

    body = browse(alice_client, q="wesnoth").content.decode()

    assert "<html" in body
    assert 'id="search"' in body
    assert '<section id="results"' in body
    assert "Wesnoth" in body


def test_an_htmx_history_restore_gets_the_full_page(alice_client):
    """On a history cache miss htmx 2 reloads the URL with HX-Request *and* HX-History-Restore-Request
    and swaps the answer into <body>: a bare fragment there would lose the header and search form."""
    make_song(title="Wesnoth")

    response = alice_client.get(
        reverse("catalog:song_list"), {"q": "wesnoth"}, headers={**HTMX, "HX-History-Restore-Request": "true"}
    )

    assert "<html" in response.content.decode()


def test_the_list_tells_caches_that_it_varies_with_htmx(alice_client):
    """The fragment and the full page share one URL (hx-push-url), so a cache must key them apart."""
    response = browse(alice_client)

    assert "HX-Request" in response["Vary"]


def test_song_titles_are_escaped(alice_client):
    make_song(title="<script>alert('x')</script>")

    body = browse(alice_client).content.decode()

    assert "<script>alert" not in body
    assert "&lt;script&gt;alert" in body


@pytest.mark.parametrize("page", ["song_detail", "song_audio", "song_licence"])
@pytest.mark.parametrize("pk", [999_999, 2**63, 10**30])
def test_an_unknown_song_is_a_404(alice_client, page, pk):
    response = alice_client.get(reverse(f"catalog:{page}", args=[pk]))

    assert response.status_code == 404


def test_the_song_page_shows_its_facts(alice_client):
    album = Album.objects.create(title="Signals")
    song = make_song(title="Wave", artist="Ada", album=album, track_number=3, duration=125, genres=["Ambient"])

    response = alice_client.get(song.get_absolute_url())

    body = response.content.decode()
    assert response.status_code == 200
    artist_url, album_url = (
        reverse("recommender:artist", args=[song.artist_id]),
        reverse("recommender:album", args=[album.pk]),
    )
    assert f'<a href="{artist_url}">Ada</a> · <a href="{album_url}">Signals</a>, track 3 · 2:05' in body
    assert f'src="{reverse("catalog:song_audio", args=[song.pk])}"' in body
    assert f'href="{reverse("catalog:song_list")}?genre=ambient"' in body


def test_the_song_page_shows_licence_attribution_and_a_link_to_the_full_notice(alice_client):
    song = make_song(
        title="Battle Theme",
        licence="CC-BY-SA 3.0",
        attribution="Music by Jane Doe\n<b>bold</b> claims",
        source="https://example.com/wesnoth",
    )
    song.licence_file.save("COPYING.txt", ContentFile("Full notice: © Jane Doe, CC-BY-SA 3.0\n".encode()))

    body = alice_client.get(song.get_absolute_url()).content.decode()
    notice = alice_client.get(reverse("catalog:song_licence", args=[song.pk]))

    assert "CC-BY-SA 3.0" in body
    assert "Music by Jane Doe<br>&lt;b&gt;bold&lt;/b&gt; claims" in body
    assert "https://example.com/wesnoth" in body
    assert f'<a href="{reverse("catalog:song_licence", args=[song.pk])}">full copyright notice</a>' in body
    assert notice.status_code == 200
    assert notice["Content-Type"] == "text/plain; charset=utf-8"
    assert notice.content.decode() == "Full notice: © Jane Doe, CC-BY-SA 3.0\n"


def test_a_song_without_a_licence_file_has_no_notice_link_and_no_notice(alice_client):
    song = make_song(licence="")

    body = alice_client.get(song.get_absolute_url()).content.decode()
    notice = alice_client.get(reverse("catalog:song_licence", args=[song.pk]))

    assert "Unknown" in body
    assert "full copyright notice" not in body
    assert notice.status_code == 404


def test_a_licence_file_missing_from_storage_is_a_404(alice_client):
    song = make_song()
    song.licence_file.save("COPYING.txt", ContentFile(b"notice"))
    song.licence_file.storage.delete(song.licence_file.name)

    response = alice_client.get(reverse("catalog:song_licence", args=[song.pk]))

    assert response.status_code == 404


@pytest.mark.parametrize("page", ["song_list", "song_detail", "song_audio", "song_licence"])
def test_catalogue_pages_refuse_to_be_posted_to(alice_client, page):
    song = make_song()
    url = reverse(f"catalog:{page}", args=[] if page == "song_list" else [song.pk])

    assert alice_client.post(url).status_code == 405


# The catalogue's figures and pages are kept in the cache (docs/benchmarks.md, "Load"); a change shows at once.


def test_a_song_added_after_the_page_was_drawn_is_listed_and_counted_at_once(alice_client):
    make_song(title="Already There")
    assert titles(browse(alice_client)) == ["Already There"]

    make_song(title="Arrived Later")
    response = browse(alice_client)

    assert titles(response) == ["Already There", "Arrived Later"]
    assert response.context["total_songs"] == 2


def test_a_search_asked_before_finds_a_song_added_since(alice_client):
    assert titles(browse(alice_client, q="heron")) == []

    make_song(title="Grey Heron")

    assert titles(browse(alice_client, q="heron")) == ["Grey Heron"]


def test_the_genre_menu_counts_a_song_tagged_after_it_was_drawn(alice_client, genre_tree):
    song = make_song(genres=["Jazz"])
    assert {g.name: g.song_count for g in browse(alice_client).context["genres"]} == {"Jazz": 1}

    song.genres.add(genre_tree["hardcore"])
    make_song(genres=["Jazz"])

    counts = {g.name: g.song_count for g in browse(alice_client).context["genres"]}
    assert counts == {"Jazz": 2, "Hardcore punk": 1, "Punk rock": 1, "Rock": 1}


def test_a_song_deleted_after_the_page_was_drawn_is_gone_at_once(alice_client):
    make_song(title="Kept")
    deleted = make_song(title="Deleted")
    assert titles(browse(alice_client)) == ["Deleted", "Kept"]

    deleted.delete()
    response = browse(alice_client)

    assert titles(response) == ["Kept"]
    assert response.context["total_songs"] == 1


def test_a_page_asked_again_is_not_counted_and_ranked_again(alice_client):
    for i in range(3):
        make_song(title=f"Heron {i}")
    first = browse(alice_client, q="heron")

    with CaptureQueriesContext(connection) as queries:
        again = browse(alice_client, q="heron")

    assert titles(again) == titles(first) == ["Heron 0", "Heron 1", "Heron 2"]
    assert again.context["page"].paginator.count == 3
    assert not [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"] or "%>" in q["sql"]]


def test_a_cached_page_shows_each_listener_their_own_likes(alice_client, bob_client, alice):
    from catalog.models import Rating

    song = make_song(title="Loved by Alice")
    Rating.objects.rate(alice, song, Rating.LIKE)
    assert 'aria-label="Like Loved by Alice" aria-pressed="true"' in browse(alice_client).content.decode()

    html = browse(bob_client).content.decode()

    assert 'aria-label="Like Loved by Alice" aria-pressed="false"' in html


@pytest.mark.parametrize("name", ["song_detail", "song_audio", "song_rate", "playlist_add_song"])
def test_a_songs_addresses_are_the_ones_reverse_gives(name):
    from catalog.models.music import song_url

    assert song_url(f"catalog:{name}", 1234) == reverse(f"catalog:{name}", args=[1234])
