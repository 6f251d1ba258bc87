"""Does "Sounds like…" find what it is asked for? 20 written-down descriptions over the demo catalogue.

    .venv/bin/python bench/describe_quality.py [--model KEY] [--k 10] [--repeat 5]

Like bench/personalisation.py, this reads the development database (the demo catalogue: ``./musrec run`` builds
it); it writes nothing. For each query it ranks the catalogue as the page does
(``recommender.describe_search.songs_described``, with and without the re-rank by sound) and counts the share of
the top ``k`` whose **stored tags or descriptors satisfy the query**, written down here independently of the
ranking's percentile arithmetic:

- a term is satisfied when one of its concept's tags is among the tags the song's page shows ("Sounds like": up
  to 8 confident tags, ``recommender.core.sounds_like``), or, for a
  concept that wants a tempo or an energy, when the song's tempo or energy is in the catalogue's upper third
  ("fast", "loud") or lower third ("slow", "calm"); a negated term ("no drums") when none of its tags is among
  shown; a tempo in BPM when the song's is within 5 % of the range (10 % for "around");
- a query is satisfied when every term the model can measure is.

Against **chance**: the share of all catalogue songs that satisfy the query, which is what a random top ``k``
scores on average (computed, not sampled). Also the time ``songs_described`` takes (median of ``--repeat``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench import harness

QUERIES = [
    "calm piano",
    "fast aggressive guitar",
    "sad strings at night",
    "happy 8-bit chiptune",
    "slow",
    "fast",
    "calm",
    "energetic",
    "loud",
    "quiet ambient",
    "sad",
    "happy",
    "dark and eerie",
    "around 90 bpm",
    "140-160 bpm",
    "electronic dance",
    "rock guitar",
    "no vocals",
    "relaxing chillout without drums",
    "epic orchestral",
]
SHOWN_TAGS = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="embedding model key (default: the active one, else the one most songs have)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--scale",
        type=int,
        default=0,
        help="also time the words' ranking with this many catalogue songs: copies of the demo's, added inside a "
        "transaction that is rolled back",
    )
    args = parser.parse_args()

    harness.setup_development_django()  # the demo catalogue, as ./musrec run keeps it
    from bench.personalisation import choose_model

    info = harness.print_machine(harness.database_versions())
    model = choose_model(args.model)
    results = evaluate(model=model, k=args.k, repeat=args.repeat)
    print_report(results)
    if args.scale:
        results["scale"] = scale_cost(model=model, n=args.scale, repeat=args.repeat)
    harness.save_results("describe_quality", {"machine": info, **results})


def satisfies(query, song: dict, thirds: dict[str, tuple[float, float]], keys: dict[str, str]) -> bool | None:
    """Whether ``song`` (its top tags and descriptors) satisfies every measurable term; None if none is."""
    verdicts = []
    for term in query.terms:
        verdict = None
        for target in term.targets:
            if target.weight < 1.0:
                continue
            if target.kind == "tags":
                names = {tag.partition(":")[2] for tag in target.tags if tag in keys}
                if not names:
                    continue
                named = bool(names & song["shown_tags"])
                ok = named if target.direction > 0 else not named
            else:
                name = "tempo_bpm" if target.kind == "tempo" else "energy"
                value = song[name]
                if value is None:
                    ok = False
                elif target.bpm is not None:
                    slack = 1.1 if target.sigma > 0.05 else 1.05
                    ok = target.bpm[0] / slack <= value <= target.bpm[1] * slack
                else:
                    low, high = thirds[name]
                    ok = value >= high if target.direction > 0 else value <= low
            # A negated term is satisfied only when all its targets are; a term, by any of them.
            verdict = ok if verdict is None else (verdict and ok if term.negated else verdict or ok)
        if verdict is not None:
            verdicts.append(verdict)
    return all(verdicts) if verdicts else None


def evaluate(*, model: str, k: int, repeat: int) -> dict:
    from django.contrib.auth.models import AnonymousUser

    from catalog.models import Song
    from recommender.core.describe import parse, stored_tag_keys
    from recommender.core.embedders import load_card
    from recommender.core.sounds_like import sounds_like
    from recommender.describe_search import songs_described
    from recommender.models import Embedding

    keys = stored_tag_keys(load_card(model.partition("@")[0]))
    songs: dict[int, dict] = {}
    rows = Embedding.objects.filter(model=model, song__in=Song.objects.catalogue()).values_list(
        "song_id", "tag_scores", "song__tempo_bpm", "song__energy"
    )
    for song_id, tag_scores, tempo, energy in rows:
        shown = {name for name, _ in sounds_like(tag_scores, SHOWN_TAGS)}
        songs[song_id] = {"shown_tags": shown, "tempo_bpm": tempo, "energy": energy}
    if not songs:
        raise SystemExit("No catalogue song has an embedding: build the demo catalogue first (./musrec run).")
    thirds = {}
    for name in ("tempo_bpm", "energy"):
        values = [s[name] for s in songs.values() if s[name] is not None]
        thirds[name] = (float(np.percentile(values, 100 / 3)), float(np.percentile(values, 200 / 3)))
    print(f"Model {model}: {len(songs)} catalogue songs with an embedding.\n")

    per_query = []
    anyone = AnonymousUser()
    for text in QUERIES:
        query = parse(text)
        verdicts = {song_id: satisfies(query, song, thirds, keys) for song_id, song in songs.items()}
        if all(v is None for v in verdicts.values()):
            per_query.append({"query": text, "measurable": False})
            continue
        chance = sum(1 for v in verdicts.values() if v) / len(verdicts)
        satisfying = sum(map(bool, verdicts.values()))
        row = {
            "query": text,
            "measurable": True,
            "chance": chance,
            "satisfying": satisfying,
            "best": min(satisfying, k) / k,
        }
        for label, rerank in (("words", False), ("words + sound", True)):
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                found = songs_described(query, anyone, k=k, model=model, rerank=rerank)
                times.append(time.perf_counter() - started)
            top = [song.pk for song in found.songs]
            row[label] = sum(1 for pk in top if verdicts.get(pk)) / k
            row[f"{label} ms"] = 1000 * statistics.median(times)
            row["scored"] = found.scored
            row["unscorable"] = [term.text for term in found.unscorable]
        per_query.append(row)
    # A query no catalogue song satisfies scores 0 whatever the ranking: the means leave it out.
    measured = [row for row in per_query if row["measurable"] and row["satisfying"]]
    labels = ("words", "words + sound", "chance", "best")
    summary = {label: statistics.mean(row[label] for row in measured) for label in labels}
    timing = {label: statistics.median(row[f"{label} ms"] for row in measured) for label in ("words", "words + sound")}
    return {"model": model, "songs": len(songs), "k": k, "queries": per_query, "mean": summary, "median_ms": timing}


def scale_cost(*, model: str, n: int, repeat: int) -> dict:
    """Time ``songs_described`` (words only) on the catalogue plus ``n`` copies of its songs, then roll them back.

    The copies get 3-d vectors, outside the HNSW indexes (one per real width), so that adding them stays quick;
    the words' ranking reads only tag scores and descriptors. The re-rank adds one ``nearest_songs`` search, whose
    cost at 100,000 songs is in docs/benchmarks.md.
    """
    from django.contrib.auth.models import AnonymousUser
    from django.db import connection, models, transaction

    from catalog.models import Song
    from recommender.core.describe import parse
    from recommender.describe_search import MAX_SCORED, songs_described
    from recommender.models import Embedding

    song_table, embedding_table = Song._meta.db_table, Embedding._meta.db_table
    columns = [
        field.column
        for field in Song._meta.concrete_fields
        if not field.primary_key and not isinstance(field, models.GeneratedField)
    ]
    copied = {"content_hash": "md5(s.content_hash || g::text)", "search_document": "''"}
    select = ", ".join(copied.get(column, f"s.{column}") for column in columns)
    timings: dict[str, float] = {}
    with transaction.atomic():
        try:
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(
                    f"""CREATE TEMP TABLE describe_source ON COMMIT DROP AS
                        SELECT s.id AS song_id, e.tag_scores, row_number() OVER (ORDER BY s.id) - 1 AS rn
                        FROM {song_table} s JOIN {embedding_table} e ON e.song_id = s.id AND e.model = %s
                        WHERE s.in_catalogue""",
                    [model],
                )
                cursor.execute("SELECT COUNT(*) FROM describe_source")
                (sources,) = cursor.fetchone()
                cursor.execute(
                    f"""CREATE TEMP TABLE describe_copies ON COMMIT DROP AS
                        WITH added AS (
                            INSERT INTO {song_table} ({", ".join(columns)})
                            SELECT {select} FROM generate_series(1, %s) g
                            JOIN describe_source d ON d.rn = g %% %s JOIN {song_table} s ON s.id = d.song_id
                            RETURNING id)
                        SELECT id FROM added""",
                    [n, sources],
                )
                cursor.execute(
                    f"""INSERT INTO {embedding_table} (song_id, model, vector, tag_scores, created_at)
                        SELECT c.id, %s, '[1,0,0]', d.tag_scores, now()
                        FROM describe_copies c JOIN describe_source d ON d.rn = c.id %% %s""",
                    [model, sources],
                )
                cursor.execute(f"ANALYZE {song_table}; ANALYZE {embedding_table}")
            print(f"\nAdded {n:,} copies in {time.perf_counter() - started:.0f} s; timing {len(QUERIES)} queries.")
            anyone = AnonymousUser()
            for text in QUERIES:
                query = parse(text)
                times = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    songs_described(query, anyone, model=model, rerank=False)
                    times.append(time.perf_counter() - started)
                timings[text] = 1000 * statistics.median(times)
        finally:
            transaction.set_rollback(True)
    # The rolled-back rows stay in the tables until vacuumed: every scan of them would read 100,000 dead rows.
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {song_table}")
        cursor.execute(f"VACUUM ANALYZE {embedding_table}")
    values = sorted(timings.values())
    result = {
        "songs": n + sources,
        "scored": min(MAX_SCORED, n + sources),
        "median_ms": statistics.median(values),
        "max_ms": values[-1],
        "per_query_ms": timings,
    }
    print(
        f"With {result['songs']:,} songs ({result['scored']:,} scored): words only, "
        f"median {result['median_ms']:.0f} ms per query, slowest {result['max_ms']:.0f} ms "
        f"({max(timings, key=timings.get)!r})."
    )
    return result


def print_report(results: dict) -> None:
    k = results["k"]
    rows = []
    for row in results["queries"]:
        if not row["measurable"]:
            rows.append([f"“{row['query']}”", "—", "—", "—", "—", "not measurable with this model's tags"])
            continue
        if not row["satisfying"]:
            rows.append([f"“{row['query']}”", "—", "—", "0%", "0%", "no catalogue song satisfies it"])
            continue
        note = f"left out: {', '.join(row['unscorable'])}" if row["unscorable"] else ""
        rows.append(
            [
                f"“{row['query']}”",
                f"{row['words']:.0%}",
                f"{row['words + sound']:.0%}",
                f"{row['chance']:.0%}",
                f"{row['best']:.0%}",
                note,
            ]
        )
    mean = results["mean"]
    rows.append(
        [
            f"**mean of {len([r for r in results['queries'] if r.get('satisfying')])}**",
            f"**{mean['words']:.0%}**",
            f"**{mean['words + sound']:.0%}**",
            f"**{mean['chance']:.0%}**",
            f"**{mean['best']:.0%}**",
            "",
        ]
    )
    print(
        harness.markdown_table(
            ["query", f"words: top {k} satisfying", "words + sound", "chance (random list)", "best possible", "note"],
            rows,
        )
    )
    timing = results["median_ms"]
    print(
        f"\nMedian time per query ({results['songs']} songs scored): words {timing['words']:.1f} ms, "
        f"words + sound {timing['words + sound']:.1f} ms"
    )


if __name__ == "__main__":
    main()
