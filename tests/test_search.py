from __future__ import annotations

import re

import pytest
from django.db import connection
from django.urls import reverse

from catalog.models import Album, Artist, Song
from catalog.text import fold
from tests.factories import make_song

pytestmark = pytest.mark.django_db

HOSTILE_QUERIES = [
    "'",
    '"',
    "''",
    '"unterminated',
    "%",
    "_",
    "%_%",
    "\\",
    "\\\\'",
    "a\\",
    "&|!:*()",
    "wes & !noth | (a:* <-> b)",
    "' OR 1=1 --",
    "'; DROP TABLE catalog_song; --",
    "Robert'); DROP TABLE Students;--",
    "\x00",
    "wes\x00noth",
    "🎵🎸",
    "音楽 ミュージック",
    "ÅÄÖ ß ﬀ ½",
    "\u202e\u200b",
    "x" * 10_000,
    "wesnoth " * 2_000,
    "",
    "   \t\n ",
    "!@#$%^&*()-+=[]{};:,./<>?~`",
    "::: ***",
    "____",
]


def found(query: str) -> list[str]:
    return list(Song.objects.search(query).values_list("title", flat=True))


@pytest.fixture
def catalogue(db) -> dict[str, Song]:
    return {
        "wesnoth": make_song(title="Battle for Wesnoth", artist="Battle Orchestra"),
        "nexuiz": make_song(title="Nexuiz Theme", artist="Lee Vermeulen"),
        "umlaut": make_song(title="Ace of Spades", artist="Motörhead"),
        "plain": make_song(title="Overkill", artist="Motorhead Tribute Band"),
        "album": make_song(title="Track One", artist="Someone", album=Album.objects.create(title="Pyroclasm")),
        "other": make_song(title="Quiet Evening", artist="Jazz Trio"),
    }


def test_it_finds_a_song_by_title(catalogue):
    assert found("battle for wesnoth") == ["Battle for Wesnoth"]


def test_it_finds_a_song_by_artist(catalogue):
    assert found("vermeulen") == ["Nexuiz Theme"]


def test_it_finds_a_song_by_album(catalogue):
    assert found("pyroclasm") == ["Track One"]


def test_a_song_matching_every_word_comes_first(catalogue):
    assert found("quiet trio")[0] == "Quiet Evening"


@pytest.mark.parametrize("query", ["wesn", "WES", "batt wesn", "pyro"])
def test_it_finds_a_word_from_its_first_letters(catalogue, query):
    assert found(query)[0] in {"Battle for Wesnoth", "Track One"}


@pytest.mark.parametrize(("query", "title"), [("wesnth", "Battle for Wesnoth"), ("nexiuz", "Nexuiz Theme")])
def test_a_small_typo_still_finds_the_song(catalogue, query, title):
    assert found(query)[0] == title


def test_a_typo_does_not_find_everything(catalogue):
    assert "Quiet Evening" not in found("wesnth")


def test_a_query_without_accents_finds_the_accented_name(catalogue):
    assert set(found("motorhead")) == {"Ace of Spades", "Overkill"}


def test_an_accented_query_finds_the_name_without_accents(catalogue):
    assert set(found("Motörhead")) == {"Ace of Spades", "Overkill"}


def test_renaming_an_artist_updates_what_search_finds(catalogue):
    artist = Artist.objects.get(name="Jazz Trio")
    artist.name = "Blue Quartet"
    artist.save()

    assert found("quartet") == ["Quiet Evening"]
    assert found("jazz") == []


def test_an_exact_title_match_comes_first(db):
    make_song(title="A Tale of Wesnoth")
    make_song(title="Aardvark", artist="Wesnoth Players")
    make_song(title="Wesnoth Suite, Part Two")
    make_song(title="Wesnoth")

    assert found("wesnoth")[0] == "Wesnoth"
    assert found("Wesnoth Suite")[0] == "Wesnoth Suite, Part Two"


def test_whole_word_matches_rank_above_typo_matches(db):
    make_song(title="Wesnoth")
    make_song(title="Wesnath")

    assert found("wesnoth") == ["Wesnoth", "Wesnath"]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_the_search_queryset_survives_hostile_text(catalogue, query):
    list(Song.objects.search(query))


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_the_search_page_survives_hostile_text(alice_client, catalogue, query):
    response = alice_client.get(reverse("catalog:song_list"), {"q": query})

    assert response.status_code == 200


@pytest.mark.parametrize("query", ["", "   ", "!!!", "%", "\\", "'", "--", "&|!:*()"])
def test_a_query_of_only_punctuation_finds_nothing_rather_than_everything(catalogue, query):
    assert found(query) == []


def test_a_blank_search_on_the_page_lists_the_whole_catalogue(alice_client, catalogue):
    response = alice_client.get(reverse("catalog:song_list"), {"q": "   "})

    assert response.context["page"].paginator.count == len(catalogue)


def test_sql_in_the_query_is_searched_for_as_words(catalogue):
    assert len(found("' OR 1=1 --")) < len(catalogue)
    assert found("wesnoth' OR 1=1 --") == ["Battle for Wesnoth"]


def test_a_search_finds_cjk_titles(db):
    make_song(title="音楽", artist="東京")

    assert found("音楽") == ["音楽"]


def test_a_very_long_query_is_cut_to_its_beginning(catalogue):
    assert found("battle for wesnoth " * 1_000) == ["Battle for Wesnoth"]


def test_the_search_page_shows_the_query_escaped(alice_client, catalogue):
    response = alice_client.get(reverse("catalog:song_list"), {"q": "<b>wesnoth</b>"})

    body = response.content.decode()
    assert "&lt;b&gt;wesnoth&lt;/b&gt;" in body
    assert "<b>wesnoth" not in body
    assert response.context["page"].paginator.count == 1


def test_an_explicit_sort_overrides_relevance(alice_client, db):
    make_song(title="Wesnoth")
    make_song(title="A Tale of Wesnoth")

    response = alice_client.get(reverse("catalog:song_list"), {"q": "wesnoth", "sort": "title"})

    assert [song.title for song in response.context["page"].object_list] == ["A Tale of Wesnoth", "Wesnoth"]


def sort_menu(html: str, *, oob: bool = False) -> list[tuple[str, bool]]:
    """The sort menu's (label, chosen): the form's, or the one a fragment sends to replace it."""
    attributes = ' hx-swap-oob="true"' if oob else ""
    menu = re.search(f'<select id="sort" name="sort" aria-label="Sort by"{attributes}>(.*?)</select>', html, re.DOTALL)
    assert menu, "no sort menu"
    options = re.findall(r'<option value="[^"]*"( selected)?>([^<]*)</option>', menu[1])
    return [(label, bool(chosen)) for chosen, label in options]


def test_without_a_search_the_sort_menu_offers_title_once_and_chooses_it(alice_client, db):
    html = alice_client.get(reverse("catalog:song_list")).content.decode()

    menu = sort_menu(html)
    assert [label for label, _ in menu].count("Title (A–Z)") == 1
    assert menu[0] == ("Title (A–Z)", True)
    assert "Best match" not in [label for label, _ in menu]


def test_while_searching_the_sort_menu_says_best_match(alice_client, db):
    html = alice_client.get(reverse("catalog:song_list"), {"q": "wesnoth"}).content.decode()

    assert [label for label, chosen in sort_menu(html) if chosen] == ["Best match"]
    assert [label for label, _ in sort_menu(html)].count("Title (A–Z)") == 1


def test_search_as_you_type_sends_the_sort_menu_its_new_choices_with_the_results(alice_client, db):
    make_song(title="Wesnoth")
    url = reverse("catalog:song_list")

    typed = alice_client.get(url, {"q": "wes", "sort": ""}, headers={"HX-Request": "true", "HX-Target": "results"})
    cleared = alice_client.get(url, {"q": "", "sort": ""}, headers={"HX-Request": "true", "HX-Target": "results"})

    assert [label for label, chosen in sort_menu(typed.content.decode(), oob=True) if chosen] == ["Best match"]
    cleared_menu = sort_menu(cleared.content.decode(), oob=True)
    assert cleared_menu[0] == ("Title (A–Z)", True)
    assert "Best match" not in [label for label, _ in cleared_menu]


def test_a_title_sort_chosen_while_searching_is_still_shown_once_the_search_is_cleared(alice_client, db):
    html = alice_client.get(reverse("catalog:song_list"), {"q": "", "sort": "title"}).content.decode()

    assert [label for label, chosen in sort_menu(html) if chosen] == ["Title (A–Z)"]


@pytest.fixture
def big_catalogue(db) -> None:
    """2,000 songs straight into the table, so the planner has a reason to prefer an index."""
    artist = Artist.objects.create(name="Filler")
    Song.objects.bulk_create(
        Song(
            title=f"Filler {n} {word}",
            artist=artist,
            duration=1.0,
            audio=f"songs/filler-{n}.wav",
            content_hash=f"{n:064x}",
            search_document=fold(f"Filler {n} {word} Filler"),
        )
        for n in range(2_000)
        for word in [["alpha", "bravo", "charlie", "delta", "echo"][n % 5]]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_song")


def plan(queryset) -> str:
    with connection.cursor() as cursor:
        # Proves the index *can* serve the query; on 2,000 tiny rows the planner may still prefer a scan.
        cursor.execute("SET LOCAL enable_seqscan = off")
        return queryset.explain()


@pytest.mark.parametrize("query", ["wesnoth", "wesn", "wesnth"])
def test_search_uses_the_gin_indexes(big_catalogue, query):
    make_song(title="Battle for Wesnoth")

    explained = plan(Song.objects.search(query))

    assert "song_search_fts" in explained
    assert "song_search_trgm" in explained
    assert "Seq Scan on catalog_song" not in explained
    assert found(query) == ["Battle for Wesnoth"]
