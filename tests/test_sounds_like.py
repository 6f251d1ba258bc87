"""The tags an upload's page shows as "Sounds like": confident ones only, and none about a voice the song does not
have (issue 11, §6.12: "female vocalists" on an instrumental)."""

from __future__ import annotations

import numpy as np
import pytest
from django.urls import reverse

from catalog.models import Song
from recommender.core.sounds_like import MIN_TAG_SCORE, MIN_VOICE_SCORE, hears_voice, sounds_like
from recommender.models import Embedding, active_dimensions, active_model_key
from tests.factories import make_song

# An instrumental as both networks hear it: rock and guitar, and a little of everything else.
INSTRUMENTAL = {
    "rock": 0.62,
    "instrumental": 0.31,
    "female vocalists": 0.12,  # above the confidence level, and still wrong
    "80s": 0.04,
    "mtt:guitar": 0.55,
    "mtt:rock": 0.48,
    "mtt:no vocals": 0.35,
    "mtt:vocal": 0.06,
    "mtt:female": 0.11,
}
SUNG = {**INSTRUMENTAL, "mtt:no vocals": 0.05, "mtt:vocal": 0.58, "mtt:female vocal": 0.41, "instrumental": 0.02}


def names(tags: list[tuple[str, float]]) -> list[str]:
    return [name for name, _ in tags]


def test_only_tags_the_networks_are_sure_of_are_shown():
    shown = sounds_like({"rock": 0.62, "jazz": MIN_TAG_SCORE, "80s": MIN_TAG_SCORE - 0.01, "sad": 0.001})

    assert names(shown) == ["rock", "jazz"]


def test_an_instrumental_shows_no_tag_about_a_voice():
    assert not hears_voice(INSTRUMENTAL)
    assert names(sounds_like(INSTRUMENTAL)) == ["rock", "guitar", "no vocals", "instrumental"]


def test_a_song_with_a_voice_shows_its_voice_tags():
    assert hears_voice(SUNG)
    assert names(sounds_like(SUNG)) == ["rock", "vocal", "guitar", "female vocal", "female vocalists", "female"]


@pytest.mark.parametrize(
    ("voice", "none", "heard"),
    [(MIN_VOICE_SCORE, 0.1, True), (MIN_VOICE_SCORE - 0.01, 0.0, False), (0.4, 0.45, False)],
    ids=["enough", "too-faint", "no-voice-wins"],
)
def test_a_voice_is_heard_when_a_voice_tag_is_strong_and_beats_every_no_voice_tag(voice, none, heard):
    assert hears_voice({"mtt:singing": voice, "mtt:no voice": none, "mtt:guitar": 0.5}) is heard


def test_without_the_second_networks_tags_the_first_ones_decide():
    assert not hears_voice({"female vocalists": 0.3, "instrumental": 0.5})
    assert hears_voice({"female vocalists": 0.4, "instrumental": 0.1})


def test_a_tag_both_networks_have_is_named_once_with_its_higher_score():
    assert sounds_like({"rock": 0.3, "mtt:rock": 0.5, "mtt:guitar": 0.4}) == [("rock", 0.5), ("guitar", 0.4)]


def test_nothing_is_shown_when_no_tag_is_confident():
    assert sounds_like({"rock": 0.05, "mtt:guitar": 0.02}) == []


@pytest.mark.django_db
def test_the_upload_page_shows_an_instrumental_without_female_vocalists(alice_client, alice):
    upload = make_song(title="My instrumental", owner=alice, in_catalogue=False, analysis_status=Song.Analysis.DONE)
    Embedding.objects.create(
        song=upload, model=active_model_key(), vector=np.ones(active_dimensions(), np.float32), tag_scores=INSTRUMENTAL
    )

    page = alice_client.get(reverse("recommender:upload_detail", args=[upload.pk])).content.decode()

    sounds = page[page.index("<dt>Sounds like</dt>") : page.index("<dt>Genre</dt>")]
    assert '<span class="tag" title="0.62">rock</span>' in sounds
    assert "vocal" not in sounds.replace("no vocals", "")
    assert "female" not in sounds
    assert "80s" not in sounds
