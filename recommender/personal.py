"""For you, extending a playlist, a path from A to B: the Django side of personal recommendations.

A person's signals (likes, completed plays, skips, dislikes, the songs of their playlists, their uploads and,
while they have little history, their favourite genres) are read from the database, weighted and turned into
taste centres by ``recommender.core.taste``; pgvector finds the songs near each centre
(``Embedding.objects.nearest_songs``).

Whose data: only the requesting person's own ratings, plays, playlists and uploads are read, and only songs
they can see (the catalogue and their own uploads) count as signals or are named in a reason.

What is recommended: catalogue songs only, never private uploads, not even the person's own: For you is for
finding music, and one's own uploads are one click away on the upload page. The catalogue is also what the
"More like this" lists draw from, so all recommendations behave alike.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from catalog.models import (
    MAX_PLAYLIST_SONGS,
    Genre,
    Play,
    Playlist,
    PlaylistFull,
    PlaylistItem,
    Rating,
    Song,
    SongQuerySet,
    artist_group_key,
)
from catalog.song_filters import SongFilters
from recommender import hybrid
from recommender.core import paths, taste
from recommender.core.rules import Candidate
from recommender.core.vectors import similarity_quantiles, unit_length
from recommender.models import STARTER_SECONDS, Embedding, active_model_key, catalogue_sample, starter_cache_key

FOR_YOU_SIZE = 20
EXTEND_MIN, EXTEND_DEFAULT, EXTEND_MAX = 5, 10, 50
# Songs heard in the last two weeks are left out: For you is for what one has not heard lately.
RECENT_DAYS = 14
# What each signal is worth; the size of a negative says how sure it is. A like is a deliberate statement,
# a completed play a quieter one that adds up when repeated; a song kept in a playlist is a mild yes
# (it may be there for someone else's party); a skip is a mild no (the phone rang).
LIKE, UPLOAD, COMPLETED_PLAY, IN_PLAYLIST = 3.0, 3.0, 1.0, 0.5
DISLIKE, SKIP = -3.0, -0.75
# Plays older than a year weigh under 0.02 % after decay: they are not read at all.
PLAY_HORIZON_DAYS = 365
MAX_PLAYS = 5000
# The heaviest songs only: k-means and the silhouette cost n² and a few hundred songs describe a taste.
MAX_POSITIVES = 300
# With fewer liked songs than this, the genres picked when starting out still count, each as one centre.
MIN_HISTORY = 3
GENRE_WEIGHT = LIKE
# A person's latest uploads, each a centre of its own (see taste_of); older ones join the clustered songs.
MAX_UPLOAD_CENTRES = 4
GENRE_SAMPLE = 300
# A negative this strong or stronger (a dislike, several recent skips) also removes the songs nearer to it
# than to the centre that found them; a single skip only moves centres.
STRONG_NEGATIVE = -1.5
# Each centre asks the database for this many times its share of the list, so that songs lost to the
# playlist rules and to overlaps between centres are made up.
OVERFETCH = 2.0
# Extend asks again this much deeper when the rules left it short: 10 songs asked for look at 400 candidates.
DEEP_OVERFETCH = 10.0
PATH_CANDIDATES = 12
STARTER_SONGS = 12
PLAY_COUNT_OFTEN = 3


class PersonalError(ValueError):
    """A personal recommendation cannot be made as asked; the message says why, in words for the person."""


@dataclass
class Signals:
    """What a person's history says about songs: net weight per song, and why each positive song counts."""

    weights: dict[int, float] = field(default_factory=dict)
    kinds: dict[int, str] = field(default_factory=dict)  # "like", "upload", "plays", "play", "playlist"
    playlists: dict[int, str] = field(default_factory=dict)  # song id -> the name of a playlist holding it

    def positives(self) -> dict[int, float]:
        return {song_id: w for song_id, w in self.weights.items() if w > 0}

    def negatives(self) -> dict[int, float]:
        return {song_id: w for song_id, w in self.weights.items() if w < 0}


@dataclass(frozen=True)
class Credit:
    """A song of the person's own that a centre was made from, and the words that name it."""

    song: Song
    vector: np.ndarray  # [shape=(d,)], unit length
    reason: str


@dataclass(frozen=True)
class TasteCentre:
    """One centre of a person's taste, with the words that explain what it found.

    ``credits`` are the person's songs the centre was made from: each song found near the centre is credited to
    the one of them it is most like, so that a centre of ten likes does not name the same one for all it finds.
    Without credits (a genre, a playlist being extended) the centre's own ``reason`` and ``song`` are given.
    """

    vector: np.ndarray  # [shape=(d,)], unit length
    weight: float
    reason: str
    song: Song | None = None  # the song the reason names (None for a genre)
    credits: tuple[Credit, ...] = ()


@dataclass
class Recommendations:
    songs: list[Song]  # each with .reason, .reason_song and .similarity (to the centre that found it)
    centres: list[TasteCentre]


def read_signals(user: AbstractBaseUser, *, now: datetime | None = None) -> Signals:
    """Everything ``user``'s own history says, of songs they can still see, weighted by ``taste``'s rules."""
    now = now or timezone.now()
    visible = Song.objects.visible_to(user).values("pk")
    events: list[tuple[int, str, float, datetime]] = []
    for song_id, value, at in (
        Rating.objects.for_user(user).filter(song__in=visible).values_list("song_id", "value", "rated_at")
    ):
        events.append((song_id, "like" if value == Rating.LIKE else "dislike", LIKE if value > 0 else DISLIKE, at))
    plays = (
        Play.objects.for_user(user)
        .filter(played_at__gte=now - timedelta(days=PLAY_HORIZON_DAYS))
        .exclude(completed=False, skipped=False)  # stopped halfway: says nothing either way
        .values_list("song_id", "completed", "played_at")[:MAX_PLAYS]
    )
    for song_id, completed, at in plays:
        events.append((song_id, "play" if completed else "skip", COMPLETED_PLAY if completed else SKIP, at))
    names: dict[int, str] = {}
    for song_id, name, at in PlaylistItem.objects.filter(
        playlist__in=Playlist.objects.owned_by(user), song__in=visible
    ).values_list("song_id", "playlist__name", "playlist__updated_at"):
        events.append((song_id, "playlist", IN_PLAYLIST, at))
        names.setdefault(song_id, name)
    for song_id, at in Song.objects.uploads_of(user).values_list("pk", "added_at"):
        events.append((song_id, "upload", UPLOAD, at))
    return _weigh(events, names, now)


def _weigh(events: Sequence[tuple[int, str, float, datetime]], names: dict[int, str], now: datetime) -> Signals:
    if not events:
        return Signals()
    explicit = np.array([kind in ("like", "dislike", "playlist", "upload") for _, kind, _, _ in events])
    age_days = np.array([(now - at).total_seconds() / 86400 for *_, at in events])
    decay = np.where(explicit, taste.recency(age_days, floor=taste.EXPLICIT_FLOOR), taste.recency(age_days, floor=0.0))
    weights = np.array([w for _, _, w, _ in events]) * decay
    ids, totals = taste.song_weights(np.array([song_id for song_id, *_ in events]), weights)
    # The reason names what counted most for the song; plays are counted to tell "played" from "often play".
    best: dict[int, tuple[float, str]] = {}
    play_counts: Counter[int] = Counter()
    for (song_id, kind, _, _), weight in zip(events, weights, strict=True):
        if kind == "play":
            play_counts[song_id] += 1
        if weight > 0 and weight > best.get(song_id, (0.0, ""))[0]:
            best[song_id] = (weight, kind)
    signals = Signals(weights={int(i): float(t) for i, t in zip(ids, totals, strict=True) if t != 0})
    for song_id, (_, kind) in best.items():
        if kind == "play":
            kind = "plays" if play_counts[song_id] >= PLAY_COUNT_OFTEN else "play"
        signals.kinds[song_id] = kind
    signals.playlists = {song_id: name for song_id, name in names.items() if song_id in best}
    return signals


def vectors_of(song_ids: Iterable[int], *, model: str) -> dict[int, np.ndarray]:
    """``{song id: unit vector}`` of the songs analysed with ``model``; the others are missing."""
    rows = Embedding.objects.filter(model=model, song_id__in=list(song_ids)).values_list("song_id", "vector")
    return {song_id: unit_length(np.asarray(vector)) for song_id, vector in rows}


def reason_for(kind: str, song: Song, playlist: str | None = None) -> str:
    if kind == "like":
        return f"Because you liked “{song.title}”"
    if kind == "plays":
        return f"Because you often play “{song.title}”"
    if kind == "play":
        return f"Because you played “{song.title}”"
    if kind == "upload":
        return f"Because you uploaded “{song.title}”"
    if kind == "playlist":
        return f"Because “{song.title}” is in your playlist “{playlist}”"
    raise ValueError(f"no reason for {kind!r}")


def taste_of(
    user: AbstractBaseUser,
    *,
    model: str,
    signals: Signals | None = None,
    seed: int = 0,
    max_centres: int = taste.MAX_CENTRES,
) -> list[TasteCentre]:
    """The centres of ``user``'s taste: from their songs, plus their favourite genres while history is short.

    Each of their latest ``MAX_UPLOAD_CENTRES`` uploads is a centre of its own: an upload says "songs like this
    one" in so many words, and clustered with a person's likes it could be averaged away. The other songs are
    clustered (``taste.taste_centres``).
    """
    signals = signals if signals is not None else read_signals(user)
    positives = dict(sorted(signals.positives().items(), key=lambda item: -item[1])[:MAX_POSITIVES])
    negatives = signals.negatives()
    vectors = vectors_of([*positives, *negatives], model=model)
    positive_ids = [song_id for song_id in positives if song_id in vectors]
    negative_ids = [song_id for song_id in negatives if song_id in vectors]
    against = {
        "negatives": np.stack([vectors[i] for i in negative_ids]) if negative_ids else None,
        "negative_weights": np.array([negatives[i] for i in negative_ids]) if negative_ids else None,
    }
    latest_uploads = Song.objects.uploads_of(user).order_by("-added_at", "-pk").values_list("pk", flat=True)
    upload_ids = [song_id for song_id in latest_uploads[:MAX_UPLOAD_CENTRES] if song_id in positive_ids]
    clustered_ids = [song_id for song_id in positive_ids if song_id not in upload_ids]
    named = Song.objects.in_bulk(positive_ids)

    def credit(song_id: int) -> Credit:
        song = named[song_id]
        reason = reason_for(signals.kinds.get(song_id, "like"), song, signals.playlists.get(song_id))
        return Credit(song, vectors[song_id], reason)

    groups: list[tuple[np.ndarray, float, list[int], int]] = []  # vector, weight, members, representative
    if clustered_ids:
        weights = np.array([positives[i] for i in clustered_ids])
        found = taste.taste_centres(
            np.stack([vectors[i] for i in clustered_ids]), weights, max_centres=max_centres, seed=seed, **against
        )
        for centre in found:
            members = [clustered_ids[m] for m in centre.members]
            groups.append(
                (centre.vector, centre.weight * float(weights.sum()), members, clustered_ids[centre.representative])
            )
    for song_id in upload_ids:
        (alone,) = taste.taste_centres(vectors[song_id][None], np.array([positives[song_id]]), **against)
        groups.append((alone.vector, positives[song_id], [song_id], song_id))
    centres = [
        TasteCentre(vector, weight, credit(representative).reason, named[representative], tuple(map(credit, members)))
        for vector, weight, members, representative in sorted(groups, key=lambda group: -group[1])
    ]
    if len(positive_ids) < MIN_HISTORY:
        for genre in user.favourite_genres.all():
            vector = genre_centre(genre, model=model)
            if vector is not None:
                centres.append(TasteCentre(vector, GENRE_WEIGHT, f"Because you like {genre.name}"))
    weight = sum(c.weight for c in centres)
    return [TasteCentre(c.vector, c.weight / weight, c.reason, c.song, c.credits) for c in centres]


def genre_centre(genre: Genre, *, model: str) -> np.ndarray | None:
    """The direction of a genre: the normalised mean of (up to ``GENRE_SAMPLE`` of) its analysed catalogue songs."""
    songs = Song.objects.catalogue().in_genre(genre).values("pk")
    rows = Embedding.objects.filter(model=model, song__in=songs).order_by("song_id").values_list("vector", flat=True)
    vectors = [np.asarray(v) for v in rows[:GENRE_SAMPLE]]
    if not vectors:
        return None
    return unit_length(unit_length(np.stack(vectors)).mean(axis=0))


def for_you(
    user: AbstractBaseUser,
    *,
    k: int = FOR_YOU_SIZE,
    model: str | None = None,
    now: datetime | None = None,
    max_per_artist: int | Literal["setting"] | None = "setting",
    max_centres: int = taste.MAX_CENTRES,
    filters: SongFilters | None = None,
) -> Recommendations:
    """Catalogue songs ``user`` has not heard lately, rated, uploaded or put in a playlist, near their taste's centres
    (and within ``filters``).

    ``max_per_artist`` is ``MUSREC_MAX_PER_ARTIST`` unless given (None: no limit); ``max_centres=1`` gives the
    one-average taste that bench/personalisation.py compares with.
    """
    model = model or active_model_key()
    now = now or timezone.now()
    if max_per_artist == "setting":
        max_per_artist = settings.MUSREC_MAX_PER_ARTIST
    signals = read_signals(user, now=now)
    centres = taste_of(user, model=model, signals=signals, max_centres=max_centres)
    if not centres:
        return Recommendations([], [])
    known = (
        set(Rating.objects.for_user(user).values_list("song_id", flat=True))
        | set(
            Play.objects.for_user(user)
            .filter(played_at__gte=now - timedelta(days=RECENT_DAYS))
            .values_list("song_id", flat=True)
        )
        | set(Song.objects.uploads_of(user).values_list("pk", flat=True))
        # Songs they put in a playlist themselves are known to them too (and would be credited to themselves).
        | set(
            PlaylistItem.objects.filter(playlist__in=Playlist.objects.owned_by(user)).values_list("song_id", flat=True)
        )
    )
    catalogue = Song.objects.catalogue()
    pool = _leaving_out(catalogue.matching(filters) if filters else catalogue, known)
    strong = [song_id for song_id, w in signals.weights.items() if w <= STRONG_NEGATIVE]
    songs = _near_centres(
        pool,
        centres,
        k=k,
        model=model,
        max_per_artist=max_per_artist,
        avoid=vectors_of(strong, model=model),
        together=hybrid.by_person(user),
    )
    return Recommendations(songs, centres)


def _leaving_out(pool: SongQuerySet, song_ids: set[int]) -> SongQuerySet:
    """``pool`` without ``song_ids`` and without other copies of the same recordings."""
    hashes = Song.objects.filter(pk__in=song_ids).values("content_hash")
    return pool.exclude(pk__in=song_ids).exclude(content_hash__in=hashes)


def _near_centres(
    pool: SongQuerySet,
    centres: Sequence[TasteCentre],
    *,
    k: int,
    model: str,
    max_per_artist: int | None,
    avoid: dict[int, np.ndarray] | None = None,
    taken: Sequence[Song] = (),
    overfetch: float = OVERFETCH,
    together: hybrid.Together | None = None,
) -> list[Song]:
    """Up to ``k`` songs of ``pool`` near the centres, interleaved by weight, each with its reason.

    With ``together`` each centre's list is blended with what people play together (``recommender.hybrid``); a
    song placed by that side is explained by the seed or own song it is co-listened with."""
    lists = [
        Embedding.objects.nearest_songs(
            among=pool,
            vector=centre.vector,
            model=model,
            k=min(1000, max(3, math.ceil(overfetch * k * centre.weight))),
            max_per_artist=max_per_artist,
            with_genres=False,  # For you and an extended playlist show none
            together=together,
        )
        for centre in centres
    ]
    # Each centre's own copy of a song: its side ("audio" or "together") is that centre's blend's.
    by_centre = [{song.pk: song for song in songs} for songs in lists]
    found = {song.pk: song for songs in lists for song in songs}
    vectors = vectors_of([*found, *(s.pk for s in taken)], model=model)
    negatives = np.stack(list(avoid.values())) if avoid else np.zeros((0, 1))
    candidate_lists = []
    for centre, songs in zip(centres, lists, strict=True):
        songs = [s for s in songs if s.pk in vectors]
        if songs and len(negatives):
            similarity = np.array([float(vectors[s.pk] @ centre.vector) for s in songs])
            near_a_dislike = taste.nearer_to_negatives(np.stack([vectors[s.pk] for s in songs]), similarity, negatives)
            songs = [s for s, out in zip(songs, near_a_dislike, strict=True) if not out]
        candidate_lists.append([_candidate(s, vectors[s.pk], centre.vector) for s in songs])
    already = [_candidate(s, vectors.get(s.pk), None) for s in taken]
    merged = taste.merge_by_weight(
        candidate_lists, [c.weight for c in centres], k=k, max_per_artist=max_per_artist, taken=already
    )
    # A similarity to a centre is read among the catalogue's similarities to that centre ("closer to this side of
    # your taste than 90 % of the catalogue"): a centre is nearer its songs than songs are to each other.
    sample = catalogue_sample(model)
    scales = [similarity_quantiles(centre.vector, sample) if sample is not None else None for centre in centres]
    result: list[Song] = []
    slots: dict[int, list[int]] = {}  # per centre, where its songs stand in the list
    for index, candidate in merged:
        song = by_centre[index][candidate.song_id]
        centre = centres[index]
        song.similarity, song.reason, song.reason_song = candidate.similarity, centre.reason, centre.song
        song.centre, song.match_scale = index, scales[index]
        if centre.credits:
            # The reason names the song of the person's own it is most like, whichever centre found it (two close
            # uploads' centres find the same songs: each is named for those most like it); its match stays the
            # centre's, the side of their taste that ranked it.
            # Never a song for itself (another copy of a recording the person has: an extended playlist's song).
            credits = [c for other in centres for c in other.credits if c.song.content_hash != song.content_hash]
            if credits:
                best = max(credits, key=lambda credit: float(vectors[song.pk] @ credit.vector))
                song.reason, song.reason_song = best.reason, best.song
        if song.together_with is not None:
            named = song.together_with
            song.reason, song.reason_song = f"People who play “{named.title}” also play this", named
        slots.setdefault(index, []).append(len(result))
        result.append(song)
    if any(song.side == "together" for song in result):
        # Blended, the order within each centre's turns is the blend's: re-sorting by the sound alone would undo it.
        return result
    # The centres take turns (merge_by_weight); within each centre's turns the closest song comes first, so the
    # matches read in order down each kind of music the list mixes (CSLS chose the songs, in its own order).
    for positions in slots.values():
        ordered = sorted((result[p] for p in positions), key=lambda s: -s.similarity)
        for position, song in zip(positions, ordered, strict=True):
            result[position] = song
    return result


def _candidate(song: Song, vector: np.ndarray | None, centre: np.ndarray | None) -> Candidate:
    distance = 1.0 - float(vector @ centre) if vector is not None and centre is not None else 0.0
    # Playlist rules count songs of an unknown artist per album, as nearest_songs does.
    artist = artist_group_key(song.artist_id, song.artist.name, song.album_id, song.pk)
    return Candidate(song.pk, artist, song.content_hash, distance, vector)


# --- Starting out ------------------------------------------------------------------------------------------


def starter_genres(*, model: str | None = None) -> list[Genre]:
    """Genres a new person may pick: those with analysed catalogue songs (their own or below them)."""
    model = model or active_model_key()
    key = starter_cache_key("genres", model)
    genres = cache.get(key)
    if genres is None:
        genres = _genres_with_analysed_songs(model)
        cache.set(key, genres, STARTER_SECONDS)
    return genres


def _genres_with_analysed_songs(model: str) -> list[Genre]:
    analysed = Embedding.objects.filter(model=model, song__in_catalogue=True).values("song_id")
    direct = set(Song.genres.through.objects.filter(song__in=analysed).values_list("genre_id", flat=True))
    direct |= set(Song.predicted_genres.through.objects.filter(song__in=analysed).values_list("genre_id", flat=True))
    parents = dict(Genre.objects.values_list("pk", "parent_id"))
    offered = set()
    for genre_id in direct:
        seen = set()
        while genre_id is not None and genre_id not in seen:  # parents may loop (edited by hand)
            seen.add(genre_id)
            offered.add(genre_id)
            genre_id = parents.get(genre_id)
    return list(Genre.objects.filter(pk__in=offered))


def starter_songs(*, size: int = STARTER_SONGS, model: str | None = None) -> list[Song]:
    """A small, varied sample to like from: one analysed catalogue song per album, spread over the albums."""
    model = model or active_model_key()
    if size != STARTER_SONGS:
        return _sample_of_albums(size, model)
    key = starter_cache_key("songs", model)
    songs = cache.get(key)
    if songs is None:
        songs = _sample_of_albums(size, model)
        cache.set(key, songs, STARTER_SECONDS)
    return songs


def _sample_of_albums(size: int, model: str) -> list[Song]:
    analysed = Embedding.objects.filter(model=model).values("song_id")
    firsts = list(
        Song.objects.catalogue()
        .filter(pk__in=analysed)
        .order_by("album_id", "track_number", "pk")
        .distinct("album_id")
        .values_list("pk", flat=True)
    )
    if len(firsts) > size:
        firsts = [firsts[round(i * (len(firsts) - 1) / (size - 1))] for i in range(size)] if size > 1 else firsts[:1]
    return list(Song.objects.filter(pk__in=firsts).select_related("artist", "album").order_by("album__title", "pk"))


def start(user: AbstractBaseUser, *, genres: Sequence[Genre], songs: Sequence[Song]) -> None:
    """Record what a person starting out picked: their favourite genres (replacing earlier picks) and likes."""
    with transaction.atomic():
        user.favourite_genres.set(genres)
        for song in songs:
            Rating.objects.rate(user, song, Rating.LIKE)


# --- Extending a playlist ----------------------------------------------------------------------------------


@dataclass
class Extension:
    """What extending a playlist added, and, when it is fewer songs than asked for, why in words."""

    songs: list[Song]
    asked: int
    shortfall: str = ""


def extend_playlist(playlist: Playlist, *, n: int, model: str | None = None) -> Extension:
    """Append up to ``n`` catalogue songs like the playlist as a whole; the songs added, in order.

    The playlist's songs are the positive signals (one centre per kind of music in it); the owner's disliked
    songs are never added. Per artist, the songs already in the playlist count towards the limit.
    """
    if not EXTEND_MIN <= n <= EXTEND_MAX:
        raise PersonalError(f"A playlist grows by {EXTEND_MIN} to {EXTEND_MAX} songs at a time.")
    model = model or active_model_key()
    owner = playlist.owner
    items = list(
        Song.objects.visible_to(owner).filter(pk__in=playlist.items.values("song_id")).select_related("artist", "album")
    )
    if not items:
        if playlist.items.exists():
            raise PersonalError(
                "None of this playlist's songs is one you can still play, so there is nothing to go on."
            )
        raise PersonalError("This playlist is empty: add a few songs first, and Extend finds more like them.")
    room = MAX_PLAYLIST_SONGS - playlist.items.count()
    if room <= 0:
        raise PersonalError(str(PlaylistFull()))
    asked, n = n, min(n, room)
    # The centres come from a sample, as For you's do: their clustering compares every song with every other.
    sample = random.Random(playlist.pk).sample(items, MAX_POSITIVES) if len(items) > MAX_POSITIVES else items
    vectors = vectors_of([s.pk for s in sample], model=model)
    if not vectors:
        raise PersonalError("None of this playlist's songs has been analysed yet, so there is nothing to go on.")
    ids = list(vectors)
    found = taste.taste_centres(np.stack([vectors[i] for i in ids]), np.ones(len(ids)))
    by_id = {s.pk: s for s in items}
    centres = [
        TasteCentre(c.vector, c.weight, f"Like “{by_id[ids[c.representative]].title}”", by_id[ids[c.representative]])
        for c in found
    ]
    disliked = set(Rating.objects.for_user(owner).filter(value=Rating.DISLIKE).values_list("song_id", flat=True))
    in_playlist = set(playlist.items.values_list("song_id", flat=True))
    pool = _leaving_out(Song.objects.catalogue(), in_playlist | disliked)
    cap = settings.MUSREC_MAX_PER_ARTIST
    # What the people who play the playlist's songs also play; nothing for a playlist of songs nobody plays.
    together = hybrid.by_songs(items, viewer=owner)
    songs = _near_centres(pool, centres, k=n, model=model, max_per_artist=cap, taken=items, together=together)
    if len(songs) < n:
        # The nearest songs were by the playlist's own artists, over their limit (a game's soundtrack is one
        # composer's): farther songs by others are still the nearest that keep the rules.
        deeper = _near_centres(
            pool,
            centres,
            k=n,
            model=model,
            max_per_artist=cap,
            taken=items,
            overfetch=DEEP_OVERFETCH,
            together=together,
        )
        songs = deeper if len(deeper) > len(songs) else songs
    shortfall = ""
    if n < asked:
        shortfall = f"a playlist holds at most {MAX_PLAYLIST_SONGS:,} songs, and this one had room for {n}"
    elif len(songs) < n:
        # Asked again without the artist limit only when it fell short, to say which rule stopped it.
        unlimited = _near_centres(
            pool, centres, k=n, model=model, max_per_artist=None, taken=items, overfetch=DEEP_OVERFETCH
        )
        if cap and len(unlimited) > len(songs):
            shortfall = (
                f"at most {cap} songs by one artist are added, counting those already in the playlist, and the "
                f"catalogue's other songs like these are by artists who already have {cap}"
            )
        else:
            shortfall = "the catalogue has no more analysed songs like these that are not in the playlist or disliked"
    if songs:
        with transaction.atomic():
            # The row lock makes two extends (two tabs) queue up instead of taking the same positions; under it,
            # songs another tab added meanwhile are not added twice.
            list(Playlist.objects.select_for_update().filter(pk=playlist.pk).values_list("pk", flat=True))
            present = set(playlist.items.values_list("song_id", flat=True))
            songs = [song for song in songs if song.pk not in present]
            last = playlist.items.aggregate(last=Max("position"))["last"] or 0
            PlaylistItem.objects.bulk_create(
                PlaylistItem(playlist=playlist, song=song, position=last + i, similarity=song.similarity)
                for i, song in enumerate(songs, start=1)
            )
            playlist.save(update_fields=["updated_at"])
    return Extension(songs, asked, shortfall)


# --- A path from A to B ------------------------------------------------------------------------------------


@dataclass
class SongPath:
    """A playlist that moves from one song to another (not a file path)."""

    songs: list[Song]  # A, the steps, B; each with .to_start and .to_goal (cosine similarity)
    asked: int  # steps asked for; fewer when the catalogue ran out

    @property
    def steps(self) -> int:
        return len(self.songs) - 2


def path_between(start: Song, goal: Song, *, steps: int, user: AbstractBaseUser, model: str | None = None) -> SongPath:
    """A playlist from ``start`` to ``goal`` through ``steps`` catalogue songs, each near the one before.

    ``start`` and ``goal`` must be songs ``user`` can see (the caller checks); the steps come from the
    catalogue, never from songs ``user`` disliked.
    """
    if not paths.MIN_STEPS <= steps <= paths.MAX_STEPS:
        raise PersonalError(f"A path has {paths.MIN_STEPS} to {paths.MAX_STEPS} steps.")
    if start.pk == goal.pk or start.content_hash == goal.content_hash:
        raise PersonalError("Pick two different songs: a path from a song to itself goes nowhere.")
    model = model or active_model_key()
    ends = vectors_of([start.pk, goal.pk], model=model)
    for song in (start, goal):
        if song.pk not in ends:
            raise PersonalError(f"“{song.title}” has not been analysed yet, so it has no place to start or end a path.")
    try:
        targets = paths.path_targets(ends[start.pk], ends[goal.pk], steps)
    except paths.PathError as error:
        raise PersonalError(f"No path: {error}.") from None
    disliked = set(Rating.objects.for_user(user).filter(value=Rating.DISLIKE).values_list("song_id", flat=True))
    pool = _leaving_out(Song.objects.catalogue(), {start.pk, goal.pk} | disliked)
    found: dict[int, Song] = {}
    for target in targets:
        for song in Embedding.objects.nearest_songs(
            among=pool, vector=target, model=model, k=PATH_CANDIDATES, max_per_artist=None, with_genres=False
        ):
            found.setdefault(song.pk, song)
    vectors = vectors_of(found, model=model)
    candidates = [_candidate(song, vectors[pk], None) for pk, song in found.items() if pk in vectors]
    chosen = paths.choose_path(
        targets,
        candidates,
        start=_candidate(start, ends[start.pk], None),
        goal=_candidate(goal, ends[goal.pk], None),
        max_per_artist=settings.MUSREC_MAX_PER_ARTIST,
    )
    songs = [start, *(found[c.song_id] for c in chosen), goal]
    all_vectors = np.stack([ends[start.pk], *(c.vector for c in chosen), ends[goal.pk]])
    to_start, to_goal = paths.closeness(all_vectors, ends[start.pk], ends[goal.pk])
    for song, a, b in zip(songs, to_start, to_goal, strict=True):
        song.to_start, song.to_goal = float(a), float(b)
    return SongPath(songs, steps)
