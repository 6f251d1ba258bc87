"""Songs that sound like a description ("calm piano"), among the songs a person may see.

The words are read and the songs ranked by ``recommender.core.describe``; this module fetches what it needs: for
each song with an embedding of the model, only the tags the description names (``jsonb_to_record``) and its
tempo, energy and loudness, never whole tag profiles or vectors. The scored songs are bounded: past
``MAX_SCORED``, the database keeps the best by a linear stand-in for the score (the raw scores of the tags asked
for, the energy, the tempo's distance in octaves) and only those are ranked exactly. Cost on the demo catalogue and
with 100,000 songs: docs/quality.md, "Sounds like…".

Re-ranking by sound: the songs among the ``RERANK_NEIGHBOURS`` nearest (``Embedding.objects.nearest_songs``) to
the centroid of the ``RERANK_SEEDS`` best matches gain ``RERANK_WEIGHT`` × their cosine similarity to it, so that
among equally good matches the songs that also sound like the best ones come first; no song that matches nothing
of the description gets in by sound alone (a song with a score of 0 stays out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection

from catalog.models import Song
from recommender.core.describe import DESCRIPTORS, Query, Target, Term, rank, stored_tag_keys, unscorable
from recommender.core.embedders import load_card
from recommender.core.vectors import unit_length
from recommender.models import Embedding, active_model_key

MAX_SCORED = 5_000
RESULTS = 25
RERANK_SEEDS = 5
RERANK_NEIGHBOURS = 30
RERANK_WEIGHT = 0.2


@dataclass
class DescribedSongs:
    """The best matches, best first, each with ``.match`` (0 to 1); how many songs were scored; the terms the
    model's tags cannot measure."""

    songs: list[Song] = field(default_factory=list)
    scored: int = 0
    unscorable: list[Term] = field(default_factory=list)


def _proxy_sql(query: Query, keys: dict[str, str]) -> str:
    """A linear stand-in for ``rank``'s score, in SQL, to choose which songs to score when there are too many."""
    parts: list[str] = []
    for term in query.terms:
        for target in term.targets:
            sign = f"{target.direction * target.weight:+.3f}"
            part = _proxy_part(target, keys)
            if part:
                parts.append(f"{sign} * {part}")
    return "(" + " ".join(parts) + ")" if parts else "0"


def _proxy_part(target: Target, keys: dict[str, str]) -> str | None:
    if target.kind == "tags":
        stored = [keys[tag] for tag in target.tags if tag in keys]
        if not stored:
            return None
        summed = " + ".join(f"COALESCE(t.{_column(key)}, 0)" for key in stored)
        return f"(({summed}) / {len(stored)})"
    if target.kind == "energy":
        return "COALESCE(s.energy, 0.5)"
    if target.bpm is None:
        return "COALESCE(s.tempo_bpm, 120) / 240"
    centre = math.sqrt(target.bpm[0] * target.bpm[1])
    # Negated through the sign (+1): the nearer the tempo, the higher.
    # A song without a tempo (NULL, or 0: no steady beat) ranks as far as can be: GREATEST alone would skip a NULL
    # and read it as 1 bpm.
    return f"(-COALESCE(ABS(LN(NULLIF(GREATEST(s.tempo_bpm, 0), 0) / {max(centre, 1.0):.3f})), 10))"


def _column(key: str) -> str:
    # jsonb_to_record matches keys to column names: quoted, "mtt:piano" and "Mellow" are names as they stand. The
    # keys come from the networks' cards, never from the person asking; a "%" would break the query's parameters.
    if "%" in key:
        raise ValueError(f"a tag key with a per cent sign cannot be a column name: {key!r}")
    return '"' + key.replace('"', '""') + '"'


def songs_described(
    query: Query,
    user: AbstractBaseUser | AnonymousUser,
    *,
    k: int = RESULTS,
    model: str | None = None,
    rerank: bool = True,
    max_scored: int = MAX_SCORED,
) -> DescribedSongs:
    """The ``k`` songs visible to ``user`` (the catalogue and their own uploads) that best match ``query``, scored
    on ``model``'s tags (the active model by default); songs with a score of 0 are left out."""
    model = model or active_model_key()
    keys = stored_tag_keys(load_card(model.partition("@")[0]))
    columns = [tag for tag in query.tags if tag in keys]
    result = DescribedSongs(unscorable=unscorable(query, columns))
    if len(result.unscorable) == len(query.terms):
        return result

    visible = Song.objects.visible_to(user)
    song_sql, song_params = visible.order_by().values("pk").query.sql_with_params()
    needed = list(
        dict.fromkeys(keys[tag] for term in query.terms for t in term.targets for tag in t.tags if tag in keys)
    )
    proxy = _proxy_sql(query, keys)
    extracts = "".join(f", t.{_column(keys[tag])}" for tag in columns)
    # The tags asked for are read from each stored profile (compressed by PostgreSQL) in one pass: a "->>" per tag
    # would unpack the profile once per tag.
    record = ", ".join(f"{_column(key)} float8" for key in needed)
    profile = f"CROSS JOIN LATERAL jsonb_to_record(e.tag_scores) AS t({record})" if needed else ""
    sql = f"""
        SELECT e.song_id, s.tempo_bpm, s.energy, s.loudness_db{extracts}
        FROM {Embedding._meta.db_table} e JOIN {Song._meta.db_table} s ON s.id = e.song_id {profile}
        WHERE e.model = %s AND e.song_id IN ({song_sql})
        ORDER BY {proxy} DESC, e.song_id
        LIMIT %s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [model, *song_params, max_scored])
        rows = cursor.fetchall()
    if not rows:
        return result
    values = np.array([[np.nan if v is None else float(v) for v in row[1:]] for row in rows], dtype=np.float64)
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    descriptors = {name: values[:, i] for i, name in enumerate(DESCRIPTORS)}
    scores = rank(query, tag_matrix=values[:, len(DESCRIPTORS) :], tag_columns=columns, descriptors=descriptors)
    result.scored = len(ids)

    final = scores.copy()
    if rerank and len(ids) > RERANK_SEEDS:
        seeds = ids[np.argsort(-scores, kind="stable")[:RERANK_SEEDS]].tolist()
        vectors = list(Embedding.objects.filter(model=model, song_id__in=seeds).values_list("vector", flat=True))
        if vectors:
            centroid = unit_length(np.mean([unit_length(np.asarray(v)) for v in vectors], axis=0))
            position = {song_id: i for i, song_id in enumerate(ids.tolist())}
            near = Embedding.objects.nearest_songs(
                centroid, among=visible, model=model, k=RERANK_NEIGHBOURS, max_per_artist=None, with_genres=False
            )
            for song in near:
                i = position.get(song.pk)
                if i is not None and scores[i] > 0:
                    final[i] += RERANK_WEIGHT * max(song.similarity, 0.0)

    order = [i for i in np.argsort(-final, kind="stable")[:k] if scores[i] > 0]
    by_id = Song.objects.with_relations().in_bulk([int(ids[i]) for i in order])
    for i in order:
        song = by_id[int(ids[i])]
        song.match = float(scores[i])
        result.songs.append(song)
    return result
