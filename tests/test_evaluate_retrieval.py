from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from django.core.management import CommandError, call_command

from catalog.models import Album
from recommender.core.evaluation import (
    average_precision,
    hubness,
    k_occurrence,
    k_occurrence_skewness,
    leave_one_out_metrics,
    nearest_neighbours,
    random_vectors,
    spectral_statistics,
    standardise,
)
from tests.factories import make_song

SAMPLE_RATE = 22050


def clusters(n_labels: int, per_label: int, *, width: int = 16, spread: float = 0.05, seed: int = 0):
    """Tight clusters around orthogonal centres: vectors and their labels."""
    rng = np.random.default_rng(seed)
    centres = np.eye(width)[:n_labels] * 10
    vectors = np.repeat(centres, per_label, axis=0) + spread * rng.standard_normal((n_labels * per_label, width))
    labels = [f"label {i}" for i in range(n_labels) for _ in range(per_label)]
    return vectors, labels


# The metrics --------------------------------------------------------------------------------------------------


def test_perfect_clusters_score_one_everywhere():
    vectors, labels = clusters(3, 12)

    metrics = leave_one_out_metrics(vectors, labels, k=10)

    assert metrics["p@1"] == metrics["p@5"] == metrics["p@10"] == metrics["map@10"] == 1.0
    assert metrics["artist_filtered_p@10"] == 1.0
    assert metrics["queries"] == 36
    assert metrics["chance"] == pytest.approx(11 / 35)
    assert metrics["per_label_p@10"] == {"label 0": 1.0, "label 1": 1.0, "label 2": 1.0}


def test_shuffled_labels_score_near_chance():
    vectors, labels = clusters(4, 50)
    shuffled = list(np.random.default_rng(1).permutation(labels))

    metrics = leave_one_out_metrics(vectors, shuffled, k=10)

    assert metrics["chance"] == pytest.approx(49 / 199)
    assert metrics["p@10"] == pytest.approx(metrics["chance"], abs=0.06)
    assert metrics["map@10"] < 0.2


def test_random_vectors_score_near_chance():
    _, labels = clusters(4, 50)

    metrics = leave_one_out_metrics(random_vectors(200, 64, seed=3), labels, k=10)

    assert metrics["p@10"] == pytest.approx(metrics["chance"], abs=0.05)


def test_the_artist_filter_removes_the_querys_own_artist():
    # Each label has two artists; every song's nearest neighbours are its own artist's, then the label's other
    # artist's songs lie farther off, and songs of other labels farther still.
    rng = np.random.default_rng(0)
    vectors, labels, artists = [], [], []
    for label in range(3):
        for artist in range(2):
            centre = np.zeros(12)
            centre[label * 2 + artist] = 10
            centre[label * 2 + 1 - artist] = 6  # the label's other artist is near, other labels are not
            for _ in range(6):
                vectors.append(centre + 0.05 * rng.standard_normal(12))
                labels.append(f"label {label}")
                artists.append(f"artist {label}-{artist}")
    vectors = np.array(vectors)

    filtered = nearest_neighbours(vectors, k=5, exclude=np.equal.outer(artists, artists))
    metrics = leave_one_out_metrics(vectors, labels, artists=artists, k=10)
    with_unknown_artists = leave_one_out_metrics(vectors, labels, artists=[""] * len(labels), k=10)

    assert all(artists[j] != artists[i] for i, row in enumerate(filtered) for j in row)
    assert all(labels[j] == labels[i] for i, row in enumerate(filtered) for j in row)
    # Unfiltered, the top 10 are 5 of the own artist and the label's other artist's 6: 10 hits of 10. Filtered,
    # only the other artist's 6 songs remain relevant, so at most 6 of 10.
    assert metrics["p@10"] == 1.0
    assert metrics["artist_filtered_p@10"] == pytest.approx(0.6)
    assert with_unknown_artists["artist_filtered_p@10"] == 1.0


def test_a_query_whose_label_only_its_artist_has_is_left_out_of_the_artist_filtered_precision():
    vectors, labels = clusters(2, 8)
    artists = ["solo"] * 8 + [f"band {i}" for i in range(8)]

    metrics = leave_one_out_metrics(vectors, labels, artists=artists, k=5)

    assert metrics["artist_filtered_queries"] == 8
    assert metrics["artist_filtered_p@5"] == 1.0


def test_hubness_of_a_constructed_hub():
    # Item 0 heads every other item's list; the rest of each list walks around a ring of items 1 to 39.
    n, k = 40, 10
    neighbours = np.array(
        [list(range(1, k + 1))] + [[0] + [(i - 1 + j) % (n - 1) + 1 for j in range(1, k)] for i in range(1, n)]
    )
    uniform = np.array([[(i + j) % n for j in range(1, k + 1)] for i in range(n)])

    # ceil(0.05 * 40) = 2 hubs: item 0 (39 slots) and one of items 1-10 (10 slots: 9 + item 0's list), of 400.
    assert hubness(neighbours, n_items=n) == pytest.approx((39 + 10) / 400)
    assert hubness(uniform, n_items=n) == pytest.approx(0.05)
    assert k_occurrence_skewness(uniform, n_items=n) == 0.0
    assert k_occurrence_skewness(neighbours, n_items=n) > 5


def test_an_item_at_the_centre_of_the_data_is_everyones_neighbour():
    # Non-negative vectors, as ReLU layers give; the all-ones direction is closer to each of them than they
    # are to one another, so that item lands in every top 10.
    vectors = np.abs(np.random.default_rng(2).standard_normal((60, 32)))
    vectors[0] = 1.0

    neighbours = nearest_neighbours(vectors, k=10)
    metrics = leave_one_out_metrics(vectors, ["a", "b"] * 30, k=10)

    assert k_occurrence(neighbours, n_items=60)[0] == 59
    assert metrics["hubness@10"] > 0.1


def test_map_at_k_on_a_worked_example():
    # Ranking hit, miss, hit, miss, hit with 4 relevant items in all: (1/1 + 2/3 + 3/5) / min(5, 4).
    hits = np.array([[True, False, True, False, True], [False] * 5, [True] * 5])
    ap = average_precision(hits, np.array([4, 3, 9]))

    assert ap == pytest.approx([(1 + 2 / 3 + 3 / 5) / 4, 0.0, 1.0])


def test_map_counts_hits_where_the_cosine_ranking_puts_them():
    # Query 0 ("a") ranks 1 ("b"), then 2 ("a"), then 3 ("a"), then 4 ("b").
    vectors = np.array([[1.0, 0.0], [0.99, 0.1], [0.9, 0.4], [0.7, 0.7], [0.0, 1.0]])
    labels = ["a", "b", "a", "a", "b"]

    neighbours = nearest_neighbours(vectors, k=4)
    metrics = leave_one_out_metrics(vectors, labels, k=4)

    assert neighbours[0].tolist() == [1, 2, 3, 4]
    hits = np.take_along_axis(np.equal.outer(labels, labels), neighbours, axis=1)
    queries_ap = average_precision(hits, np.array([2, 1, 2, 2, 1]))
    assert queries_ap[0] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert metrics["map@4"] == pytest.approx(queries_ap.mean())


def test_it_refuses_too_few_items_for_k():
    vectors, labels = clusters(2, 3)

    with pytest.raises(ValueError, match="more than 10 items"):
        leave_one_out_metrics(vectors, labels, k=10)


def test_spectral_statistics_are_mfcc_and_mel_moments():
    rng = np.random.default_rng(0)
    mel = rng.uniform(0, 3, size=(4, 187, 96)).astype(np.float32)

    statistics = spectral_statistics(mel)

    assert statistics.shape == (2 * 20 + 2 * 96,)
    frames = mel.reshape(-1, 96)
    assert statistics[40:136] == pytest.approx(frames.mean(axis=0), rel=1e-5)
    assert statistics[136:] == pytest.approx(frames.std(axis=0), rel=1e-4)


def test_standardise_gives_unit_spread_and_leaves_constant_columns_at_zero():
    features = np.array([[1.0, 5.0, 100.0], [3.0, 5.0, 300.0], [5.0, 5.0, 200.0]])

    standardised = standardise(features)

    assert standardised.mean(axis=0) == pytest.approx([0, 0, 0])
    assert standardised[:, [0, 2]].std(axis=0) == pytest.approx([1, 1])
    assert (standardised[:, 1] == 0).all()


# The command --------------------------------------------------------------------------------------------------


def synthetic_song(genre: str, seed: int, *, seconds: float = 7.0) -> np.ndarray:
    """Three "genres" a listener tells apart at once: a low drone, a noisy drum loop, bright fast arpeggios."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    if genre == "drone":
        root = rng.uniform(70, 110)
        y = sum(np.sin(2 * np.pi * root * ratio * t) / ratio for ratio in (1, 1.5, 2, 3))
        y *= 0.8 + 0.2 * np.sin(2 * np.pi * 0.3 * t)
    elif genre == "drums":
        beat = 60 / rng.uniform(110, 140)
        phase = (t % beat) / beat
        kick = np.sin(2 * np.pi * 55 * t) * np.exp(-phase * 12)
        snare_phase = ((t + beat / 2) % beat) / beat
        snare = rng.standard_normal(t.size) * np.exp(-snare_phase * 25)
        hats = rng.standard_normal(t.size) * np.exp(-((t % (beat / 4)) / (beat / 4)) * 40) * 0.3
        y = kick + 0.6 * snare + hats
    else:  # arpeggios
        note = 60 / rng.uniform(400, 500)
        pitches = rng.uniform(600, 1800) * np.array([1, 1.25, 1.5, 2])
        frequency = pitches[(t // note).astype(int) % 4]
        y = np.sign(np.sin(2 * np.pi * np.cumsum(frequency) / SAMPLE_RATE)) * np.exp(-((t % note) / note) * 3)
    y = y + 0.005 * rng.standard_normal(t.size)
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


@pytest.fixture
def labelled_folder(tmp_path: Path) -> Path:
    """A CSV of 12 synthetic songs in 3 genres (paths relative to the CSV), a missing file and a text file."""
    audio_dir = tmp_path / "music"
    audio_dir.mkdir()
    rows = []
    for g, genre in enumerate(["drone", "drums", "arpeggios"]):
        for i in range(4):
            path = audio_dir / f"{genre}-{i}.{'ogg' if i == 3 else 'wav'}"
            sf.write(path, synthetic_song(genre, seed=10 * g + i), SAMPLE_RATE)
            rows.append([f"music/{path.name}", genre, f"{genre} band {i % 2}"])
    (audio_dir / "liner-notes.txt").write_text("Recorded live at the synthesiser.\n")
    rows.insert(3, ["music/lost.wav", "drone", ""])
    rows.insert(8, ["music/liner-notes.txt", "drums", ""])
    return write_csv(tmp_path / "labels.csv", [["path", "label", "artist"], *rows])


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def evaluate(*args: object) -> str:
    out = io.StringIO()
    call_command("evaluate_retrieval", *[str(a) for a in args], "--no-progress", stdout=out)
    return out.getvalue()


@pytest.mark.slow
def test_it_reports_every_embedding_and_layer_beside_the_baselines_and_writes_json(labelled_folder, tmp_path):
    json_path = tmp_path / "out" / "results.json"

    report = evaluate(labelled_folder, "--layer", "all", "--windows", "2", "--json", json_path)

    for name in [
        "MSD + MTT, standardised (card) *",
        "MSD + MTT, standardised, CSLS",
        "MSD + MTT, not standardised",
        "MSD penultimate (before issue 10)",
        "MTT penultimate",
        "MSD max_pool",
        "MSD taggram",
        "random vectors",
        "MFCC + log-mel stats",
    ]:
        assert name in report
    assert "Retrieval on 12 songs with 3 labels" in report
    assert "Skipped 2 rows:" in report
    assert "line 5: " in report and "lost.wav: no such file" in report
    assert "liner-notes.txt: not a supported audio file (.txt)" in report
    results = json.loads(json_path.read_text())
    assert results["songs"] == 12
    assert results["windows"] == 2
    assert results["labels"] == {"drone": 4, "drums": 4, "arpeggios": 4}
    assert [s["reason"] for s in results["skipped"]] == ["no such file", "not a supported audio file (.txt)"]
    assert set(results["results"]) == {
        "musicnn_pair",
        "musicnn_pair+csls",
        "musicnn_pair:raw",
        "msd_musicnn",
        "msd_musicnn+csls",
        "mtt_musicnn",
        "msd_musicnn:max_pool",
        "msd_musicnn:mean_pool",
        "msd_musicnn:taggram",
        "random",
        "mfcc_mel_stats",
    }
    assert results["results"]["musicnn_pair"]["width"] == 400
    assert results["results"]["msd_musicnn"]["width"] == 200
    assert results["results"]["msd_musicnn:mean_pool"]["width"] == 753
    assert results["results"]["random"]["width"] == 400
    assert results["results"]["mfcc_mel_stats"]["width"] == 232
    assert results["timing"]["patches_per_song"] == 2
    assert len(results["neighbours"]["musicnn_pair"]) == 12
    # Three timbres this far apart are the easy case: the networks group them, random vectors cannot.
    for name in ("musicnn_pair", "msd_musicnn", "mtt_musicnn"):
        assert results["results"][name]["p@1"] == 1.0
        assert results["results"][name]["map@10"] > results["results"]["random"]["map@10"] + 0.3


@pytest.mark.slow
def test_group_by_album_refits_the_statistics_without_the_scored_album(labelled_folder, tmp_path):
    json_path = tmp_path / "results.json"

    report = evaluate(labelled_folder, "--windows", "1", "--group-by", "album", "--json", json_path)

    assert "MSD + MTT, standardised (refitted per fold) †" in report
    assert "leave-albums-out" in report
    results = json.loads(json_path.read_text())["results"]
    refitted = results["musicnn_pair:refitted"]
    assert refitted["protocol"] == "leave-albums-out"
    # No album column: each label stands for an album, so there is one fold a label and every song is scored once.
    assert refitted["folds"] == 3
    assert refitted["queries"] == 12
    assert "musicnn_pair:refitted" not in json.loads(json_path.read_text())["neighbours"]


@pytest.mark.slow
def test_one_layer_is_reported_beside_the_embeddings_and_the_baselines(labelled_folder):
    report = evaluate(labelled_folder, "--layer", "mean_pool", "--windows", "1")

    assert "MSD mean_pool" in report
    assert "MSD max_pool" not in report and "MSD taggram" not in report
    assert "MSD + MTT, standardised (card)" in report
    assert "random vectors" in report and "MFCC + log-mel stats" in report


def test_a_csv_without_a_label_column_is_refused_plainly(tmp_path):
    path = write_csv(tmp_path / "no-label.csv", [["path", "genre"], ["a.wav", "rock"]])

    with pytest.raises(CommandError, match=r"has no `label` column\. The CSV needs a header with `path` and `label`"):
        evaluate(path)


def test_too_few_readable_files_is_an_error_that_lists_them(tmp_path):
    path = write_csv(tmp_path / "broken.csv", [["path", "label"], ["gone.wav", "a"], ["", "b"]])

    with pytest.raises(CommandError, match=r"(?s)Only 0 of the files could be embedded.*gone.wav: no such file"):
        evaluate(path)


@pytest.mark.django_db
def test_the_demo_csv_lists_catalogue_songs_with_their_album_as_label(tmp_path):
    game = Album.objects.create(title="Nexuiz")
    other = Album.objects.create(title="Warzone 2100")
    make_song(title="Aquatic", artist="Mattias Westlund", album=game)
    make_song(title="Untitled", artist="Unknown artist", album=other)
    make_song(title="Private", artist="Alice", album=game, in_catalogue=False)
    make_song(title="Loose", artist="Bob")
    csv_path = tmp_path / "eval" / "demo.csv"

    out = io.StringIO()
    call_command("evaluate_retrieval", "--make-demo-csv", str(csv_path), stdout=out)

    assert "Wrote 2 songs" in out.getvalue() and "1 without an album left out" in out.getvalue()
    rows = list(csv.DictReader(csv_path.open()))
    assert [(r["label"], r["artist"], r["title"]) for r in rows] == [
        ("Nexuiz", "Mattias Westlund", "Aquatic"),
        ("Warzone 2100", "", "Untitled"),
    ]
    assert all((csv_path.parent / r["path"]).is_file() for r in rows)
