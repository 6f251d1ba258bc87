"""The collaborative model (issue 14, first part): the confidence matrix, the worker's training job, the stored
factors and the scores the blend will read."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from catalog.models import Play, Playlist, PlaylistItem, Rating, Song
from recommender.collaborative import (
    TRAINING_QUEUED_KEY,
    CollaborativeModel,
    ListenerFactor,
    SongFactor,
    collaborative_scores,
    current_model,
    evidence,
    schedule_collaborative_training,
    train_collaborative_model,
)
from recommender.core.collaborative import (
    CollaborativeError,
    Event,
    FeedbackWeights,
    event_weights,
    preference_matrix,
    train,
)
from tests.conftest import run_analysis_worker
from tests.factories import embed, make_song

D = 200
CLUSTERS = 4
PER_CLUSTER = 6
GROUP_SIZE = 6

# The confidence matrix (recommender/core/collaborative.py)


def test_events_say_yes_or_no_and_fade_with_age():
    weights = FeedbackWeights(half_life_days=30)
    kinds = np.array([Event.COMPLETED, Event.COMPLETED, Event.SKIPPED, Event.LIKE, Event.DISLIKE, Event.LIKE])
    ages = np.array([0.0, 30.0, 0.0, 0.0, 0.0, 3000.0])

    w = event_weights(kinds, ages, weights)

    assert w[0] == pytest.approx(weights.completed)
    assert w[1] == pytest.approx(weights.completed / 2)
    assert w[2] < 0 and w[4] < 0 and w[3] > 0
    # A like stays true until taken back: it fades to a floor, a play fades away.
    assert w[5] > 0.25 * weights.like


def test_repeated_plays_add_up_with_diminishing_returns_and_a_dislike_outweighs_a_play():
    users = np.array([1, 1, 1, 1, 2, 2, 3, 3])
    songs = np.array([10, 10, 10, 10, 10, 11, 11, 11])
    weights = np.array([1.0, 1.0, 1.0, 1.0, 1.0, -3.0, 1.0, -1.0])

    preferences = preference_matrix(users, songs, weights)
    matrix = preferences.matrix.toarray()

    assert preferences.users.tolist() == [1, 2] and preferences.songs.tolist() == [10, 11]
    once, four_times = matrix[1, 0], matrix[0, 0]
    assert once < four_times < 4 * once
    assert matrix[1, 1] < -1  # a dislike: "does not prefer", more surely than a song never heard
    # User 3's play and skip of song 11 cancel: no entry, so user 3 drops out of the matrix.
    assert preferences.matrix.nnz == 3
    assert preferences.listener_counts().tolist() == [2, 0]
    assert preferences.history_sizes().tolist() == [1, 2]


def test_the_caps_keep_the_busiest_songs_and_people():
    users = np.array([1, 1, 1, 2, 2, 3])
    songs = np.array([10, 11, 12, 10, 11, 10])
    preferences = preference_matrix(users, songs, np.ones(6), max_songs=2, max_users=2)

    assert preferences.songs.tolist() == [10, 11]
    assert preferences.users.tolist() == [1, 2]


@pytest.mark.parametrize(
    ("users", "songs", "weights"),
    [([1, 2], [1], [1.0]), ([1], [1], [np.nan]), ([[1]], [[1]], [[1.0]])],
    ids=["unequal lengths", "not finite", "two dimensions"],
)
def test_it_refuses_events_that_do_not_fit_together(users, songs, weights):
    with pytest.raises(CollaborativeError):
        preference_matrix(np.array(users), np.array(songs), np.array(weights))


def test_no_events_give_nothing_to_train():
    empty = preference_matrix(np.zeros(0), np.zeros(0), np.zeros(0))

    assert empty.matrix.shape == (0, 0)
    with pytest.raises(CollaborativeError):
        train(empty, factors=8)


# The stored model (recommender/collaborative.py), on real PostgreSQL


def cluster_vectors(seed: int = 0) -> np.ndarray:
    """PER_CLUSTER unit vectors around each of CLUSTERS directions [shape=(CLUSTERS * PER_CLUSTER, D)]."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((CLUSTERS, D))
    vectors = np.repeat(centres, PER_CLUSTER, axis=0) + 0.3 * rng.standard_normal((CLUSTERS * PER_CLUSTER, D))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def catalogue(db) -> list[Song]:
    """Songs in four acoustic clusters: what a taste group likes crosses them."""
    return [embed(make_song(title=f"Cluster {i // PER_CLUSTER} song {i}"), v) for i, v in enumerate(cluster_vectors())]


def taste_group(song: int) -> int:
    """The hidden taste group of a song: the first half of every cluster is group 0's, the second half group 1's."""
    return int(song % PER_CLUSTER >= PER_CLUSTER // 2)


@pytest.fixture
def listeners(catalogue) -> dict[int, list[User]]:
    """Two groups of listeners; each plays (some twice), likes and skips according to its group, not to sound."""
    rng = np.random.default_rng(1)
    now = timezone.now()
    groups: dict[int, list[User]] = {0: [], 1: []}
    plays, ratings = [], []
    for group in (0, 1):
        ours = [song for i, song in enumerate(catalogue) if taste_group(i) == group]
        theirs = [song for i, song in enumerate(catalogue) if taste_group(i) != group]
        for n in range(GROUP_SIZE):
            user = User.objects.create_user(f"listener-{group}-{n}")
            groups[group].append(user)
            for song in rng.choice(ours, size=7, replace=False):
                for repeat in range(int(rng.integers(1, 3))):
                    played_at = now - timedelta(days=int(rng.integers(0, 60)), minutes=repeat)
                    plays.append(Play(user=user, song=song, played_at=played_at, completed=True, seconds_listened=4))
            skipped = rng.choice(theirs)
            plays.append(Play(user=user, song=skipped, played_at=now, skipped=True, seconds_listened=1))
            ratings.append(Rating(user=user, song=rng.choice(ours), value=Rating.LIKE))
    Play.objects.bulk_create(plays)
    Rating.objects.bulk_create(ratings, ignore_conflicts=True)
    return groups


def played_by(user: User) -> set[int]:
    return set(Play.objects.filter(user=user).values_list("song_id", flat=True))


@pytest.mark.django_db
def test_each_taste_group_scores_its_own_unheard_songs_above_the_other_groups(catalogue, listeners):
    assert train_collaborative_model() == len(catalogue)

    group_of = {song.pk: taste_group(i) for i, song in enumerate(catalogue)}
    ranked_right = []
    for group, users in listeners.items():
        for user in users:
            unheard = [song.pk for song in catalogue if song.pk not in played_by(user)]
            scores = collaborative_scores(user, unheard)
            assert set(scores) == set(unheard)
            ours = [scores[pk] for pk in unheard if group_of[pk] == group]
            theirs = [scores[pk] for pk in unheard if group_of[pk] != group]
            assert np.mean(ours) > np.mean(theirs) + 0.05, user.username
            ranked_right += [a > b for a in ours for b in theirs]
    # Nearly every pair of an unheard song of one's group and one of the other group is ranked right (chance: 1/2).
    assert np.mean(ranked_right) >= 0.9, np.mean(ranked_right)


@pytest.mark.django_db
def test_the_model_is_stored_with_its_version_and_a_second_run_changes_nothing(catalogue, listeners):
    train_collaborative_model()
    model = current_model()

    assert model.factors == len(SongFactor.objects.first().vector) == len(ListenerFactor.objects.first().vector)
    assert model.user_count == 2 * GROUP_SIZE == ListenerFactor.objects.filter(model=model).count()
    assert SongFactor.objects.filter(model=model).count() == model.song_count == len(catalogue)

    assert train_collaborative_model() == 0
    assert list(CollaborativeModel.objects.values_list("pk", flat=True)) == [model.pk]

    Play.objects.record(listeners[0][0], catalogue[0], seconds_listened=4)
    assert train_collaborative_model() == len(catalogue)
    newer = current_model()
    assert newer.version > model.version
    # One version at a time: the older one's factors are gone with it.
    assert list(CollaborativeModel.objects.values_list("pk", flat=True)) == [newer.pk]
    assert not SongFactor.objects.filter(model_id=model.pk).exists()


@pytest.mark.django_db
def test_evidence_counts_listeners_and_the_persons_history(catalogue, listeners, alice):
    train_collaborative_model()
    listener = listeners[0][0]
    song = catalogue[0]
    fans = {
        user_id
        for user_id, song_id in Play.objects.filter(completed=True).values_list("user_id", "song_id")
        if song_id == song.pk
    } | set(Rating.objects.filter(song=song, value=Rating.LIKE).values_list("user_id", flat=True))

    found = evidence(listener, song)

    assert found.listeners == len(fans)
    assert found.history == len(played_by(listener) | set(listener.ratings.values_list("song_id", flat=True)))
    # Somebody the model has never heard of, and a song it does not know: no evidence, no scores.
    assert evidence(alice, song).history == 0
    assert collaborative_scores(alice, [song.pk]) == {}
    unknown = make_song(title="Nobody has played this")
    assert evidence(listener, unknown).listeners == 0
    assert collaborative_scores(listener, [unknown.pk]) == {}


@pytest.mark.django_db
def test_clearing_ones_history_forgets_what_was_learnt_from_it(catalogue, listeners):
    train_collaborative_model()
    listener = listeners[0][0]
    assert collaborative_scores(listener, [song.pk for song in catalogue])

    Play.objects.clear_history(listener)

    assert collaborative_scores(listener, [song.pk for song in catalogue]) == {}
    assert evidence(listener, catalogue[0]).history == 0


@pytest.mark.django_db
def test_a_private_upload_never_enters_the_model_nor_anyones_scores(catalogue, listeners, alice, bob):
    secret = make_song(title="Bob's secret demo", owner=bob, in_catalogue=False)
    # Bob plays it on repeat and keeps it in a playlist; alice's plays are from a time it was shared.
    Play.objects.bulk_create(Play(user=bob, song=secret, completed=True, seconds_listened=4) for _ in range(20))
    Play.objects.create(user=alice, song=secret, completed=True, seconds_listened=4)
    Rating.objects.create(user=bob, song=secret, value=Rating.LIKE)
    playlist = Playlist.objects.create(owner=bob, name="Mine")
    PlaylistItem.objects.create(playlist=playlist, song=secret, position=1)
    for song in catalogue[:3]:
        Play.objects.create(user=bob, song=song, completed=True, seconds_listened=4)

    train_collaborative_model()

    assert not SongFactor.objects.filter(song=secret).exists()
    for user in (alice, bob, listeners[0][0]):
        assert secret.pk not in collaborative_scores(user, [secret.pk, catalogue[4].pk])
    assert evidence(bob, secret).listeners == 0


@pytest.mark.django_db
def test_a_song_taken_out_of_the_catalogue_leaves_the_scores_at_once(catalogue, listeners):
    train_collaborative_model()
    listener, song = listeners[0][0], catalogue[1]
    assert song.pk in collaborative_scores(listener, [song.pk])

    Song.objects.filter(pk=song.pk).update(in_catalogue=False)

    assert collaborative_scores(listener, [song.pk]) == {}
    assert evidence(listener, song).listeners == 0


@pytest.mark.django_db
def test_no_plays_at_all_train_nothing_and_queue_nothing(catalogue, analysis_queue):
    assert train_collaborative_model() == 0
    assert current_model() is None
    cache.delete(TRAINING_QUEUED_KEY)
    assert not schedule_collaborative_training()
    assert collaborative_scores(User.objects.create_user("nobody"), [catalogue[0].pk]) == {}


@pytest.mark.django_db
def test_plays_of_private_uploads_alone_are_not_tried_again_every_minute(bob, analysis_queue):
    secret = make_song(title="Bob's secret demo", owner=bob, in_catalogue=False)
    Play.objects.create(user=bob, song=secret, completed=True, seconds_listened=4)

    assert schedule_collaborative_training()
    analysis_queue.empty()
    assert train_collaborative_model() == 0
    assert current_model() is None
    assert not schedule_collaborative_training()  # the next try waits TRAINING_GAP


@pytest.mark.django_db
def test_one_listener_alone_still_gets_a_model(catalogue, alice):
    for song in catalogue[:4]:
        Play.objects.create(user=alice, song=song, completed=True, seconds_listened=4)

    assert train_collaborative_model() == 4
    scores = collaborative_scores(alice, [song.pk for song in catalogue])
    assert sorted(scores) == sorted(song.pk for song in catalogue[:4])
    assert all(np.isfinite(list(scores.values())))


@pytest.mark.django_db
def test_it_is_trained_again_after_enough_new_events_or_hours(catalogue, alice, settings, analysis_queue):
    settings.MUSREC_CF_RETRAIN_EVENTS = 3
    Play.objects.create(user=alice, song=catalogue[0], completed=True, seconds_listened=4)
    train_collaborative_model()
    Play.objects.create(user=alice, song=catalogue[1], completed=True, seconds_listened=4)
    Play.objects.create(user=alice, song=catalogue[2], completed=True, seconds_listened=4)
    Play.objects.create(user=alice, song=catalogue[3], completed=True, seconds_listened=4)
    assert not schedule_collaborative_training()  # enough new events, but within TRAINING_GAP of the last training
    cache.delete(TRAINING_QUEUED_KEY)  # the gap has passed
    train_collaborative_model()
    cache.delete(TRAINING_QUEUED_KEY)

    assert not schedule_collaborative_training()  # nothing new
    Play.objects.create(user=alice, song=catalogue[1], completed=True, seconds_listened=4)
    assert not schedule_collaborative_training()  # one new event, and trained a moment ago

    CollaborativeModel.objects.update(trained_at=timezone.now() - timedelta(hours=settings.MUSREC_CF_RETRAIN_HOURS))
    assert schedule_collaborative_training()
    assert analysis_queue.count == 1
    assert not schedule_collaborative_training()  # already queued
    cache.delete(TRAINING_QUEUED_KEY)
    analysis_queue.empty()

    CollaborativeModel.objects.update(trained_at=timezone.now())
    for song in catalogue[5:8]:
        Play.objects.create(user=alice, song=song, completed=True, seconds_listened=4)
    assert schedule_collaborative_training()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_workers_maintenance_trains_the_model_and_a_second_burst_changes_nothing(
    analysis_queue, catalogue, listeners
):
    run_analysis_worker()  # its maintenance queues the training, then the burst runs the job

    model = current_model()
    assert model is not None
    assert model.song_count == len(catalogue)
    assert analysis_queue.count == 0

    run_analysis_worker()
    assert list(CollaborativeModel.objects.values_list("pk", flat=True)) == [model.pk]


@pytest.mark.parametrize("value", ["heavy", "nan", "inf"])
def test_a_weight_setting_that_is_not_a_finite_number_is_refused(monkeypatch, value):
    from django.core.exceptions import ImproperlyConfigured

    from musrec_site.settings import env_float

    monkeypatch.setenv("MUSREC_CF_LIKE", value)
    with pytest.raises(ImproperlyConfigured):
        env_float("MUSREC_CF_LIKE", 3.0)
    monkeypatch.setenv("MUSREC_CF_LIKE", "-2.5")
    assert env_float("MUSREC_CF_LIKE", 3.0) == -2.5


@pytest.mark.django_db
def test_a_cleared_history_makes_the_next_training_due_at_once(catalogue, alice, bob, settings, analysis_queue):
    # The songs' factors still hold what alice played: they are learnt again at the next maintenance, not a day on.
    settings.MUSREC_CF_RETRAIN_EVENTS = 1000
    for song in catalogue[:4]:
        Play.objects.create(user=alice, song=song, completed=True, seconds_listened=4)
        Play.objects.create(user=bob, song=song, completed=True, seconds_listened=4)
    train_collaborative_model()
    cache.delete(TRAINING_QUEUED_KEY)
    assert not schedule_collaborative_training()

    Play.objects.clear_history(alice)

    assert schedule_collaborative_training()
    assert analysis_queue.count == 1
    cache.delete(TRAINING_QUEUED_KEY)
    assert train_collaborative_model() > 0
    cache.delete(TRAINING_QUEUED_KEY)
    assert not schedule_collaborative_training()  # learnt without her plays: nothing is due any more


@pytest.mark.django_db
def test_the_admin_shows_the_trainings_and_nobodys_factor(catalogue, listeners, admin_client):
    train_collaborative_model()
    model = current_model()

    page = admin_client.get(reverse("admin:recommender_collaborativemodel_changelist")).content.decode()
    detail = admin_client.get(reverse("admin:recommender_collaborativemodel_change", args=[model.pk]))

    assert f"v{model.pk}" in page and str(model.user_count) in page
    assert detail.status_code == 200
    assert "Save" not in detail.content.decode()  # for looking only
    assert admin_client.get(reverse("admin:recommender_collaborativemodel_add")).status_code == 403
    # People's factors have no admin page at all.
    with pytest.raises(NoReverseMatch):
        reverse("admin:recommender_listenerfactor_changelist")
