"""Does personalisation help? Simulated listeners on the demo catalogue, For you against three baselines.

    .venv/bin/python bench/personalisation.py [--listeners 200] [--seed 0] [--k 20] [--album-skew 0] [--model KEY]

Unlike the other benchmarks this one reads the development database (the demo catalogue: 238 analysed
songs, album = game), because the question is about real embeddings. Everything it writes (simulated
listeners, their likes and plays) happens inside one transaction that is rolled back at the end, so no
simulated user remains, whatever happens.

Each listener takes two albums (games) with at least 8 songs, at random (``--album-skew S``: with odds
1/rank^S, so that some albums are more popular than others), and likes a random half of each
album's songs, rated 0-90 days ago; each liked song also gets 0-3 completed plays in the last 60 days, and
the listener skips 3 songs of other albums (played 0-30 days ago). The other half of the two albums is held
out: the songs the listener would like but has not met. Then, for each listener, top-``k`` lists:

- **For you**, as the page makes it (``recommender.personal.for_you``: several centres, recency, skips
  pushing away, at most 2 songs per artist);
- **one centre**: the same with ``max_centres=1``, i.e. the weighted mean of the liked songs;
- **popularity**: the songs most liked and completed by the *other* simulated listeners, leaving out what
  this listener already knows, under the same at-most-2-per-artist rule;
- **chance**: a random list of the songs the listener does not know (computed, not sampled).

Reported per method, median and mean over listeners: precision@k (share of the list that is held out),
recall@k (share of the held-out songs in the list) and hit rate (share of listeners with at least one
held-out song in their list). The artist rule caps what any list can find (Warzone 2100 is 26 of 30 songs
by one composer, and songs of "Unknown artist" are grouped per album), so the same figures without the
rule (``max_per_artist=None``, popularity unfiltered) are reported too.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from math import comb
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench import harness

MIN_ALBUM_SONGS = 8
SKIPS = 3
RECENT_LIKES_DAYS, PLAYS_DAYS, SKIPS_DAYS = 90, 60, 30


@dataclass
class Listener:
    name: str
    albums: tuple[str, str]
    liked: list[int]
    held_out: set[int]
    skipped: list[int]
    user: object = None
    known: set[int] = field(default_factory=set)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument(
        "--album-skew",
        type=float,
        default=0.0,
        help="albums are chosen with odds 1/rank**SKEW over a seeded random order (0: all albums equally likely)",
    )
    parser.add_argument("--model", help="embedding model key (default: the active one, else the one most songs have)")
    args = parser.parse_args()

    harness.setup_development_django()  # the demo catalogue, as ./musrec run keeps it
    from django.db import transaction

    info = harness.print_machine(harness.database_versions())
    started = time.perf_counter()
    with transaction.atomic():
        try:
            results = simulate(
                listeners=args.listeners, seed=args.seed, k=args.k, model=args.model, album_skew=args.album_skew
            )
        finally:
            transaction.set_rollback(True)
    results["seconds"] = round(time.perf_counter() - started, 1)
    print_report(results)
    name = "personalisation" if not args.album_skew else f"personalisation-skew{args.album_skew:g}"
    harness.save_results(name, {"machine": info, **results})


def choose_model(requested: str | None) -> str:
    from django.db.models import Count

    from recommender.models import Embedding, active_model_key

    if requested:
        return requested
    active = active_model_key()
    if Embedding.objects.filter(model=active).exists():
        return active
    # The demo may have been analysed with an earlier setting (another window count) and not re-analysed yet.
    fallback = Embedding.objects.values("model").annotate(n=Count("pk")).order_by("-n").first()
    if fallback is None:
        raise SystemExit("No song has an embedding: build the demo catalogue first (./musrec run).")
    print(f"Note: no embeddings of the active model {active}; using {fallback['model']} ({fallback['n']} songs).\n")
    return fallback["model"]


def simulate(*, listeners: int, seed: int, k: int, model: str | None, album_skew: float = 0.0) -> dict:
    from django.contrib.auth.models import User
    from django.utils import timezone

    from catalog.models import Play, Rating, Song, artist_group_key
    from recommender import personal

    model = choose_model(model)
    rng = np.random.default_rng(seed)
    rows = list(
        Song.objects.catalogue()
        .filter(embeddings__model=model)
        .values_list("pk", "album__title", "artist_id", "artist__name", "album_id")
        .order_by("pk")
    )
    catalogue = [pk for pk, *_ in rows]
    artist_of = {pk: artist_group_key(artist_id, name, album_id, pk) for pk, _, artist_id, name, album_id in rows}
    by_album: dict[str, list[int]] = defaultdict(list)
    for pk, album, *_ in rows:
        by_album[album or "(no album)"].append(pk)
    albums = sorted(a for a, songs in by_album.items() if len(songs) >= MIN_ALBUM_SONGS)
    print(f"{len(catalogue)} songs with {model} embeddings; albums with >= {MIN_ALBUM_SONGS} songs: {len(albums)}")
    # Some albums are more popular than others in real life; with a skew, popularity has something to go on.
    odds = np.empty(len(albums))
    odds[rng.permutation(len(albums))] = 1.0 / np.arange(1, len(albums) + 1) ** album_skew
    odds /= odds.sum()

    now = timezone.now()
    people: list[Listener] = []
    ratings, plays = [], []
    for n in range(listeners):
        pair = tuple(rng.choice(albums, 2, replace=False, p=odds))
        liked, held = [], set()
        for album in pair:
            songs = list(rng.permutation(by_album[album]))
            half = len(songs) // 2
            liked += [int(s) for s in songs[:half]]
            held |= {int(s) for s in songs[half:]}
        others = [s for s in catalogue if s not in held and s not in liked]
        skipped = [int(s) for s in rng.choice(others, SKIPS, replace=False)]
        user = User.objects.create_user(f"simulated-listener-{n}")
        person = Listener(user.username, pair, liked, held, skipped, user)
        for song in liked:
            ratings.append(
                Rating(user=user, song_id=song, value=Rating.LIKE, rated_at=now - days(rng, RECENT_LIKES_DAYS))
            )
            for _ in range(int(rng.integers(0, 4))):
                played_at = now - days(rng, PLAYS_DAYS)
                plays.append(Play(user=user, song_id=song, completed=True, seconds_listened=1, played_at=played_at))
        for song in skipped:
            plays.append(
                Play(user=user, song_id=song, skipped=True, seconds_listened=1, played_at=now - days(rng, SKIPS_DAYS))
            )
        people.append(person)
    Rating.objects.bulk_create(ratings)
    Play.objects.bulk_create(plays)
    recent = now - timedelta(days=personal.RECENT_DAYS)
    for person in people:
        # What For you leaves out, and so every method: liked songs and songs heard in the last two weeks.
        person.known = set(person.liked) | set(
            Play.objects.filter(user=person.user, played_at__gte=recent).values_list("song_id", flat=True)
        )

    # Popularity: likes count as much as For you weighs them against a completed play.
    popularity: Counter[int] = Counter()
    contribution: dict[str, Counter[int]] = {}
    for person in people:
        mine = Counter({s: personal.LIKE for s in person.liked})
        for song_id in Play.objects.filter(user=person.user, completed=True).values_list("song_id", flat=True):
            mine[song_id] += personal.COMPLETED_PLAY
        contribution[person.name] = mine
        popularity.update(mine)

    methods = ["For you", "one centre", "popularity", "chance"]
    scores: dict[str, dict[str, dict[str, list[float]]]] = {
        rule: {m: defaultdict(list) for m in methods} for rule in ("2 per artist", "no artist limit")
    }
    centre_counts: Counter[int] = Counter()
    timings: list[float] = []
    for i, person in enumerate(people, start=1):
        others = popularity - contribution[person.name]
        ranked = [s for s, _ in sorted(others.items(), key=lambda item: (-item[1], item[0])) if s not in person.known]
        candidates = [s for s in catalogue if s not in person.known]
        for rule, limit in (("2 per artist", 2), ("no artist limit", None)):
            t = time.perf_counter()
            ours = personal.for_you(person.user, k=k, model=model, now=now, max_per_artist=limit)
            if limit == 2:
                timings.append(time.perf_counter() - t)
                centre_counts[len(ours.centres)] += 1
            mean = personal.for_you(person.user, k=k, model=model, now=now, max_per_artist=limit, max_centres=1)
            lists = {
                "For you": [s.pk for s in ours.songs],
                "one centre": [s.pk for s in mean.songs],
                "popularity": capped(ranked, artist_of, limit)[:k],
            }
            for method, found in lists.items():
                record(scores[rule][method], found, person.held_out, k)
            record_chance(scores[rule]["chance"], len(candidates), len(person.held_out), k)
        if i % 25 == 0:
            print(f"  {i}/{len(people)} listeners", flush=True)

    summary = {
        rule: {
            method: {metric: summarise(values) for metric, values in by_metric.items()}
            for method, by_metric in by_method.items()
        }
        for rule, by_method in scores.items()
    }
    # Paired: per listener, is For you's precision above, level with or below each other method's?
    paired = {
        rule: {
            method: compare(by_method["For you"]["precision"], by_method[method]["precision"]) for method in methods[1:]
        }
        for rule, by_method in scores.items()
    }
    return {
        "paired": paired,
        "model": model,
        "listeners": listeners,
        "seed": seed,
        "album_skew": album_skew,
        "k": k,
        "songs": len(catalogue),
        "albums": albums,
        "held_out_median": statistics.median(len(p.held_out) for p in people),
        "liked_median": statistics.median(len(p.liked) for p in people),
        "centres": dict(sorted(centre_counts.items())),
        "for_you_ms_median": round(1000 * statistics.median(timings), 1),
        "summary": summary,
    }


def days(rng: np.random.Generator, most: int) -> timedelta:
    return timedelta(days=float(rng.uniform(0, most)))


def capped(ranked: list[int], artist_of: dict[int, int], limit: int | None) -> list[int]:
    if limit is None:
        return ranked
    per_artist: Counter[int] = Counter()
    kept = []
    for song in ranked:
        if per_artist[artist_of[song]] < limit:
            kept.append(song)
            per_artist[artist_of[song]] += 1
    return kept


def record(scores: dict[str, list[float]], found: list[int], held: set[int], k: int) -> None:
    hits = sum(song in held for song in found)
    scores["precision"].append(hits / k)
    scores["recall"].append(hits / len(held))
    scores["hit rate"].append(float(hits > 0))


def record_chance(scores: dict[str, list[float]], candidates: int, held: int, k: int) -> None:
    """What a random list of ``k`` of the ``candidates`` unknown songs expects (hypergeometric)."""
    scores["precision"].append(held / candidates)
    scores["recall"].append(min(k, candidates) / candidates)
    scores["hit rate"].append(1 - comb(candidates - held, k) / comb(candidates, k))


def compare(ours: list[float], theirs: list[float]) -> dict[str, float]:
    n = len(ours)
    return {
        "above": round(sum(a > b for a, b in zip(ours, theirs, strict=True)) / n, 3),
        "level": round(sum(a == b for a, b in zip(ours, theirs, strict=True)) / n, 3),
        "below": round(sum(a < b for a, b in zip(ours, theirs, strict=True)) / n, 3),
    }


def summarise(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "mean": round(statistics.fmean(values), 3)}


def print_report(results: dict) -> None:
    k = results["k"]
    print(
        f"\n{results['listeners']} simulated listeners, seed {results['seed']}, album skew {results['album_skew']}, "
        f"model {results['model']}, "
        f"{results['songs']} songs; median {results['liked_median']} liked and {results['held_out_median']} held out "
        f"per listener; centres found: {results['centres']}; For you took {results['for_you_ms_median']} ms "
        f"(median); {results['seconds']} s in all.\n"
    )
    for rule, by_method in results["summary"].items():
        print(f"Top {k}, {rule} (median / mean over listeners)\n")
        header = ["Method", f"Precision@{k}", f"Recall@{k}", "Hit rate"]
        rows = []
        for method, metrics in by_method.items():
            rows.append(
                [
                    method,
                    f"{metrics['precision']['median']:.2f} / {metrics['precision']['mean']:.2f}",
                    f"{metrics['recall']['median']:.2f} / {metrics['recall']['mean']:.2f}",
                    f"{metrics['hit rate']['mean']:.2f}",
                ]
            )
        print(harness.markdown_table(header, rows))
        versus = results["paired"][rule]
        print(
            "\nFor you's precision against each, listener by listener (above / level / below): "
            + "; ".join(f"{m} {v['above']:.0%} / {v['level']:.0%} / {v['below']:.0%}" for m, v in versus.items())
        )
        print()


if __name__ == "__main__":
    main()
