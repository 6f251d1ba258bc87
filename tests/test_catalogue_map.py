"""The map of the catalogue (issue 13 §3): the projection, the worker's job that stores it, and the map's views."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from django.core.cache import cache
from django.urls import reverse

from catalog.models import Playlist, Rating, Song
from recommender.catalogue_map import (
    MAP_QUEUED_KEY,
    CatalogueMap,
    MapPoint,
    refresh_catalogue_map,
    schedule_catalogue_map,
)
from recommender.core.catalogue_map import MapInputError, neighbours_kept, project, trustworthiness
from recommender.models import active_model_key
from recommender.views_map import GRID, MAX_SELECTION, MAX_TRACKS
from tests.conftest import run_analysis_worker
from tests.factories import embed, make_song

D = 200


def clustered(n_clusters: int = 4, per_cluster: int = 30, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors [shape=(n, D)] around ``n_clusters`` random directions, and each one's cluster."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, D))
    labels = np.repeat(np.arange(n_clusters), per_cluster)
    vectors = centres[labels] + 0.35 * rng.standard_normal((len(labels), D))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), labels


# The projection (recommender/core/catalogue_map.py)


def test_the_projection_is_deterministic_and_fills_the_unit_square():
    vectors, _ = clustered()
    first, second = project(vectors), project(vectors.copy())

    np.testing.assert_array_equal(first.points, second.points)
    assert first.points.shape == (len(vectors), 2)
    assert first.points.min() >= 0 and first.points.max() <= 1
    # One axis spans the whole square; the other is centred in it.
    assert np.isclose(np.ptp(first.points, axis=0).max(), 1.0)


def test_a_vector_flipped_in_sign_gives_the_same_map():
    """SVD may return an axis or its opposite; the map must not mirror itself from one run to the next."""
    vectors, _ = clustered(seed=3)
    flipped = project(vectors)
    # The same songs listed in reverse order: the SVD works on other rows first, the axes must agree.
    reversed_points = project(vectors[::-1]).points[::-1]
    np.testing.assert_allclose(flipped.points, reversed_points, atol=1e-9)


def test_songs_of_one_cluster_stay_together_on_the_map():
    vectors, labels = clustered(n_clusters=3, per_cluster=40, seed=1)
    points = project(vectors).points

    squared = ((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(squared, np.inf)
    nearest_on_map = squared.argmin(axis=1)
    assert (labels[nearest_on_map] == labels).mean() >= 0.95
    assert trustworthiness(vectors, points, k=10) > 0.9
    # Within a cluster the noise has 200 dimensions and the map 2: most exact neighbours cannot survive, but more
    # than a random placement keeps (10 of 119 others, under 10 %).
    assert neighbours_kept(vectors, points, k=10) > 0.2


def test_transform_places_a_fitted_song_where_the_map_put_it():
    vectors, _ = clustered(seed=2)
    projection = project(vectors)

    np.testing.assert_allclose(projection.transform(vectors[:5]), projection.points[:5], atol=1e-9)


@pytest.mark.parametrize(
    "vectors",
    [np.zeros(D), np.full((3, D), np.nan), np.ones((3, D, 2))],
    ids=["one vector", "not finite", "three dimensions"],
)
def test_it_refuses_what_is_not_a_matrix_of_finite_vectors(vectors):
    with pytest.raises(MapInputError):
        project(vectors)


def test_one_song_or_none_still_gives_a_map():
    assert project(np.ones((1, D))).points.tolist() == [[0.5, 0.5]]
    assert project(np.zeros((0, D))).points.shape == (0, 2)


# The stored map, made by the worker (recommender/catalogue_map.py)


def embedded(title: str, vector: np.ndarray, **fields: object) -> Song:
    return embed(make_song(title=title, **fields), vector)


@pytest.fixture
def catalogue(db) -> list[Song]:
    vectors, labels = clustered(n_clusters=2, per_cluster=6, seed=4)
    genres = ["Jazz", "Metal"]
    return [
        embedded(f"{genres[label]} {i}", vector, genres=[genres[label]])
        for i, (vector, label) in enumerate(zip(vectors, labels, strict=True))
    ]


@pytest.fixture
def private_upload(bob) -> Song:
    return embedded("Bob's secret demo", clustered(seed=9)[0][0], owner=bob, in_catalogue=False)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_workers_maintenance_draws_the_map_of_the_analysed_catalogue(analysis_queue, catalogue, private_upload):
    assert not CatalogueMap.objects.exists()

    run_analysis_worker()  # its maintenance queues the map, then the burst runs the job

    stored = CatalogueMap.objects.get(model=active_model_key())
    assert stored.song_count == len(catalogue)
    assert sorted(stored.legend) == ["Jazz", "Metal"]
    points = MapPoint.objects.filter(model=stored.model)
    assert sorted(points.values_list("song_id", flat=True)) == sorted(song.pk for song in catalogue)
    assert all(0 <= point.x <= 1 and 0 <= point.y <= 1 for point in points)
    jazz = stored.legend.index("Jazz")
    assert {point.colour for point in points if point.song.title.startswith("Jazz")} == {jazz}
    assert analysis_queue.count == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_newly_analysed_song_joins_the_map_at_the_next_refresh_not_per_request(analysis_queue, catalogue):
    run_analysis_worker()
    late = embedded("Late arrival", clustered(seed=5)[0][0])

    # Within MAP_REFRESH_EVERY of the last refresh the maintenance does not queue another.
    assert not schedule_catalogue_map()
    assert not MapPoint.objects.filter(song=late).exists()

    cache.delete(MAP_QUEUED_KEY)  # the interval has passed
    run_analysis_worker()

    assert MapPoint.objects.filter(song=late).exists()
    assert CatalogueMap.objects.get().song_count == len(catalogue) + 1
    assert not schedule_catalogue_map()  # up to date: nothing to queue
    assert refresh_catalogue_map() == 0  # a job that runs twice finds nothing to do


@pytest.mark.django_db
def test_a_deleted_song_leaves_the_map_and_an_unshared_one_is_hidden_at_once(alice_client, catalogue):
    refresh_catalogue_map()
    gone, unshared = catalogue[0], catalogue[1]
    gone.delete()
    Song.objects.filter(pk=unshared.pk).update(in_catalogue=False)

    ids = alice_client.get(reverse("recommender:map_points")).json()["ids"]

    assert gone.pk not in ids and unshared.pk not in ids
    assert len(ids) == len(catalogue) - 2


# The views (recommender/views_map.py)


@pytest.mark.django_db
def test_bobs_private_upload_is_on_nobodys_map_not_even_counted(alice_client, bob_client, catalogue, private_upload):
    refresh_catalogue_map()
    assert not MapPoint.objects.filter(song=private_upload).exists()

    for client in (alice_client, bob_client):
        body = client.get(reverse("recommender:map_points")).json()
        assert private_upload.pk not in body["ids"]
        assert len(body["ids"]) == len(catalogue)
        page = client.get(reverse("recommender:map")).content.decode()
        assert f"Map of {len(catalogue)} songs" in page
        assert f"Map of {len(catalogue) + 1} songs" not in page
    described = alice_client.get(reverse("recommender:map_tracks"), {"ids": str(private_upload.pk)}).json()
    assert described == {"tracks": []}


@pytest.mark.django_db
def test_the_points_are_compact_parallel_lists_with_only_the_persons_own_likes(alice, bob, alice_client, catalogue):
    refresh_catalogue_map()
    Rating.objects.rate(alice, catalogue[0], Rating.LIKE)
    Rating.objects.rate(bob, catalogue[1], Rating.LIKE)

    response = alice_client.get(reverse("recommender:map_points"))
    body = response.json()

    assert response["Content-Type"] == "application/json"
    assert body["ids"] == sorted(song.pk for song in catalogue)
    assert len(body["x"]) == len(body["y"]) == len(body["colour"]) == len(catalogue)
    assert all(isinstance(v, int) and 0 <= v <= GRID for v in body["x"] + body["y"])
    assert body["liked"] == [catalogue[0].pk]
    assert b" " not in response.content  # no spaces: 100,000 points make megabytes otherwise


@pytest.mark.django_db
def test_the_points_travel_gzipped_to_a_browser_that_accepts_it(alice_client):
    vectors, _ = clustered(n_clusters=2, per_cluster=20, seed=6)
    for i, vector in enumerate(vectors):
        embedded(f"Song {i}", vector)
    refresh_catalogue_map()

    plain = alice_client.get(reverse("recommender:map_points"))
    compressed = alice_client.get(reverse("recommender:map_points"), headers={"accept-encoding": "gzip"})

    assert compressed["Content-Encoding"] == "gzip"
    assert len(compressed.content) < len(plain.content)
    assert json.loads(gzip.decompress(compressed.content)) == plain.json()


@pytest.mark.django_db
def test_the_map_page_says_when_the_worker_has_not_drawn_it_yet(alice_client, catalogue):
    page = alice_client.get(reverse("recommender:map")).content.decode()
    assert "has not been drawn yet" in page
    assert "<canvas" not in page


@pytest.mark.django_db
def test_the_map_wants_a_signed_in_person(client):
    for name in ("map", "map_points", "map_tracks"):
        response = client.get(reverse(f"recommender:{name}"))
        assert response.status_code == 302 and "/login" in response["Location"]


@pytest.mark.django_db
def test_songs_under_the_pointer_are_described_as_the_player_queues_them(alice_client, catalogue):
    refresh_catalogue_map()
    wanted = [catalogue[3].pk, catalogue[1].pk]

    tracks = alice_client.get(reverse("recommender:map_tracks"), {"ids": f"{wanted[0]},{wanted[1]}"}).json()["tracks"]

    assert [track["id"] for track in tracks] == [str(pk) for pk in wanted]
    assert tracks[0]["title"] == catalogue[3].title and tracks[0]["src"]


@pytest.mark.django_db
@pytest.mark.parametrize("ids", [",".join(["1"] * (MAX_TRACKS + 1)), "1,two", "-4"])
def test_it_refuses_a_description_of_too_many_or_malformed_ids(alice_client, ids):
    assert alice_client.get(reverse("recommender:map_tracks"), {"ids": ids}).status_code == 400


@pytest.mark.django_db
def test_a_selection_becomes_a_playlist_of_the_person_in_the_order_sent(alice, alice_client, catalogue):
    refresh_catalogue_map()
    chosen = [catalogue[5], catalogue[0], catalogue[2]]

    response = alice_client.post(
        reverse("recommender:map_playlist"), {"songs": ",".join(str(s.pk) for s in chosen), "name": "  Night   walk "}
    )

    playlist = Playlist.objects.get(owner=alice)
    assert response.status_code == 302 and response["Location"] == playlist.get_absolute_url()
    assert playlist.name == "Night walk"
    assert [item.song for item in playlist.items.order_by("position")] == chosen


@pytest.mark.django_db
def test_a_selection_holding_someone_elses_private_upload_is_refused_whole(alice_client, catalogue, private_upload):
    refresh_catalogue_map()

    response = alice_client.post(
        reverse("recommender:map_playlist"), {"songs": f"{catalogue[0].pk},{private_upload.pk}", "name": "Mine"}
    )

    assert response.status_code == 400
    assert not Playlist.objects.exists()


@pytest.mark.django_db
def test_a_selection_larger_than_the_bound_is_refused(alice_client, catalogue):
    refresh_catalogue_map()
    songs = ",".join(str(catalogue[0].pk + i) for i in range(MAX_SELECTION + 1))

    response = alice_client.post(reverse("recommender:map_playlist"), {"songs": songs, "name": "Huge"})

    assert response.status_code == 400
    assert not Playlist.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("songs", "name", "message"),
    [("", "Empty", "select some songs"), ("{first}", "   ", "needs a name"), ("{first}", "x" * 300, "at most")],
)
def test_an_empty_selection_or_a_bad_name_is_explained(alice_client, catalogue, songs, name, message):
    refresh_catalogue_map()

    response = alice_client.post(
        reverse("recommender:map_playlist"), {"songs": songs.format(first=catalogue[0].pk), "name": name}, follow=True
    )

    assert message in response.content.decode()
    assert not Playlist.objects.exists()


def test_the_palette_covers_every_colour_the_job_gives():
    from recommender.catalogue_map import MAP_COLOURS
    from recommender.views_map import PALETTE

    assert len(PALETTE) >= MAP_COLOURS + 1
