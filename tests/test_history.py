"""Listening history: what counts as completed or skipped, recording plays from the player, the history page."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalog.models import InvalidPlay, Play, play_outcome
from tests.factories import make_song

pytestmark = pytest.mark.django_db


@pytest.fixture
def song():
    return make_song(title="Heroes of Wesnoth", duration=200.0)


def record_url() -> str:
    return reverse("catalog:play_record")


# The completed/skipped rule


@pytest.mark.parametrize(
    ("duration", "seconds", "reached_end", "expected"),
    [
        (200, 10, False, (False, True)),  # stopped within 30 s
        (200, 29.9, False, (False, True)),
        (200, 30, False, (False, False)),  # heard a good part, then moved on
        (200, 120, True, (True, False)),  # let it run to the end
        (200, 180, False, (True, False)),  # 90 % is as good as the end
        (200, 5, True, (False, True)),  # seeked to the end: still a skip
        (40, 19, False, (False, True)),  # a short song stopped before its middle
        (40, 21, False, (False, False)),
        (40, 36, False, (True, False)),
        (20, 20, True, (True, False)),  # a song shorter than 30 s heard whole is not a skip
    ],
)
def test_it_judges_a_play_completed_or_skipped(duration, seconds, reached_end, expected):
    assert play_outcome(duration=duration, seconds=seconds, reached_end=reached_end) == expected


def test_it_records_a_play_with_its_outcome(alice, song):
    play = Play.objects.record(alice, song, seconds_listened=12.5)

    assert (play.user, play.song, play.seconds_listened) == (alice, song, 12.5)
    assert (play.skipped, play.completed) == (True, False)


def test_a_play_is_dated_from_when_it_began(alice, song):
    before = timezone.now()
    play = Play.objects.record(alice, song, seconds_listened=120, reached_end=True)
    after = timezone.now()

    assert before - timedelta(seconds=120) <= play.played_at <= after - timedelta(seconds=120)


def test_it_clamps_a_little_more_than_the_song_to_its_length(alice, song):
    play = Play.objects.record(alice, song, seconds_listened=203, reached_end=True)

    assert play.seconds_listened == 200
    assert play.completed


@pytest.mark.parametrize("seconds", [-1, math.nan, math.inf, -math.inf, 1e9, 260, "many"])
def test_it_refuses_seconds_that_cannot_be_true(alice, song, seconds):
    with pytest.raises(InvalidPlay):
        Play.objects.record(alice, song, seconds_listened=seconds)
    assert not Play.objects.exists()


# Recording plays from the player


def test_the_player_records_a_play(alice_client, alice, song):
    response = alice_client.post(record_url(), {"song": song.pk, "seconds": "195.5", "ended": "1"})

    assert response.status_code == 204
    play = Play.objects.get()
    assert (play.user, play.song, play.seconds_listened, play.completed) == (alice, song, 195.5, True)


def test_the_player_records_a_skip(alice_client, song):
    response = alice_client.post(record_url(), {"song": song.pk, "seconds": "4", "ended": "0"})

    assert response.status_code == 204
    assert Play.objects.get().skipped


def test_a_beacon_with_the_csrf_token_as_a_form_field_is_recorded(alice, song):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    token = client.get(reverse("catalog:history")).context["csrf_token"]

    refused = client.post(record_url(), {"song": song.pk, "seconds": "40"})
    accepted = client.post(record_url(), {"song": song.pk, "seconds": "40", "csrfmiddlewaretoken": token})

    assert refused.status_code == 403
    assert accepted.status_code == 204
    assert Play.objects.count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {"seconds": "-1"},
        {"seconds": "nan"},
        {"seconds": "inf"},
        {"seconds": "1e400"},
        {"seconds": "1e9"},
        {"seconds": "ten"},
        {"seconds": "1\x00"},
        {"seconds": ""},
        {"song": "abc"},
        {"song": "1\x00"},
        {"song": "-3"},
        {"song": str(10**30)},
        {"song": ""},
        {"ended": "perhaps"},
        {"ended": "1\x00"},
    ],
    ids=lambda data: repr(data)[:40],
)
def test_a_forged_play_is_refused_with_a_reason_and_nothing_is_recorded(alice_client, song, data):
    response = alice_client.post(record_url(), {"song": song.pk, "seconds": "12", "ended": "0", **data})

    assert response.status_code == 400
    assert response.content.decode().startswith("Not recorded.")
    assert not Play.objects.exists()


def test_a_play_of_someone_elses_private_upload_is_not_found(alice_client, bob, alice):
    private = make_song(title="Bob's demo", owner=bob, in_catalogue=False)

    response = alice_client.post(record_url(), {"song": private.pk, "seconds": "12"})

    assert response.status_code == 404
    assert not Play.objects.exists()


def test_a_play_of_a_song_that_does_not_exist_is_not_found(alice_client, song):
    response = alice_client.post(record_url(), {"song": song.pk + 1000, "seconds": "12"})

    assert response.status_code == 404
    assert not Play.objects.exists()


def test_a_play_of_your_own_private_upload_is_recorded(alice_client, alice):
    mine = make_song(title="My demo", owner=alice, in_catalogue=False, duration=60.0)

    assert alice_client.post(record_url(), {"song": mine.pk, "seconds": "45"}).status_code == 204
    assert Play.objects.get().song == mine


def test_plays_are_recorded_only_for_people_logged_in_and_only_by_post(client, alice_client, song):
    anonymous = client.post(record_url(), {"song": song.pk, "seconds": "12"})
    get = alice_client.get(record_url(), {"song": song.pk, "seconds": "12"})

    assert anonymous.status_code == 302
    assert get.status_code == 405
    assert not Play.objects.exists()


# The history page


def test_the_history_page_lists_plays_newest_first_with_their_outcome(alice_client, alice):
    first = make_song(title="First Song", duration=100.0)
    second = make_song(title="Second Song", duration=100.0)
    Play.objects.record(alice, first, seconds_listened=100, reached_end=True)
    Play.objects.record(alice, second, seconds_listened=3)

    response = alice_client.get(reverse("catalog:history"))

    assert response.status_code == 200
    assert [play.song for play in response.context["page"].object_list] == [second, first]
    text = response.content.decode()
    assert text.index("Second Song") < text.index("First Song")
    assert "Skipped" in text and "Completed" in text
    assert f'data-song-id="{first.pk}"' in text  # each row can be played


def test_the_history_page_is_paginated(alice_client, alice, settings):
    settings.MUSREC_PAGE_SIZE = 2
    songs = [make_song(title=f"Tune {i}", duration=100.0) for i in range(5)]
    for song in songs:
        Play.objects.record(alice, song, seconds_listened=50)

    first = alice_client.get(reverse("catalog:history"))
    last = alice_client.get(reverse("catalog:history"), {"page": "3"})
    junk = alice_client.get(reverse("catalog:history"), {"page": "x\x00"})

    assert [p.song for p in first.context["page"].object_list] == [songs[4], songs[3]]
    assert [p.song for p in last.context["page"].object_list] == [songs[0]]
    assert junk.status_code == 200
    assert junk.context["page"].number == 1


def test_nobody_sees_another_persons_history(alice, bob_client, song):
    Play.objects.record(alice, song, seconds_listened=50)

    response = bob_client.get(reverse("catalog:history"))

    assert response.status_code == 200
    assert "Heroes of Wesnoth" not in response.content.decode()
    assert list(response.context["page"].object_list) == []


def test_the_history_needs_a_login(client):
    response = client.get(reverse("catalog:history"))

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_listener_removes_one_play(alice_client, alice, song):
    kept = Play.objects.record(alice, song, seconds_listened=50)
    removed = Play.objects.record(alice, song, seconds_listened=10)

    response = alice_client.post(reverse("catalog:history_remove", args=[removed.pk]))

    assert response.status_code == 302
    assert list(Play.objects.all()) == [kept]


def test_removing_a_play_with_htmx_answers_an_empty_row(alice_client, alice, song):
    play = Play.objects.record(alice, song, seconds_listened=50)

    response = alice_client.post(reverse("catalog:history_remove", args=[play.pk]), headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert response.content == b""
    assert not Play.objects.exists()


def test_nobody_removes_another_persons_play(alice, bob_client, song):
    play = Play.objects.record(alice, song, seconds_listened=50)

    response = bob_client.post(reverse("catalog:history_remove", args=[play.pk]))

    assert response.status_code == 404
    assert Play.objects.filter(pk=play.pk).exists()


def test_removing_is_post_only(alice_client, alice, song):
    play = Play.objects.record(alice, song, seconds_listened=50)

    assert alice_client.get(reverse("catalog:history_remove", args=[play.pk])).status_code == 405
    assert Play.objects.exists()


def test_clearing_the_history_removes_only_your_own_plays(alice_client, alice, bob, song):
    Play.objects.record(alice, song, seconds_listened=50)
    Play.objects.record(alice, song, seconds_listened=10)
    bobs = Play.objects.record(bob, song, seconds_listened=50)

    response = alice_client.post(reverse("catalog:history_clear"), follow=True)

    assert response.redirect_chain[-1][0] == reverse("catalog:history")
    assert "Cleared your history (2 plays)." in response.content.decode()
    assert list(Play.objects.all()) == [bobs]


def test_clearing_is_post_only(alice_client, alice, song):
    Play.objects.record(alice, song, seconds_listened=50)

    assert alice_client.get(reverse("catalog:history_clear")).status_code == 405
    assert Play.objects.exists()


def test_an_upload_taken_out_of_the_catalogue_leaves_other_peoples_histories(alice, bob, bob_client):
    shared = make_song(title="Alice's demo", owner=alice, in_catalogue=True, duration=100.0)
    play = Play.objects.record(bob, shared, seconds_listened=50)
    type(shared).objects.filter(pk=shared.pk).update(in_catalogue=False)

    assert list(Play.objects.for_user(bob)) == []
    assert "Alice's demo" not in bob_client.get(reverse("catalog:history")).content.decode()
    assert bob_client.post(reverse("catalog:history_remove", args=[play.pk])).status_code == 404


# Plays a person may report (MUSREC_PLAYS_PER_MINUTE)


def test_plays_past_the_limit_a_minute_are_refused_with_429_and_not_recorded(
    alice_client, alice, bob_client, bob, song, settings, one_rate_window
):
    settings.MUSREC_PLAYS_PER_MINUTE = 3
    for _ in range(3):
        assert alice_client.post(record_url(), {"song": song.pk, "seconds": 40}).status_code == 204

    response = alice_client.post(record_url(), {"song": song.pk, "seconds": 40})

    assert response.status_code == 429
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == "Not recorded: more than 3 plays a minute."
    assert Play.objects.for_user(alice).count() == 3
    assert bob_client.post(record_url(), {"song": song.pk, "seconds": 40}).status_code == 204
    assert Play.objects.for_user(bob).count() == 1
