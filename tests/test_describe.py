"""Reading a description and ranking songs by it, without Django (recommender/core/describe.py)."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.core.describe import (
    MAX_CHARACTERS,
    DescriptionError,
    load_vocabulary,
    parse,
    percentiles,
    rank,
    stored_tag_keys,
    unscorable,
)
from recommender.core.embedders import load_card
from recommender.core.tagger import load_spec

N = 60
TAGS = [f"msd:{tag}" for tag in load_spec("msd_musicnn").tags] + [f"mtt:{tag}" for tag in load_spec("mtt_musicnn").tags]


def songs(rng: np.random.Generator, n: int = N, **descriptors: np.ndarray) -> dict:
    """Synthetic songs like the demo catalogue's: sigmoid-like tag scores, tempo 60-180 BPM, energy 0.1-0.9."""
    out = {
        "tag_matrix": rng.beta(0.6, 4.0, size=(n, len(TAGS))),
        "tag_columns": TAGS,
        "descriptors": {
            "tempo_bpm": rng.uniform(60, 180, n),
            "energy": rng.uniform(0.1, 0.9, n),
            "loudness_db": rng.uniform(-30, -8, n),
        },
    }
    out["descriptors"].update(descriptors)
    return out


def column(tag: str) -> int:
    return TAGS.index(tag)


def scores(text: str, catalogue: dict) -> np.ndarray:
    return rank(parse(text), **catalogue)


def test_every_tag_of_the_vocabulary_is_a_tag_of_a_network():
    vocabulary = load_vocabulary()
    for concept in vocabulary.concepts.values():
        assert set(concept.tags) <= set(TAGS), concept.name
        assert concept.words, concept.name


def test_the_vocabulary_knows_opposites_both_ways():
    concepts = load_vocabulary().concepts
    for one, other in [("calm", "energetic"), ("slow", "fast"), ("sad", "happy"), ("loud", "quiet")]:
        assert concepts[one].opposite == other
        assert concepts[other].opposite == one


@pytest.mark.parametrize(
    ("text", "concepts"),
    [
        ("calm piano", ["calm", "piano"]),
        ("fast aggressive guitar", ["fast", "energetic", "guitar"]),
        ("sad strings at night", ["sad", "strings", "night"]),
        ("happy 8-bit chiptune", ["happy", "chiptune"]),
        ("Relaxing, CHILLED-out lo-fi", ["calm", "indie"]),
        ("classic rock", ["classic rock"]),
        ("no vocals", ["instrumental"]),
    ],
)
def test_it_reads_words_and_phrases_into_concepts(text, concepts):
    assert [term.concept for term in parse(text).terms] == concepts


def test_synonyms_reach_the_same_concept():
    assert {parse(word).terms[0].concept for word in ["calm", "relaxing", "peaceful", "mellow", "soothing"]} == {"calm"}


def test_a_negation_turns_the_next_term_around():
    term = parse("without any drums").terms[0]
    assert (term.text, term.concept, term.negated) == ("without drums", "drums", True)
    assert all(target.direction == -1 for target in term.targets)


@pytest.mark.parametrize(
    ("text", "bpm", "around"),
    [("120 bpm", (120, 120), False), ("around 90 BPM", (90, 90), True), ("100-130 bpm piano", (100, 130), False)],
)
def test_it_reads_a_tempo_in_bpm(text, bpm, around):
    target = parse(text).terms[0].targets[0]
    assert (target.kind, target.bpm) == ("tempo", bpm)
    assert (target.sigma > 0.05) is around


def test_words_not_understood_are_reported_and_the_rest_searched():
    query = parse("calm xylophonic piano qwerty")
    assert [term.concept for term in query.terms] == ["calm", "piano"]
    assert query.unknown == ("xylophonic", "qwerty")


def test_small_words_are_neither_terms_nor_unknown():
    query = parse("some music with a piano in the night")
    assert [term.concept for term in query.terms] == ["piano", "night"]
    assert query.unknown == ()


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_an_empty_description_gets_a_clear_message(text):
    with pytest.raises(DescriptionError, match="Describe the music in a few words"):
        parse(text)


def test_a_10000_character_description_gets_a_clear_message():
    with pytest.raises(
        DescriptionError, match=f"10,000 characters long: describe the music in at most {MAX_CHARACTERS}"
    ):
        parse("a" * 10_000)


def test_a_description_of_unknown_words_only_names_them():
    with pytest.raises(DescriptionError, match="No word of this description is in the vocabulary") as caught:
        parse("zxq blorptastic")
    assert caught.value.unknown == ("zxq", "blorptastic")


def test_only_the_first_20_words_are_read():
    query = parse(" ".join(["piano"] * 19 + ["calm", "sad", "happy"]))
    assert query.truncated
    assert [term.concept for term in query.terms] == ["piano", "calm"]


def test_fast_ranks_high_tempo_songs_above_slow_ones():
    rng = np.random.default_rng(1)
    tempo = np.where(np.arange(N) % 2 == 0, 170.0, 70.0)
    catalogue = songs(rng, tempo_bpm=tempo)
    # The same tag profile for each pair, so only the tempo tells them apart.
    catalogue["tag_matrix"][1::2] = catalogue["tag_matrix"][0::2]
    fast = scores("fast", catalogue)
    assert (fast[0::2] > fast[1::2]).all()
    slow = scores("slow", catalogue)
    assert (slow[1::2] > slow[0::2]).all()


def test_calm_ranks_low_energy_songs_above_high_energy_ones():
    rng = np.random.default_rng(2)
    energy = np.where(np.arange(N) < N // 2, 0.15, 0.85)
    loudness = np.where(np.arange(N) < N // 2, -28.0, -9.0)
    catalogue = songs(rng, energy=energy, loudness_db=loudness)
    calm = scores("calm", catalogue)
    assert calm[: N // 2].mean() > calm[N // 2 :].mean() + 0.15
    top = np.argsort(-calm)[:10]
    assert (top < N // 2).all()


def test_sad_and_happy_rank_the_other_way_round():
    rng = np.random.default_rng(3)
    catalogue = songs(rng)
    sad, happy = column("msd:sad"), column("msd:happy")
    catalogue["tag_matrix"][: N // 2, sad] += 0.6
    catalogue["tag_matrix"][N // 2 :, happy] += 0.6
    sad_scores, happy_scores = scores("sad", catalogue), scores("happy", catalogue)
    assert set(np.argsort(-sad_scores)[:10]) <= set(range(N // 2))
    assert set(np.argsort(-happy_scores)[:10]) <= set(range(N // 2, N))
    assert np.corrcoef(sad_scores, happy_scores)[0, 1] < -0.5


def test_a_song_with_the_tags_asked_for_ranks_first():
    rng = np.random.default_rng(4)
    catalogue = songs(rng)
    catalogue["tag_matrix"][7, [column("mtt:piano"), column("msd:chillout"), column("mtt:soft")]] = 0.95
    catalogue["descriptors"]["energy"][7] = 0.12
    assert np.argmax(scores("calm piano", catalogue)) == 7


def test_without_drums_ranks_drum_heavy_songs_last():
    rng = np.random.default_rng(5)
    catalogue = songs(rng)
    catalogue["tag_matrix"][:5, [column("mtt:drums"), column("mtt:beat"), column("mtt:beats")]] = 0.99
    order = np.argsort(-scores("without drums", catalogue))
    assert set(order[-5:]) == set(range(5))


def test_a_tempo_in_bpm_ranks_songs_near_it_first():
    rng = np.random.default_rng(6)
    tempo = rng.uniform(110, 180, N)
    tempo[[3, 9, 20]] = [89.0, 91.5, 97.0]
    catalogue = songs(rng, tempo_bpm=tempo)
    ranked = scores("90 bpm", catalogue)
    assert set(np.argsort(-ranked)[:2]) == {3, 9}
    assert np.argsort(-ranked)[2] == 20
    assert ranked[np.abs(np.log2(tempo / 90)) > 0.3].max() < 0.01


def test_a_song_without_a_tempo_counts_as_neither_fast_nor_slow():
    rng = np.random.default_rng(7)
    tempo = rng.uniform(60, 180, N)
    tempo[0] = np.nan
    catalogue = songs(rng, tempo_bpm=tempo)
    catalogue["tag_matrix"][:, column("mtt:fast")] = 0.2
    catalogue["tag_matrix"][:, column("mtt:slow")] = 0.2
    assert scores("fast", catalogue)[0] == pytest.approx(scores("slow", catalogue)[0])


def test_a_term_the_model_has_no_tag_for_is_left_out():
    rng = np.random.default_rng(8)
    msd_only = [i for i, tag in enumerate(TAGS) if tag.startswith("msd:")]
    catalogue = songs(rng)
    catalogue["tag_matrix"] = catalogue["tag_matrix"][:, msd_only]
    catalogue["tag_columns"] = [TAGS[i] for i in msd_only]
    query = parse("sad piano")
    assert [term.concept for term in unscorable(query, catalogue["tag_columns"])] == ["piano"]
    np.testing.assert_allclose(rank(query, **catalogue), rank(parse("sad"), **catalogue))
    assert not rank(parse("piano"), **catalogue).any()


def test_scores_lie_between_0_and_1():
    rng = np.random.default_rng(9)
    ranked = scores("fast loud guitar without vocals around 140 bpm", songs(rng))
    assert ranked.shape == (N,)
    assert (ranked >= 0).all() and (ranked <= 1).all()


def test_a_matrix_without_a_column_per_tag_is_refused():
    with pytest.raises(ValueError, match="one column per tag"):
        rank(parse("calm"), tag_matrix=np.zeros((3, 2)), tag_columns=["msd:chill"], descriptors={})


def test_percentiles_average_ties_and_keep_nan():
    np.testing.assert_allclose(percentiles(np.array([3.0, 1.0, np.nan, 3.0, 2.0])), [5 / 6, 0, np.nan, 5 / 6, 1 / 3])
    assert percentiles(np.array([4.0])).tolist() == [0.5]


def test_stored_keys_follow_the_embedder():
    pair = stored_tag_keys(load_card("musicnn_pair"))
    assert (pair["msd:sad"], pair["mtt:piano"]) == ("sad", "mtt:piano")
    mtt = stored_tag_keys(load_card("mtt_musicnn"))
    assert mtt["mtt:piano"] == "piano" and "msd:sad" not in mtt


def test_a_song_without_the_tags_asked_for_counts_as_neither_for_nor_against():
    rng = np.random.default_rng(10)
    catalogue = songs(rng)
    catalogue["tag_matrix"][0, :] = np.nan
    sad = scores("sad", catalogue)
    assert sad[0] == pytest.approx(0.5 * 1.0 / 1.5 + 0.5 * 0.5 / 1.5)


@pytest.mark.parametrize("text", ["00 bpm", "000-120 bpm", "around 20 bpm", "400 bpm"])
def test_a_tempo_no_song_can_have_is_refused_in_words(text):
    with pytest.raises(DescriptionError, match="A tempo is 30-300 bpm"):
        parse(text)
