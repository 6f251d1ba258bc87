"""Trained genre models (issue 10): splits, augmentation, the four architectures, the model card, the command,
the admin's training job and activation, on small synthetic "genres" of sound the tests make."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from PIL import Image

from catalog.models import Album, Genre, Song
from recommender.core import charts, genre_report
from recommender.core.analysis import log_mel_patches
from recommender.core.genre_training import (
    ARCHITECTURES,
    Augmentation,
    GenreClassifier,
    GenreDataError,
    NetworkSize,
    TrainingConfig,
    augment,
    check_trainable,
    grouped_folds,
    grouped_split,
    song_groups,
    stack_songs,
    train_classifier,
    unsplittable_labels,
)
from recommender.core.tagger import load_spec
from recommender.genre_registry import GenreModel, GenrePrediction
from tests.factories import embed, make_song

SAMPLE_RATE = 16000
GENRES = ("Drone", "Noise", "Clicks")
TINY = NetworkSize(filters=(4, 8), recurrent=8, hidden=16, embedding=8)


def genre_signal(genre: str, *, seed: int, seconds: float = 3.5) -> np.ndarray:
    """A few seconds of one synthetic "genre": a sustained chord, gated noise bursts or a click train.

    Each seed (a song of an album) varies the pitch, the tempo and the level, so songs of a genre differ.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    if genre == "Drone":
        root = rng.uniform(110, 220)
        y = sum(np.sin(2 * np.pi * root * ratio * t) for ratio in (1.0, 1.5, 2.0)) / 3
        y *= 0.8 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t)
    elif genre == "Noise":
        gate = (np.sin(2 * np.pi * rng.uniform(2, 4) * t) > 0).astype(float)
        y = rng.standard_normal(t.size) * gate * 0.5
    else:
        period = 60 / rng.uniform(300, 600)
        phase = (t % period) / period
        y = np.sin(2 * np.pi * 3000 * t) * np.exp(-phase * period * 400)
    y = y * rng.uniform(0.3, 0.8) / max(np.abs(y).max(), 1e-9)
    return (y + 0.002 * rng.standard_normal(t.size)).astype(np.float32)


def wav_bytes(signal: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, signal, SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def synthetic_set(*, albums_per_genre: int = 3, songs_per_album: int = 2):
    """Log-mel patches (2 windows a song) of every song, with its genre and album."""
    spec = load_spec("msd_musicnn")
    window = round(3.008 * SAMPLE_RATE)
    song_patches, labels, albums = [], [], []
    for g, genre in enumerate(GENRES):
        for album in range(albums_per_genre):
            for song in range(songs_per_album):
                signal = genre_signal(genre, seed=1000 * g + 10 * album + song)
                clips = np.stack([signal[:window], signal[-window:]])
                song_patches.append(log_mel_patches(clips, spec=spec))
                labels.append(genre)
                albums.append(f"{genre} album {album}")
    return song_patches, labels, albums


@pytest.fixture(scope="module")
def patch_set():
    song_patches, labels, albums = synthetic_set()
    patches, song_of_patch = stack_songs(song_patches)
    return patches, song_of_patch, np.array(labels, dtype=object), albums


@pytest.fixture(autouse=True)
def model_dir(settings, tmp_path):
    settings.MUSREC_MODEL_DIR = tmp_path / "models"
    return settings.MUSREC_MODEL_DIR


# Splits ------------------------------------------------------------------------------------------------------


def test_songs_sharing_an_album_or_an_artist_are_one_group():
    albums = ["A", "A", "B", "C", "", ""]
    artists = ["x", "", "x", "y", "", "y"]

    groups = song_groups(albums, artists)

    # A and B share artist x; C and the last song share artist y; the fifth song is alone.
    assert groups[0] == groups[1] == groups[2]
    assert groups[3] == groups[5]
    assert len(set(groups.tolist())) == 3


def fake_set():
    """12 songs of each genre, 3 to an album: labels and albums only."""
    labels = [genre for genre in GENRES for _ in range(12)]
    albums = [f"{genre} {i // 3}" for genre in GENRES for i in range(12)]
    return labels, albums


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_no_album_is_in_both_training_and_test(seed):
    labels, albums = fake_set()
    groups = song_groups(albums, [None] * len(albums))

    split = grouped_split(labels, groups, seed=seed)

    assert not {albums[i] for i in split.train} & {albums[i] for i in split.test}
    assert set(np.asarray(labels)[split.train]) == set(labels)  # every genre is learnt
    assert set(np.asarray(labels)[split.test]) == set(labels)  # and tested: stratified
    assert len(split.test) < len(split.train)


def test_the_folds_test_every_song_once_and_keep_albums_whole():
    labels, albums = fake_set()
    groups = song_groups(albums, [None] * len(albums))

    folds = grouped_folds(labels, groups, seed=0)

    tested = np.concatenate([fold.test for fold in folds])
    assert sorted(tested.tolist()) == list(range(len(labels)))
    for fold in folds:
        assert not set(groups[fold.train]) & set(groups[fold.test])


def test_genres_that_cannot_be_held_out_are_named_with_the_reason():
    labels = ["Rock", "Rock", "Jazz", "Jazz", "Polka"]
    groups = song_groups(["a", "b", "c", "c", "d"], [None] * 5)

    assert unsplittable_labels(labels, groups) == {
        "Jazz": "has all its songs in one album (or one artist's albums)",
        "Polka": "has only one song",
    }
    with pytest.raises(GenreDataError, match="'Polka' has only one song"):
        check_trainable(labels, groups)


def test_one_genre_is_refused():
    with pytest.raises(GenreDataError, match="at least two genres; found only 'Rock'"):
        check_trainable(["Rock", "Rock"], np.array([0, 1]))


# Augmentation ------------------------------------------------------------------------------------------------


def test_augmentation_alters_a_copy_the_same_way_for_the_same_seed(patch_set):
    patches = patch_set[0][:8]
    before = patches.copy()

    first = augment(patches, rng=np.random.default_rng(5), augmentation=Augmentation(probability=1.0))
    again = augment(patches, rng=np.random.default_rng(5), augmentation=Augmentation(probability=1.0))

    assert np.array_equal(patches, before)
    assert first.shape == patches.shape and first.dtype == np.float32
    assert np.array_equal(first, again)
    assert not np.allclose(first, patches)
    assert first.min() >= 0


def test_augmentation_with_probability_zero_changes_nothing(patch_set):
    patches = patch_set[0][:4]

    same = augment(patches, rng=np.random.default_rng(0), augmentation=Augmentation(probability=0.0))

    assert np.allclose(same, patches)


# The architectures -------------------------------------------------------------------------------------------


def _train(patch_set, arch: str, *, epochs: int = 4, seed: int = 0):
    patches, song_of_patch, labels, albums = patch_set
    split = grouped_split(labels, song_groups(albums, [None] * len(albums)), seed=0)
    config = TrainingConfig(
        arch=arch, epochs=epochs, patience=epochs, batch_size=8, seed=seed, size=TINY, transfer_copies=1,
        learning_rate=3e-3,
    )  # fmt: skip
    return train_classifier(patches, song_of_patch, labels, train_songs=split.train, config=config), split


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_each_architecture_trains_and_its_loss_falls(patch_set, arch):
    result, _ = _train(patch_set, arch, epochs=6)

    losses = result.history.loss
    assert len(losses) >= 2
    assert min(losses[1:]) < losses[0]
    assert result.classifier.labels == tuple(sorted(GENRES))
    assert result.device == "CPU" and result.precision == "float32"


@pytest.mark.slow
def test_the_transfer_features_come_from_the_fast_musicnn_as_the_saved_network_computes_them(patch_set):
    from recommender.core.genre_training import build_network, frozen_features

    network = build_network("transfer", n_labels=3, size=TINY)
    patches = patch_set[0][:6]

    saved = np.asarray(network.get_layer("body")(patches, training=False))
    fast = frozen_features(patches)

    assert fast.shape == saved.shape == (6, 753)
    assert np.abs(fast - saved).max() <= 1e-4 * max(1.0, np.abs(saved).max())


@pytest.mark.slow
def test_a_saved_classifier_loads_and_predicts_the_same(patch_set, tmp_path):
    patches, song_of_patch, labels, _ = patch_set
    result, _ = _train(patch_set, "cnn-lstm", epochs=1)
    before = result.classifier.predict_songs(patches, song_of_patch, n_songs=len(labels))

    result.classifier.save(tmp_path / "model", extra={"windows": 2})
    loaded = GenreClassifier.load(tmp_path / "model")
    after = loaded.predict_songs(patches, song_of_patch, n_songs=len(labels))

    assert (tmp_path / "model" / "model.keras").is_file()
    assert GenreClassifier.saved_info(tmp_path / "model")["windows"] == 2
    assert loaded.labels == result.classifier.labels and loaded.arch == "cnn-lstm"
    assert np.allclose(before.probabilities, after.probabilities, atol=1e-6)
    assert np.allclose(before.embeddings, after.embeddings, atol=1e-6)
    assert before.probabilities.shape == (len(labels), 3)
    assert np.allclose(before.probabilities.sum(axis=1), 1, atol=1e-5)
    assert before.embeddings.shape == (len(labels), TINY.embedding)


@pytest.mark.slow
def test_training_with_the_same_seed_gives_the_same_losses(patch_set):
    first, _ = _train(patch_set, "cnn", epochs=2, seed=7)
    second, _ = _train(patch_set, "cnn", epochs=2, seed=7)

    assert first.history.loss == pytest.approx(second.history.loss, rel=1e-5)


@pytest.mark.slow
def test_early_stopping_keeps_the_best_epoch(patch_set):
    patches, song_of_patch, labels, albums = patch_set
    groups = song_groups(albums, [None] * len(albums))
    split = grouped_split(labels, groups, seed=0)
    config = TrainingConfig(arch="cnn", epochs=30, patience=1, batch_size=8, size=TINY, learning_rate=0.05)
    seen = []

    result = train_classifier(
        patches, song_of_patch, labels, train_songs=split.train, validation_songs=split.test, config=config,
        on_progress=seen.append,
    )  # fmt: skip

    history = result.history
    assert history.stopped_early and len(history.val_loss) < 30
    assert history.val_loss[history.best_epoch - 1] == min(history.val_loss)
    assert {p.stage for p in seen} == {"training"}
    assert seen[-1].epoch == len(history.loss) and seen[-1].val_loss == history.val_loss[-1]


# Metrics and charts ------------------------------------------------------------------------------------------


def test_the_classification_table_of_known_predictions():
    labels = ["A", "B", "C"]
    true = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 0, 1, 0, 2, -1])  # one B taken for A, one C for a genre outside the labels

    metrics = genre_report.classification_metrics(true, predicted, labels=labels)

    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["per_label"]["A"] == {"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2}
    assert metrics["per_label"]["C"]["recall"] == 0.5 and metrics["per_label"]["C"]["precision"] == 1.0
    assert metrics["macro_recall"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert metrics["confusion"] == [[2, 0, 0], [1, 1, 0], [0, 0, 1]]
    assert metrics["outside"] == 1
    assert metrics["log_loss"] is None


def test_the_log_loss_of_certain_right_answers_is_near_zero():
    probabilities = np.eye(3)[[0, 1, 2, 2]]

    metrics = genre_report.classification_metrics(
        np.array([0, 1, 2, 2]), np.array([0, 1, 2, 2]), labels=["A", "B", "C"], probabilities=probabilities
    )

    assert metrics["log_loss"] == pytest.approx(0, abs=1e-5)


def test_the_msd_tag_mapping_is_compared_by_name_and_outside_names_are_wrong():
    names = genre_report.tag_mapping_predictions([{"rock": 0.9, "jazz": 0.2}, {"ambient": 0.7}, {"sad": 0.9}])

    report = genre_report.song_report(["Rock", "Jazz", "Jazz"], labels=["Jazz", "Rock"], predicted_labels=names)

    assert names == ["Rock", "Ambient", None]
    assert report["accuracy"] == pytest.approx(1 / 3)
    assert report["outside"] == 2


def test_the_logistic_regression_baseline_learns_separable_features():
    rng = np.random.default_rng(0)
    centres = {"A": np.array([3.0, 0.0]), "B": np.array([0.0, 3.0])}
    train_labels = ["A", "B"] * 20
    train = np.stack([centres[label] for label in train_labels]) + 0.3 * rng.standard_normal((40, 2))
    test = np.stack([centres["A"], centres["B"]])

    probabilities = genre_report.logistic_regression_probabilities(train, train_labels, test, labels=["A", "B"])

    assert probabilities.argmax(axis=1).tolist() == [0, 1]
    assert np.allclose(probabilities.sum(axis=1), 1)


def test_genre_precision_of_an_embedding_needs_two_genres_among_enough_songs():
    rng = np.random.default_rng(0)
    centres = np.repeat(np.array([[5.0, 0, 0, 0], [0, 5.0, 0, 0]]), 8, axis=0)
    vectors = centres + rng.normal(0, 0.1, centres.shape)

    separated = genre_report.embedding_retrieval(vectors, ["A"] * 8 + ["B"] * 8)
    one_genre = genre_report.embedding_retrieval(vectors, ["A"] * 16)
    too_few = genre_report.embedding_retrieval(vectors[:10], ["A"] * 5 + ["B"] * 5)

    assert separated["p@5"] == 1.0 and separated["p@10"] == pytest.approx(0.7)
    assert one_genre["p@10"] is None and too_few["p@10"] is None


def test_the_charts_are_pngs():
    confusion = charts.confusion_png(np.array([[3, 1], [0, 4]]), ["Romantic classical", "Noise"], title="cnn")
    curves = charts.curves_png(
        {"loss": {"training": [1.0, 0.7, 0.5], "validation": [1.1, 0.9, 1.0]}, "accuracy": {"training": [0.3]}},
        marker=2,
    )

    for png in (confusion, curves):
        image = Image.open(io.BytesIO(png))
        assert image.format == "PNG" and image.width > 100 and image.height > 100


# The command -------------------------------------------------------------------------------------------------


def write_csv(folder: Path, rows: list[tuple[str, str, str]], *, header=("path", "genre", "album")) -> Path:
    """WAV files of the given genres (synthetic), listed in a CSV with their genre and album."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, (genre, album, _) in enumerate(rows):
        name = f"song-{i}.wav"
        if genre in GENRES:
            (folder / name).write_bytes(wav_bytes(genre_signal(genre, seed=i)))
        lines.append((name, genre, album))
    path = folder / "genres.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([line[: len(header)] for line in lines])
    return path


def csv_rows(*, albums_per_genre: int = 3, songs_per_album: int = 2) -> list[tuple[str, str, str]]:
    return [
        (genre, f"{genre} {album}", "")
        for genre in GENRES
        for album in range(albums_per_genre)
        for _ in range(songs_per_album)
    ]


@pytest.mark.django_db
def test_the_command_refuses_a_csv_with_one_genre(tmp_path):
    path = write_csv(tmp_path, [("Drone", "a", ""), ("Drone", "b", "")])

    with pytest.raises(CommandError, match="at least two genres; found only 'Drone'"):
        call_command("train_genre_model", "--csv", str(path), "--no-progress")
    assert not GenreModel.objects.exists()


@pytest.mark.django_db
def test_the_command_refuses_files_that_do_not_exist(tmp_path):
    path = write_csv(tmp_path, [*csv_rows(), ("Missing", "x", "")])

    with pytest.raises(CommandError, match=r"names files that do not exist \(1\): line 20: song-18.wav"):
        call_command("train_genre_model", "--csv", str(path), "--no-progress")


@pytest.mark.django_db
def test_the_command_refuses_a_genre_with_one_song(tmp_path):
    path = write_csv(tmp_path, [row for row in csv_rows() if row[0] != "Clicks"] + [("Clicks", "c", "")])

    with pytest.raises(CommandError, match="'Clicks' has only one song"):
        call_command("train_genre_model", "--csv", str(path), "--no-progress")


@pytest.mark.django_db
def test_the_command_refuses_a_genre_whose_songs_are_all_in_one_album(tmp_path):
    rows = [row for row in csv_rows() if row[0] != "Clicks"] + [("Clicks", "one album", "")] * 3
    path = write_csv(tmp_path, rows)

    with pytest.raises(CommandError, match="'Clicks' has all its songs in one album"):
        call_command("train_genre_model", "--csv", str(path), "--no-progress")


@pytest.mark.django_db
def test_the_command_refuses_a_csv_without_a_genre_column(tmp_path):
    path = write_csv(tmp_path, csv_rows(), header=("path", "album"))

    with pytest.raises(CommandError, match="needs a header with `path` and `genre` columns"):
        call_command("train_genre_model", "--csv", str(path), "--no-progress")


@pytest.mark.slow
@pytest.mark.django_db
def test_the_command_trains_on_a_csv_and_writes_the_registry_folder(tmp_path, model_dir):
    path = write_csv(tmp_path / "music", csv_rows())
    out = io.StringIO()

    call_command(
        "train_genre_model", "--csv", str(path), "--arch", "cnn", "--epochs", "2", "--windows", "2",
        "--no-progress", "--seed", "3", stdout=out,
    )  # fmt: skip

    genre_model = GenreModel.objects.get()
    assert genre_model.status == GenreModel.Status.DONE and not genre_model.is_active
    folder = genre_model.path
    assert folder.parent == model_dir / "genre"
    assert {p.name for p in folder.iterdir()} == {
        "model.keras",
        "labels.json",
        "card.json",
        "confusion.png",
        "curves.png",
    }
    card = json.loads((folder / "card.json").read_text())
    assert card == genre_model.card
    assert card["arch"] == "cnn" and card["seed"] == 3 and card["labels"] == sorted(GENRES)
    assert card["split"]["albums_in_train_and_test"] == 0
    assert card["split"]["test_songs"] + card["split"]["train_songs"] + card["split"]["validation_songs"] == 18
    for report in (card["metrics"], card["baselines"]["msd_tags"], card["baselines"]["logistic_regression"]):
        assert {"accuracy", "log_loss", "macro_precision", "macro_recall", "macro_f1", "per_label", "confusion"} <= set(
            report
        )
    assert card["baselines"]["msd_tags"]["log_loss"] is None  # it gives names, not probabilities
    assert (
        card["training"]["epochs_run"] <= 2
        and len(card["training"]["history"]["loss"]) == card["training"]["epochs_run"]
    )
    assert card["timings_seconds"]["total"] > 0
    assert genre_model.accuracy == card["metrics"]["accuracy"]
    text = out.getvalue()
    assert "18 songs from" in text and "MSD-tag mapping" in text and "logistic regression" in text


# The catalogue's own tags ------------------------------------------------------------------------------------


def catalogue_song(genre: str | None, *, album: str, seed: int, tags: list[str] | None = None) -> Song:
    """A catalogue song whose audio is one of the synthetic genres, tagged as ``tags`` (by default its genre) the
    way an import tags it (a new genre is placed under its broader one)."""
    song = make_song(album=Album.objects.get_or_create(title=album)[0])
    song.audio.save(f"genre-{seed}.wav", ContentFile(wav_bytes(genre_signal(genre or "Drone", seed=seed))))
    song.genres.set([Genre.objects.named(name) for name in (tags if tags is not None else [genre])])
    return song


@pytest.mark.django_db
def test_the_catalogue_rule_takes_songs_with_exactly_one_genre_tag():
    from recommender.genre_learning import catalogue_songs

    for i in range(2):
        catalogue_song("Drone", album=f"Drone {i}", seed=i)
        catalogue_song("Noise", album=f"Noise {i}", seed=10 + i)
    catalogue_song("Drone", album="Both", seed=20, tags=["Drone", "Noise"])  # ambiguous
    catalogue_song(None, album="Untagged", seed=21, tags=[])  # what the model is for
    catalogue_song("Clicks", album="Clicks 0", seed=22)  # one song: cannot be held out

    labelled = catalogue_songs()

    assert sorted(song.label for song in labelled.songs) == ["Drone", "Drone", "Noise", "Noise"]
    assert labelled.left_out == {"Clicks": "has only one song"}


@pytest.mark.django_db
def test_the_command_refuses_a_catalogue_with_one_genre_it_can_hold_out():
    for i in range(2):
        catalogue_song("Drone", album=f"Drone {i}", seed=i)
    catalogue_song("Noise", album="Noise 0", seed=10)

    with pytest.raises(CommandError, match=r"found only 'Drone'.* Left out: 'Noise' has only one song"):
        call_command("train_genre_model", "--no-progress")
    assert not GenreModel.objects.exists()


@pytest.mark.django_db
def test_the_top_level_rule_rolls_genres_up_the_tree():
    from recommender.genre_learning import catalogue_songs

    catalogue_song("Noise", album="a", seed=1, tags=["Death metal"])
    catalogue_song("Noise", album="b", seed=2, tags=["Metal", "Heavy metal"])  # one genre once rolled up
    catalogue_song("Drone", album="c", seed=3, tags=["Techno"])
    catalogue_song("Drone", album="d", seed=4, tags=["House"])

    labelled = catalogue_songs(top_level=True)

    assert sorted(song.label for song in labelled.songs) == ["Electronic", "Electronic", "Metal", "Metal"]


# The admin's job, activation, deactivation -------------------------------------------------------------------


def run_default_worker() -> bool:
    """Run a real worker on the default queue in burst mode, in this process (it shares the test's database)."""
    import django_rq
    from rq.worker import SimpleWorker

    return django_rq.get_worker("default", worker_class=SimpleWorker).work(burst=True)


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    client.force_login(admin)
    return client


def tagged_catalogue() -> None:
    for g, genre in enumerate(GENRES):
        for album in range(3):
            for song in range(2):
                catalogue_song(genre, album=f"{genre} {album}", seed=100 * g + 10 * album + song)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_admin_trains_a_model_in_the_background_and_shows_its_card(staff_client, default_queue):
    tagged_catalogue()

    response = staff_client.post(
        reverse("admin:recommender_genremodel_add"),
        {"name": "", "arch": "cnn", "epochs": 2, "patience": 2, "seed": 0, "windows": 2},
    )

    genre_model = GenreModel.objects.get()
    assert response.status_code == 302 and response.url == reverse(
        "admin:recommender_genremodel_change", args=[genre_model.pk]
    )
    assert genre_model.status == GenreModel.Status.QUEUED
    page = staff_client.get(response.url).content.decode()
    assert 'http-equiv="refresh"' in page and "Waiting for the worker" in page

    run_default_worker()

    genre_model.refresh_from_db()
    assert genre_model.status == GenreModel.Status.DONE, genre_model.error
    assert genre_model.progress_at is not None and genre_model.epoch >= 1  # progress was written as it trained
    assert genre_model.labels == sorted(GENRES)
    page = staff_client.get(response.url).content.decode()
    assert 'http-equiv="refresh"' not in page
    assert "Model card" in page and "MSD-tag mapping" in page and "Logistic regression" in page
    assert page.count("data:image/png;base64,") == 2
    assert "Activate" in page


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_activating_re_predicts_genres_and_deactivating_restores_the_msd_tag_mapping(staff_client, default_queue):
    from recommender.genre_learning import TrainingOptions, catalogue_songs, train_and_register

    tagged_catalogue()
    untagged = [catalogue_song(genre, album="Untagged", seed=900 + i, tags=[]) for i, genre in enumerate(GENRES)]
    for song in untagged:
        embed(song, np.ones(200))
        song.embeddings.update(tag_scores={"rock": 0.9, "ambient": 0.2})
        song.predicted_genres.set([Genre.objects.named("Rock")])
    genre_model = GenreModel.objects.create(name="cnn", arch="cnn", status=GenreModel.Status.TRAINING)
    train_and_register(catalogue_songs(), TrainingOptions(arch="cnn", epochs=2, windows=2), genre_model=genre_model)

    staff_client.post(reverse("admin:recommender_genremodel_activate", args=[genre_model.pk]))
    run_default_worker()

    genre_model.refresh_from_db()
    assert genre_model.is_active and genre_model.predicted_songs == genre_model.songs_to_predict == 3
    for song in untagged:
        prediction = GenrePrediction.objects.get(song=song, genre_model=genre_model)
        assert prediction.genre.name in GENRES and 1 / 3 <= prediction.confidence <= 1
        assert [g.name for g in song.predicted_genres.all()] == [prediction.genre.name]
    tagged = Song.objects.filter(genres__isnull=False)
    assert not GenrePrediction.objects.filter(song__in=tagged).exists()  # a song's own tags are kept

    page = staff_client.get(reverse("admin:recommender_genremodel_change", args=[genre_model.pk])).content.decode()
    assert "Its genres for songs without tags" in page and "Deactivate" in page
    assert staff_client.get(reverse("admin:recommender_genremodel_changelist")).status_code == 200

    staff_client.post(reverse("admin:recommender_genremodel_deactivate", args=[genre_model.pk]))
    run_default_worker()

    genre_model.refresh_from_db()
    assert not genre_model.is_active
    for song in untagged:
        assert [g.name for g in song.predicted_genres.all()] == ["Rock"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_song_analysed_while_a_model_is_active_gets_the_models_genre(default_queue):
    from recommender.genre_learning import TrainingOptions, catalogue_songs, train_and_register

    tagged_catalogue()
    genre_model = GenreModel.objects.create(name="cnn", arch="cnn", status=GenreModel.Status.TRAINING)
    train_and_register(catalogue_songs(), TrainingOptions(arch="cnn", epochs=1, windows=2), genre_model=genre_model)
    GenreModel.objects.filter(pk=genre_model.pk).update(is_active=True)
    song = catalogue_song("Clicks", album="New", seed=999, tags=[])

    embed(song, np.ones(200))  # as the analysis stores it
    run_default_worker()

    prediction = GenrePrediction.objects.get(song=song)
    assert [g.name for g in song.predicted_genres.all()] == [prediction.genre.name]


@pytest.mark.django_db
def test_only_one_model_is_active_at_a_time(staff_client):
    first = GenreModel.objects.create(name="a", status=GenreModel.Status.DONE, is_active=True)
    second = GenreModel.objects.create(name="b", status=GenreModel.Status.DONE)

    staff_client.post(reverse("admin:recommender_genremodel_activate", args=[second.pk]))

    assert list(GenreModel.objects.filter(is_active=True)) == [second]
    first.refresh_from_db()
    assert not first.is_active


@pytest.mark.django_db
def test_a_model_that_is_not_trained_cannot_be_activated(staff_client):
    queued = GenreModel.objects.create(name="a", status=GenreModel.Status.QUEUED)

    staff_client.post(reverse("admin:recommender_genremodel_activate", args=[queued.pk]))

    queued.refresh_from_db()
    assert not queued.is_active


@pytest.mark.django_db
def test_activation_is_for_staff_only(alice_client):
    genre_model = GenreModel.objects.create(name="a", status=GenreModel.Status.DONE)

    response = alice_client.post(reverse("admin:recommender_genremodel_activate", args=[genre_model.pk]))

    assert response.status_code == 302 and "/admin/login/" in response.url
    genre_model.refresh_from_db()
    assert not genre_model.is_active
