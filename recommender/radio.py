"""Radio: the Django side (issue 11 §3). What a radio starts from, what the session did, and the next songs.

The radio has no table of its own. The player keeps the session (the radio's start and the songs heard, with
how long each was heard and whether it reached its end) and sends it with each request for more songs; this
module judges each song as the history page does (``play_outcome``: completed, skipped or neither), reads the
person's likes and dislikes from the database (a like pressed in the player bar counts at once), and asks
``recommender.core.radio`` where to look and what to pick. A radio is the person's own: only songs they can
see start one or steer it, and, as For you, it picks catalogue songs only, never anyone's private upload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import Http404
from django.shortcuts import get_object_or_404

from catalog.models import Album, Artist, Playlist, Rating, Song, artist_group_key, play_outcome
from catalog.song_filters import SongFilters
from recommender import hybrid
from recommender.core import radio, taste
from recommender.models import Embedding, active_model_key
from recommender.personal import MAX_POSITIVES, vectors_of
from recommender.similar_artists import centroid_for_viewer

KINDS = ("song", "artist", "album", "playlist")
# What one request may carry and ask for: a session of 200 songs is about ten hours of radio.
MAX_SESSION_SONGS = 200
MAX_BATCH = 5
# Candidates fetched near each target; the playlist rules and the skip avoidance choose among them.
CANDIDATES = 60
# Looked at, ranked exactly, when the first candidates left the picks short.
DEEP_CANDIDATES = 400
# The collaborative side's share of the radio's blend, against the lists' (MUSREC_CF_BLEND_MAX).
TOGETHER_SHARE = 0.5


class RadioError(ValueError):
    """The radio cannot go on as asked; the message says why, in words for the person."""


@dataclass(frozen=True)
class Heard:
    """One song of the session, as the player reports it."""

    song_id: int
    seconds: float
    ended: bool


@dataclass
class Station:
    """Where a radio started: its name and its anchors (one per kind of music in it)."""

    kind: str
    pk: int
    name: str
    anchors: list[radio.Anchor]
    # A song's radio never plays the song itself (nor another copy of it): it is playing, or the person's upload.
    song: Song | None = None


def station(user: AbstractBaseUser, kind: str, pk: int, *, model: str | None = None) -> Station:
    """The radio of a song (an upload is a song), artist, album or playlist ``user`` may see; 404 otherwise.

    Raises ``RadioError`` when none of its songs has been analysed yet.
    """
    model = model or active_model_key()
    visible = Song.objects.visible_to(user)
    if kind == "song":
        song = get_object_or_404(visible, pk=pk)
        vectors = vectors_of([song.pk], model=model)
        if song.pk not in vectors:
            raise RadioError(f"“{song.title}” has not been analysed yet, so the radio has nothing to go on.")
        anchor = radio.Anchor(vectors[song.pk], f"Like “{song.title}”, where the radio started")
        return Station(kind, pk, song.title, [anchor], song=song)
    if kind in ("artist", "album"):
        owner_model = Artist if kind == "artist" else Album
        item = get_object_or_404(owner_model, pk=pk)
        if not visible.filter(**{f"{kind}_id": pk}).exists():
            raise Http404(f"No such {kind}")
        name = item.name if kind == "artist" else item.title
        vector = centroid_for_viewer(kind, pk, user)
        if vector is None:
            raise RadioError(f"None of the songs of {name} has been analysed yet, so the radio has nothing to go on.")
        words = "songs by" if kind == "artist" else "the album"
        return Station(kind, pk, name, [radio.Anchor(vector, f"Like {words} {name}")])
    if kind == "playlist":
        playlist = get_object_or_404(Playlist.objects.owned_by(user), pk=pk)
        ids = list(playlist.visible_items(user).values_list("song_id", flat=True)[:MAX_POSITIVES])
        vectors = vectors_of(ids, model=model)
        if not vectors:
            raise RadioError(f"None of the songs of “{playlist.name}” has been analysed yet.")
        # A playlist may mix kinds of music: one anchor per kind (as extending a playlist does), taking turns.
        found = taste.taste_centres(np.stack(list(vectors.values())), np.ones(len(vectors)))
        reason = f"Like your playlist “{playlist.name}”"
        return Station(kind, pk, playlist.name, [radio.Anchor(centre.vector, reason) for centre in found])
    raise RadioError(f"A radio starts from a {', '.join(KINDS[:-1])} or {KINDS[-1]}, not “{kind}”.")


def session_events(
    user: AbstractBaseUser, heard: Sequence[Heard], *, model: str, queued: Sequence[int] = ()
) -> list[radio.Event]:
    """The session's songs as events for the core, oldest first as in ``heard``.

    Each is judged by ``play_outcome`` from what the player reports; a like or dislike the person has given the song
    overrides that. A song still to come or playing (``queued``: the player sends the playing song first) that the
    person likes counts as a like now, so a like pressed while a song plays steers the radio at once. Songs they
    cannot see (any more) are left out, never named.
    """
    ids = [item.song_id for item in heard]
    songs = Song.objects.visible_to(user).in_bulk(ids)
    ratings = dict(Rating.objects.for_user(user).filter(song_id__in=list(songs)).values_list("song_id", "value"))
    vectors = vectors_of(songs, model=model)
    events = []
    for age, item in enumerate(reversed(heard)):
        song = songs.get(item.song_id)
        if song is None or song.pk not in vectors:
            continue
        duration = max(song.duration, 0.0)
        completed, skipped = play_outcome(duration=duration, seconds=item.seconds, reached_end=item.ended)
        outcome: radio.Outcome = "completed" if completed else "skipped" if skipped else "heard"
        rating = ratings.get(song.pk)
        if rating == Rating.LIKE:
            outcome = "liked"
        elif rating == Rating.DISLIKE:
            outcome = "disliked"
        events.append(radio.Event(vectors[song.pk], outcome, age, song.title))
    events.reverse()
    if queued:
        liked = Song.objects.visible_to(user).filter(
            pk__in=list(queued), ratings__user=user, ratings__value=Rating.LIKE
        )
        liked_vectors = vectors_of(liked.values_list("pk", flat=True), model=model)
        events += [
            radio.Event(liked_vectors[song.pk], "liked", 0, song.title) for song in liked if song.pk in liked_vectors
        ]
    return events


def next_songs(
    user: AbstractBaseUser,
    at: Station,
    heard: Sequence[Heard],
    *,
    queued: Sequence[int] = (),
    k: int = 3,
    model: str | None = None,
    filters: SongFilters | None = None,
) -> list[Song]:
    """The next ``k`` songs of the radio ``at`` after the session ``heard`` (oldest first) and the songs already
    ``queued`` to come, each with ``.reason`` and ``.similarity`` (to where the radio looked); only songs within
    ``filters``, when given (the station's tempo, energy and mood).

    Never a song of the session or the queue (nor another copy of one), nothing ``user`` disliked, at most two songs
    of one artist in any ten. The anchors take turns, one pick each, when the station has several.
    """
    if not 1 <= k <= MAX_BATCH:
        raise RadioError(f"A radio adds 1 to {MAX_BATCH} songs at a time.")
    if len(heard) > MAX_SESSION_SONGS or len(queued) > MAX_SESSION_SONGS:
        raise RadioError(f"A radio session remembers at most {MAX_SESSION_SONGS} songs.")
    model = model or active_model_key()
    events = session_events(user, heard, model=model, queued=queued)
    session_ids = [item.song_id for item in heard] + list(queued)
    visible_session = Song.objects.visible_to(user).filter(pk__in=[*session_ids, *([at.song.pk] if at.song else [])])
    disliked = Rating.objects.for_user(user).filter(value=Rating.DISLIKE).values("song_id")
    catalogue = Song.objects.catalogue().matching(filters) if filters else Song.objects.catalogue()
    pool = (
        catalogue.exclude(pk__in=visible_session.values("pk"))
        .exclude(content_hash__in=visible_session.values("content_hash"))
        .exclude(pk__in=disliked)
    )
    # The artists of the last songs heard and queued, oldest first: "2 in any 10" counts across the batch edge.
    recent_ids = session_ids[-(radio.ARTIST_WINDOW - 1) :]
    recent_songs = visible_session.select_related("artist").in_bulk(recent_ids)
    recent_artists = [_artist_group(recent_songs[i]) for i in recent_ids if i in recent_songs]
    session_vectors = vectors_of(visible_session.values_list("pk", flat=True), model=model)
    avoid = np.stack(list(session_vectors.values())) if session_vectors else None

    # What people who listen like this person play re-ranks the radio's candidates; it does not add songs of its own,
    # so the station keeps its sound (For you and the song lists do add the model's favourites to their pools), and
    # its share is halved (TOGETHER_SHARE), so that it cannot drown what the session's skips and likes say.
    together = hybrid.by_person(user)
    chosen: list[Song] = []
    chosen_vectors: list[np.ndarray] = []
    turn = len(heard) + len(queued)
    # One anchor: one search for the whole batch. Several: they take turns, a search and a pick each; the radio
    # stops short only when a whole round of anchors found nothing.
    per_search = k if len(at.anchors) == 1 else 1
    empty_turns = 0
    while len(chosen) < k and empty_turns < len(at.anchors):
        anchor = at.anchors[turn % len(at.anchors)]
        turn += 1
        goal = radio.target(anchor, events)
        history = recent_artists + [_artist_group(song) for song in chosen]
        # Artists already at their limit in the window are left out in the database, so that one prolific artist
        # cannot fill every candidate (a game's soundtrack is one composer's); the rules still check each pick.
        window = history[-(radio.ARTIST_WINDOW - 1) :]
        capped = [group for group in set(window) if group > 0 and window.count(group) >= radio.MAX_PER_ARTIST]
        among = pool.exclude(pk__in=[song.pk for song in chosen]).exclude(artist_id__in=capped)
        wanted = min(per_search, k - len(chosen))
        picks: list[radio.Pick] = []
        for depth, exact in ((CANDIDATES, False), (DEEP_CANDIDATES, True)):
            found = Embedding.objects.nearest_songs(
                goal, among=among, model=model, k=depth, max_per_artist=None, with_genres=False, exact=exact
            )
            vectors = vectors_of([song.pk for song in found], model=model)
            found = [song for song in found if song.pk in vectors]
            blocks = [b for b in (avoid, np.stack(chosen_vectors) if chosen_vectors else None) if b is not None]
            picks = radio.pick(
                np.stack([vectors[song.pk] for song in found]) if found else np.zeros((0, len(goal))),
                [_artist_group(song) for song in found],
                anchor,
                at.anchors,
                events,
                k=wanted,
                recent_artists=history,
                avoid=np.concatenate(blocks) if blocks else None,
                collaborative=(
                    together.side_of([song.pk for song in found], weight_share=TOGETHER_SHARE)
                    if together and found
                    else None
                ),
            )
            # Short: the rules used the candidates up (one artist's songs all around), or the index, filtered by the
            # session's exclusions, handed over too few. Look again, deeper and exactly; rare, so its cost is fine.
            if len(picks) == wanted:
                break
        if not picks:
            empty_turns += 1
            continue
        empty_turns = 0
        lifted = [found[p.index].pk for p in picks if p.reason == radio.TOGETHER_REASON]
        named = together.named(lifted) if together and lifted else {}
        for chosen_pick in picks:
            song = found[chosen_pick.index]
            song.reason = chosen_pick.reason
            if song.pk in named:
                song.reason = f"People who play “{named[song.pk].title}” also play this"
            song.similarity = float(vectors[song.pk] @ goal)
            chosen.append(song)
            chosen_vectors.append(vectors[song.pk])
    return chosen


def _artist_group(song: Song) -> int:
    return artist_group_key(song.artist_id, song.artist.name, song.album_id, song.pk)
