"""Radio (issue 11 §3): does it learn from skips and completed plays, does it keep its rules, how fast is it?

    .venv/bin/python bench/radio.py [--listeners 100] [--picks 30] [--calls 300] [--seed 0] [--model KEY]
                                    [--pair-from var/bench/demo_raw.npz] [--pull skipped=-0.2] [--speed-only]
    .venv/bin/python bench/radio.py --songs 100000 [--calls 300]     # speed only, synthetic catalogue

Like ``bench/personalisation.py`` the first form reads the development database (the demo catalogue: 238
analysed songs, album = game), because learning is a question about real embeddings; every simulated user (and
anything else written) is made inside one transaction that is rolled back at the end. The demo may have been analysed
with another embedder than today's default (musicnn_pair): ``--pair-from`` makes the default's vectors for this run
from each song's stored MSD and MTT features. ``--pull OUTCOME=WEIGHT`` tries other weights (an experiment).
``--songs N`` measures speed only, on the synthetic catalogue of ``bench/catalogue.py`` in the benchmark database
(made once, a few minutes, and reused).

**Does the radio learn?** Each simulated listener starts a song radio from a random song of one game (album A)
and wants another game's music (album B, drawn at random among the games with at least 8 songs, B ≠ A): every
song of B is let play to the end, every other song (the start included) is skipped after 5 s. The player is
simulated as ``static/js/player.js`` runs it: two radio songs queued after the playing one, and after every song
the queued ones are dropped and asked for anew with the session so far (so a pick knows every outcome but the
playing song's). Reported: the share of B's songs among picks 1-10, 11-20 and 21-30, against the same sessions
with learning off (every song sent as heard halfway: ``play_outcome`` says neither completed nor skipped, so only
the start steers) and against chance (B's share of the catalogue), next to the most of B that "2 per artist in any
10" lets ten picks hold. Membership of B, not a similarity threshold, decides what the listener keeps, so the figure
does not reward the embedding for agreeing with itself.

**Skip twice, the picks move away** (the issue's test), from every analysed song: the start let play to the end,
five picks; the first two of them skipped, and five picks again. The same with those two songs heard halfway
(no signal) and let play to the end. Reported: the mean cosine distance from the five new picks to the nearer of
the two songs, median over starts, and for how many starts the skips moved the picks further than no signal did;
and how far the picks are from the start itself, against two random songs' distance.

**Rules**, checked in every simulated session: no song twice (nor a copy: same content hash), at most 2 songs of
one artist in any 10 in a row, counting the start.

**Speed**: ``recommender.radio.next_songs`` (k=3 and k=1) and ``POST /radio/next`` through Django's test client
(middleware, session, rate limit and JSON included), mid-session: a station from a random song, 10 songs heard
(completed, skipped or halfway at random) and one queued; median and p95 over ``--calls`` calls each
(``next_songs`` alone; the endpoint also finds the station).
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench import harness

MIN_ALBUM_SONGS = 8
SKIP_SECONDS = 5.0
# The player keeps this many radio songs after the playing one (RADIO_AHEAD in static/js/player.js).
RADIO_AHEAD = 2
DECILE = 10
SKIP_TEST_PICKS = 5
SPEED_HEARD = 10
USERS_FOR_ENDPOINT = 20  # the endpoint allows 120 requests a minute a person: calls rotate over several


@dataclass
class Catalogue:
    """What the simulation needs to know of every analysed catalogue song."""

    ids: list[int]
    album: dict[int, str]
    artist_group: dict[int, int]
    content_hash: dict[int, str]
    duration: dict[int, float]
    vectors: dict[int, np.ndarray]
    by_album: dict[str, list[int]] = field(default_factory=dict)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--listeners", type=int, default=60, help="simulated sessions (each run twice: learning on, off)"
    )
    parser.add_argument("--picks", type=int, default=30, help="songs each session plays after the start")
    parser.add_argument("--calls", type=int, default=300, help="timed calls per speed measurement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", help="embedding model key (default: the active one, else the one most songs have)")
    parser.add_argument(
        "--pair-from",
        type=Path,
        help="make musicnn_pair embeddings of the demo (for this run only) from each song's stored MSD and MTT "
        "features in this .npz (path, msd, mtt: as var/bench/demo_raw.npz), and use them",
    )
    parser.add_argument("--starts", type=int, default=0, help="skip test from this many songs (default: all)")
    parser.add_argument(
        "--pull",
        action="append",
        default=[],
        metavar="OUTCOME=WEIGHT",
        help="an experiment: another weight for an outcome (recommender.core.radio.PULL), e.g. skipped=-0.2",
    )
    parser.add_argument("--no-speed", action="store_true", help="leave out the speed measurements")
    parser.add_argument("--speed-only", action="store_true", help="only the speed measurements")
    parser.add_argument("--songs", type=int, default=0, help="speed only, on a synthetic catalogue of this many songs")
    args = parser.parse_args()

    if args.songs:
        harness.start_services(redis=True)
        harness.setup_django()
    else:
        from musrec_site import services

        harness.use_development_database()  # the demo catalogue, as ./musrec run keeps it
        # A throw-away Redis for the endpoint's sessions and rate-limit counters, never the site's.
        redis = services.start_redis(harness.BENCH_VAR / "radio-redis", persistent=False)
        atexit.register(redis.stop)
        os.environ["REDIS_URL"] = redis.url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musrec_site.settings")
        harness.setup_django(migrate=False)
    from django.db import transaction
    from django.test.utils import setup_test_environment

    setup_test_environment()  # lets the test client in (ALLOWED_HOSTS)
    logging.getLogger("axes").setLevel(logging.WARNING)  # a line for every force_login otherwise
    info = harness.print_machine(harness.database_versions())
    pulls = set_pulls(args.pull)
    started = time.perf_counter()
    if args.songs:
        from bench import catalogue

        cat = catalogue.ensure_catalogue(args.songs)
        if cat.created:
            print(
                f"Made the catalogue: {cat.created['insert_seconds']:.0f} s for the rows, "
                f"{cat.created['index']['seconds']:.0f} s for the index"
            )
    with transaction.atomic():
        try:
            model = use_model(args.model) if not args.pair_from else pair_embeddings(args.pair_from)
            if not args.songs:
                from recommender.models import Embedding

                # CSLS's r(y), as the worker computes it for the active model's songs. Not on the synthetic
                # catalogue (nor in bench/knn.py): it would rewrite 100,000 rows, HNSW index entries included.
                Embedding.objects.refresh_neighbour_similarity()
            songs = load_catalogue(model, synthetic=bool(args.songs))
            rng = np.random.default_rng(args.seed)
            results: dict = {"model": model, "songs": len(songs.ids), "seed": args.seed, "pull": pulls}
            if not args.songs and not args.speed_only:
                results["learning"] = learning(songs, model, rng, listeners=args.listeners, picks=args.picks)
                results["skip_test"] = skip_test(songs, model, starts=args.starts)
            if not args.no_speed:
                results["speed"] = speed(songs, model, rng, calls=args.calls)
        finally:
            transaction.set_rollback(True)
    results["seconds"] = round(time.perf_counter() - started, 1)
    print_report(results)
    name = f"radio-{args.songs}" if args.songs else "radio-pair" if args.pair_from else "radio"
    name += "".join(f"-{item}" for item in args.pull)
    name += "-speed" if args.speed_only else ""
    harness.save_results(name, {"machine": info, **results})


def set_pulls(overrides: list[str]) -> dict[str, float]:
    """The radio's weights for this run, with the experiment's ``OUTCOME=WEIGHT`` overrides."""
    from recommender.core import radio

    for item in overrides:
        outcome, _, weight = item.partition("=")
        if outcome not in radio.PULL:
            raise SystemExit(f"--pull: {outcome!r} is not one of {', '.join(radio.PULL)}")
        radio.PULL[outcome] = float(weight)
    if overrides:
        print(f"Experiment: the radio's weights are {radio.PULL} for this run\n")
    return dict(radio.PULL)


def use_model(requested: str | None) -> str:
    """The embeddings to use, made the active ones for this process so that the endpoint uses them too."""
    from django.conf import settings
    from django.db.models import Count

    from recommender.models import Embedding, active_model_key

    key = requested or active_model_key()
    if not Embedding.objects.filter(model=key).exists():
        # The demo may have been analysed with another embedder than today's default and not re-analysed yet.
        found = Embedding.objects.values("model").annotate(n=Count("pk")).order_by("-n").first()
        if found is None:
            raise SystemExit("No song has an embedding: build the demo catalogue first (./musrec run).")
        print(f"Note: no embeddings of {key}; using {found['model']} ({found['n']} songs).\n")
        key = found["model"]
    settings.MUSREC_MODEL = key.split("@", 1)[0]
    if active_model_key() != key:
        raise SystemExit(f"Cannot make {key} the active model (MUSREC_MODEL gives {active_model_key()}).")
    return key


def pair_embeddings(path: Path) -> str:
    """Store musicnn_pair vectors of the demo songs from their stored raw features (inside the rolled-back
    transaction); the key, made active for this process."""
    from django.conf import settings

    from catalog.models import Song
    from recommender.core.analysis import model_key
    from recommender.core.embedders import load_card
    from recommender.models import Embedding, active_model_key

    card = load_card("musicnn_pair")
    key = model_key(card)
    raw = np.load(path)
    row_of = {str(p): i for i, p in enumerate(raw["path"])}
    media = Path(settings.MEDIA_ROOT)
    songs = [(pk, row_of.get(str(media / audio))) for pk, audio in Song.objects.catalogue().values_list("pk", "audio")]
    found = [(pk, row) for pk, row in songs if row is not None]
    rows = [row for _, row in found]
    # The archive names each network's features by its first word: msd_musicnn's are under "msd".
    vectors = card.combine({name: raw[name.split("_")[0]][rows] for name in card.networks})
    Embedding.objects.filter(model=key).delete()
    Embedding.objects.bulk_create(
        Embedding(song_id=pk, model=key, vector=vector.tolist()) for (pk, _), vector in zip(found, vectors, strict=True)
    )
    print(f"Made {key} embeddings of {len(found)} of {len(songs)} catalogue songs from {path}\n")
    settings.MUSREC_MODEL = card.name
    if active_model_key() != key:
        raise SystemExit(f"Cannot make {key} the active model (MUSREC_MODEL gives {active_model_key()}).")
    return key


def load_catalogue(model: str, *, synthetic: bool) -> Catalogue:
    from catalog.models import Song, artist_group_key
    from recommender.personal import vectors_of

    rows = list(
        Song.objects.catalogue()
        .filter(embeddings__model=model)
        .values_list("pk", "album__title", "artist_id", "artist__name", "album_id", "content_hash", "duration")
        .order_by("pk")
    )
    songs = Catalogue(
        ids=[row[0] for row in rows],
        album={pk: album or "(no album)" for pk, album, *_ in rows},
        artist_group={pk: artist_group_key(a, name, album, pk) for pk, _, a, name, album, _, _ in rows},
        content_hash={row[0]: row[5] for row in rows},
        duration={row[0]: row[6] for row in rows},
        # 100,000 vectors are not needed for timing; the learning figures need the demo's.
        vectors={} if synthetic else vectors_of([row[0] for row in rows], model=model),
    )
    for pk in songs.ids:
        songs.by_album.setdefault(songs.album[pk], []).append(pk)
    print(f"{len(songs.ids)} catalogue songs with {model} embeddings\n", flush=True)
    return songs


# --- what a listener does with a song --------------------------------------------------------------------------


def completed(song: int, songs: Catalogue):
    from recommender.radio import Heard

    return Heard(song, songs.duration[song], True)


def skipped(song: int, songs: Catalogue):
    from recommender.radio import Heard

    return Heard(song, SKIP_SECONDS, False)


def halfway(song: int, songs: Catalogue):
    """Heard between the skip mark and 90 %, stopped: neither completed nor skipped, so no signal."""
    from catalog.models import listening
    from recommender.radio import Heard

    duration = songs.duration[song]
    mark = duration / 2 if duration < listening.SHORT_SONG_SECONDS else listening.SKIP_WITHIN_SECONDS
    return Heard(song, (mark + listening.COMPLETED_FRACTION * duration) / 2, False)


def check_outcomes(songs: Catalogue) -> None:
    """The simulated listener's plays mean what the benchmark says they mean, for every song."""
    from catalog.models import play_outcome

    for song in songs.ids:
        for heard, expected in ((completed, (True, False)), (skipped, (False, True)), (halfway, (False, False))):
            item = heard(song, songs)
            outcome = play_outcome(duration=songs.duration[song], seconds=item.seconds, reached_end=item.ended)
            if outcome != expected:
                raise SystemExit(f"song {song}: {heard.__name__} is judged {outcome}, not {expected}")


# --- does it learn? --------------------------------------------------------------------------------------------


def play_session(user, start: int, wants: set[int], songs: Catalogue, *, learning: bool, picks: int, timings: list):
    """The songs a session plays after ``start`` (``picks`` of them, fewer if the radio runs dry), as the player
    asks for them: ``RADIO_AHEAD`` queued, dropped and asked for anew after every song."""
    from recommender import radio

    at = radio.station(user, "song", start)
    queue, index, heard = [start], 0, []

    def ask(queued: list[int]) -> list[int]:
        t = time.perf_counter()
        found = radio.next_songs(user, at, heard, queued=queued, k=RADIO_AHEAD)
        timings.append(time.perf_counter() - t)
        return [song.pk for song in found]

    queue += ask([start])
    while index < picks:
        song = queue[index]
        if not learning:
            heard.append(halfway(song, songs))
        elif song in wants:
            heard.append(completed(song, songs))
        else:
            heard.append(skipped(song, songs))
        index += 1
        del queue[index + 1 :]  # the radio songs after the one now playing are asked for anew
        playing = queue[index : index + 1]
        queue += ask(playing)
        if index >= len(queue):
            break
    return queue[1 : picks + 1]


def rule_breaks(played: list[int], songs: Catalogue) -> list[str]:
    breaks = []
    if len(set(played)) != len(played):
        breaks.append("a song twice")
    if len({songs.content_hash[s] for s in played}) != len(played):
        breaks.append("a copy of a song")
    groups = [songs.artist_group[s] for s in played]
    for first in range(max(len(groups) - DECILE + 1, 1)):
        if max(Counter(groups[first : first + DECILE]).values()) > 2:
            breaks.append(f"3 songs of one artist in 10 from song {first}")
            break
    return breaks


def learning(songs: Catalogue, model: str, rng: np.random.Generator, *, listeners: int, picks: int) -> dict:
    from django.contrib.auth.models import User

    check_outcomes(songs)
    user = User.objects.create_user(f"simulated-radio-listener-{os.getpid()}")
    albums = sorted(a for a, ids in songs.by_album.items() if len(ids) >= MIN_ALBUM_SONGS)
    print(f"Learning: {listeners} listeners, {picks} picks each; albums with >= {MIN_ALBUM_SONGS} songs: {len(albums)}")
    deciles = [(start, min(start + DECILE, picks)) for start in range(0, picks, DECILE)]
    shares: dict[str, list[list[float]]] = {"learning": [], "off": [], "chance": [], "ceiling": []}
    found_share: dict[str, list[float]] = {"learning": [], "off": []}
    first_hit: dict[str, list[int]] = {"learning": [], "off": []}
    breaks: Counter[str] = Counter()
    short_sessions = 0
    timings: list[float] = []
    per_target: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for n in range(listeners):
        start_album, target = (str(a) for a in rng.choice(albums, 2, replace=False))
        start = int(rng.choice(songs.by_album[start_album]))
        wants = set(songs.by_album[target])
        chance = len(wants) / (len(songs.ids) - 1)
        shares["chance"].append([chance] * len(deciles))
        # At most 2 songs of one artist in 10: how many of B's songs ten picks can hold at most.
        per_artist = Counter(songs.artist_group[s] for s in wants)
        ceiling = min(DECILE, sum(min(2, count) for count in per_artist.values())) / DECILE
        shares["ceiling"].append([ceiling] * len(deciles))
        late = {}
        for condition in ("learning", "off"):
            played = play_session(
                user, start, wants, songs, learning=condition == "learning", picks=picks, timings=timings
            )
            short_sessions += len(played) < picks
            breaks.update(rule_breaks([start, *played], songs))
            hits = [song in wants for song in played]
            shares[condition].append([sum(hits[a:b]) / max(len(hits[a:b]), 1) for a, b in deciles])
            found_share[condition].append(sum(hits) / len(wants))
            first_hit[condition].append(hits.index(True) + 1 if any(hits) else picks + 1)
            late[condition] = float(np.mean(hits[DECILE:])) if len(hits) > DECILE else 0.0
        per_target[target].append((late["learning"], late["off"]))
        if (n + 1) % 10 == 0:
            print(f"  {n + 1}/{listeners} listeners", flush=True)
    learn_late = [float(np.mean(s[1:])) if len(s) > 1 else 0.0 for s in shares["learning"]]
    off_late = [float(np.mean(s[1:])) if len(s) > 1 else 0.0 for s in shares["off"]]
    return {
        "listeners": listeners,
        "picks": picks,
        "albums": albums,
        "deciles": [f"{a + 1}-{b}" for a, b in deciles],
        "share_mean": {c: np.mean(v, axis=0).round(3).tolist() for c, v in shares.items()},
        "share_median": {c: np.median(v, axis=0).round(3).tolist() for c, v in shares.items()},
        "found_of_target": {c: summarise(v) for c, v in found_share.items()},
        "first_hit_median": {c: statistics.median(v) for c, v in first_hit.items()},
        "never_hit": {c: sum(v == picks + 1 for v in first_hit[c]) for c in first_hit},
        "paired_after_10": compare(learn_late, off_late),
        "per_target_after_10": {
            t: {
                "sessions": len(v),
                "learning": round(np.mean([a for a, _ in v]), 3),
                "off": round(np.mean([b for _, b in v]), 3),
            }
            for t, v in sorted(per_target.items())
        },
        "rule_breaks": dict(breaks),
        "sessions_checked": 2 * listeners,
        "short_sessions": short_sessions,
        "call_ms": {"median": ms(statistics.median(timings)), "p95": ms(harness.percentile(timings, 95))},
    }


def skip_test(songs: Catalogue, model: str, *, starts: int = 0) -> dict:
    """The issue's test on real embeddings, from every analysed song."""
    from django.contrib.auth.models import User

    from recommender import radio

    user = User.objects.create_user(f"simulated-radio-skipper-{os.getpid()}")
    distances: dict[str, list[float]] = {"skipped": [], "heard halfway": [], "completed": []}
    from_start: dict[str, list[float]] = {"before": [], "skipped": [], "heard halfway": [], "completed": []}
    breaks: Counter[str] = Counter()
    chosen = songs.ids[:starts] if starts else songs.ids
    for start in chosen:
        at = radio.station(user, "song", start)
        heard = [completed(start, songs)]
        before = [s.pk for s in radio.next_songs(user, at, heard, k=SKIP_TEST_PICKS)]
        pair = before[:2]
        targets = np.stack([songs.vectors[s] for s in pair])
        from_start["before"].append(float(np.mean([1 - songs.vectors[start] @ songs.vectors[s] for s in before])))
        for name, how in (("skipped", skipped), ("heard halfway", halfway), ("completed", completed)):
            after = [s.pk for s in radio.next_songs(user, at, heard + [how(s, songs) for s in pair], k=SKIP_TEST_PICKS)]
            breaks.update(rule_breaks([start, *pair, *after], songs))
            nearest = [1 - float(np.max(targets @ songs.vectors[s])) for s in after]
            distances[name].append(float(np.mean(nearest)))
            from_start[name].append(float(np.mean([1 - songs.vectors[start] @ songs.vectors[s] for s in after])))
    print(f"Skip test: {len(chosen)} starts\n", flush=True)
    return {
        "starts": len(chosen),
        "distance_median": {k: round(statistics.median(v), 4) for k, v in distances.items()},
        "distance_mean": {k: round(statistics.fmean(v), 4) for k, v in distances.items()},
        "from_start_median": {k: round(statistics.median(v), 4) for k, v in from_start.items()},
        "space": space(songs),
        "skipped_vs_halfway": compare(distances["skipped"], distances["heard halfway"]),
        "halfway_vs_completed": compare(distances["heard halfway"], distances["completed"]),
        "rule_breaks": dict(breaks),
    }


def space(songs: Catalogue) -> dict[str, float]:
    """How far apart songs are in this embedding, to read the distances above against."""
    vectors = np.stack([songs.vectors[s] for s in songs.ids])
    cosines = vectors @ vectors.T
    np.fill_diagonal(cosines, np.nan)
    nearest = np.sort(np.nan_to_num(cosines, nan=-2.0), axis=1)[:, ::-1][:, :SKIP_TEST_PICKS]
    return {
        "random_pair_distance_median": round(float(1 - np.nanmedian(cosines)), 4),
        "five_nearest_distance_median": round(float(1 - np.median(nearest)), 4),
    }


# --- speed -----------------------------------------------------------------------------------------------------


def speed(songs: Catalogue, model: str, rng: np.random.Generator, *, calls: int) -> dict:
    from django.contrib.auth.models import User
    from django.test import Client

    from recommender import radio

    users = [User.objects.create_user(f"simulated-radio-{os.getpid()}-{i}") for i in range(USERS_FOR_ENDPOINT)]
    clients = []
    for user in users:
        client = Client()
        client.force_login(user)
        clients.append(client)
    outcomes = (completed, skipped, halfway)

    def session() -> tuple[int, list, int]:
        chosen = [int(s) for s in rng.choice(songs.ids, SPEED_HEARD + 1, replace=False)]
        start, others = chosen[0], chosen[1:]
        heard = [completed(start, songs)] + [outcomes[int(rng.integers(3))](s, songs) for s in others[:-1]]
        return start, heard, others[-1]

    timings: dict[str, list[float]] = defaultdict(list)
    statuses: Counter[int] = Counter()
    print(f"Speed: {calls} calls each", flush=True)
    for i in range(calls + 5):  # the first 5 warm up, untimed
        start, heard, queued = session()
        user, client = users[i % len(users)], clients[i % len(users)]
        for k in (3, 1):
            at = radio.station(user, "song", start)
            t = time.perf_counter()
            found = radio.next_songs(user, at, heard, queued=[queued], k=k)
            elapsed = time.perf_counter() - t
            if i >= 5:
                timings[f"next_songs k={k}"].append(elapsed)
                timings[f"songs k={k}"].append(len(found))
        form = {
            "kind": "song",
            "id": start,
            "count": 3,
            "heard": [f"{h.song_id}:{h.seconds:.1f}:{int(h.ended)}" for h in heard],
            "queued": [queued],
        }
        t = time.perf_counter()
        response = client.post("/radio/next", form)
        elapsed = time.perf_counter() - t
        statuses[response.status_code] += 1
        if i >= 5:
            timings["POST /radio/next k=3"].append(elapsed)
        if (i + 1) % 100 == 0:
            print(f"  {i + 1}/{calls + 5}", flush=True)
    return {
        "calls": calls,
        "heard": SPEED_HEARD,
        "statuses": dict(statuses),
        "songs_returned": {k: round(statistics.fmean(v), 2) for k, v in timings.items() if k.startswith("songs")},
        "ms": {
            name: {"median": ms(statistics.median(v)), "p95": ms(harness.percentile(v, 95))}
            for name, v in timings.items()
            if not name.startswith("songs")
        },
    }


# --- report ----------------------------------------------------------------------------------------------------


def ms(seconds: float) -> float:
    return round(1000 * seconds, 1)


def summarise(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "mean": round(statistics.fmean(values), 3)}


def compare(ours: list[float], theirs: list[float]) -> dict[str, float]:
    n = len(ours)
    return {
        "above": round(sum(a > b for a, b in zip(ours, theirs, strict=True)) / n, 3),
        "level": round(sum(a == b for a, b in zip(ours, theirs, strict=True)) / n, 3),
        "below": round(sum(a < b for a, b in zip(ours, theirs, strict=True)) / n, 3),
    }


def print_report(results: dict) -> None:
    print(
        f"\nModel {results['model']}, {results['songs']} songs, seed {results['seed']}, weights {results['pull']}, "
        f"{results['seconds']} s in all.\n"
    )
    if "learning" in results:
        r = results["learning"]
        print(f"Share of the target album's songs among the picks ({r['listeners']} listeners, mean / median)\n")
        rows = []
        for condition, label in (
            ("learning", "radio, learning"),
            ("off", "radio, learning off"),
            ("chance", "chance"),
            ("ceiling", "ceiling (2 per artist in 10)"),
        ):
            cells = [
                f"{mean:.2f} / {median:.2f}"
                for mean, median in zip(r["share_mean"][condition], r["share_median"][condition], strict=True)
            ]
            rows.append([label, *cells])
        print(harness.markdown_table(["", *[f"Picks {d}" for d in r["deciles"]]], rows))
        print(
            f"\nOf the target album's songs, found in {r['picks']} picks (median / mean): learning "
            f"{r['found_of_target']['learning']['median']:.2f} / {r['found_of_target']['learning']['mean']:.2f}, off "
            f"{r['found_of_target']['off']['median']:.2f} / {r['found_of_target']['off']['mean']:.2f}. First target "
            f"song at pick (median): learning {r['first_hit_median']['learning']}, off {r['first_hit_median']['off']}; "
            f"none in {r['picks']} picks: {r['never_hit']['learning']} and {r['never_hit']['off']} sessions."
        )
        p = r["paired_after_10"]
        print(
            f"Picks 11-{r['picks']}, listener by listener, learning against off: above {p['above']:.0%}, "
            f"level {p['level']:.0%}, below {p['below']:.0%}."
        )
        print(
            f"Per target album, picks 11-{r['picks']}, learning / off: "
            + "; ".join(
                f"{t} ({v['sessions']}) {v['learning']:.2f} / {v['off']:.2f}"
                for t, v in r["per_target_after_10"].items()
            )
        )
        print(
            f"Rules: {r['sessions_checked']} sessions checked, breaks: {r['rule_breaks'] or 'none'}; sessions that ran "
            f"dry early: {r['short_sessions']}. next_songs (k=2) in the sessions: median {r['call_ms']['median']} ms, "
            f"p95 {r['call_ms']['p95']} ms.\n"
        )
    if "skip_test" in results:
        r = results["skip_test"]
        print(
            f"Skip twice ({r['starts']} starts): mean cosine distance from the next 5 picks "
            "to the nearer of the 2 songs\n"
        )
        print(
            harness.markdown_table(
                ["The 2 songs were", "median", "mean"],
                [[k, f"{v:.3f}", f"{r['distance_mean'][k]:.3f}"] for k, v in r["distance_median"].items()],
            )
        )
        print(
            "\nMean cosine distance of the picks to the start (median): "
            + ", ".join(f"{k} {v:.3f}" for k, v in r["from_start_median"].items())
            + f". For scale: two random songs {r['space']['random_pair_distance_median']:.3f}, a song's 5 nearest "
            f"{r['space']['five_nearest_distance_median']:.3f} (medians)."
        )
        s, h = r["skipped_vs_halfway"], r["halfway_vs_completed"]
        print(
            f"\nSkipped farther than heard halfway: {s['above']:.0%} of starts (level {s['level']:.0%}, nearer "
            f"{s['below']:.0%}); heard halfway farther than completed: {h['above']:.0%} (level {h['level']:.0%}). "
            f"Rule breaks: {r['rule_breaks'] or 'none'}.\n"
        )
    if "speed" not in results:
        return
    r = results["speed"]
    print(f"Speed ({r['calls']} calls each, {r['heard']} songs heard, 1 queued; statuses {r['statuses']})\n")
    print(
        harness.markdown_table(
            ["Call", "median ms", "p95 ms"], [[name, v["median"], v["p95"]] for name, v in r["ms"].items()]
        )
    )
    print(f"\nSongs returned (mean): {r['songs_returned']}")


if __name__ == "__main__":
    main()
