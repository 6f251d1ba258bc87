"""Playlists: a person's ordered lists of songs, private or shared by link, made, edited and imported."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.contrib.postgres.lookups import Unaccent
from django.db import connection, models, transaction
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from catalog.models.music import Song, SongQuerySet
from catalog.playlist_files import MAX_ENTRIES, M3uEntry
from catalog.text import fold


class PlaylistChanged(Exception):
    """The change was made against a playlist that has changed since (another tab added or removed a song)."""


@dataclass(frozen=True, slots=True)
class M3uImport:
    """What an M3U8 import did: the new playlist (None when nothing matched), what matched, what did not and why."""

    playlist: Playlist | None
    matched: list[tuple[M3uEntry, Song]]
    unmatched: list[tuple[M3uEntry, str]]


# The most songs a playlist holds: as many as an import reads, and a bound on what every view of it,
# extending it included, has to load.
MAX_PLAYLIST_SONGS = MAX_ENTRIES


class PlaylistFull(Exception):
    """The playlist already holds ``MAX_PLAYLIST_SONGS`` songs."""

    def __str__(self) -> str:
        return f"A playlist holds at most {MAX_PLAYLIST_SONGS:,} songs; this one is full."


class PlaylistQuerySet(models.QuerySet["Playlist"]):
    def owned_by(self, user: AbstractBaseUser | AnonymousUser) -> PlaylistQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner=user)

    def public(self) -> PlaylistQuerySet:
        """Playlists their owners share: anyone holding the link may read them."""
        return self.filter(is_public=True)

    def with_song_counts(self) -> PlaylistQuerySet:
        return self.annotate(song_count=models.Count("items"))

    def create_with_songs(
        self,
        *,
        owner: AbstractBaseUser,
        name: str,
        songs: Sequence[Song],
        similarities: Sequence[float | None] | None = None,
        seed: Song | None = None,
    ) -> Playlist:
        """A new private playlist of ``owner`` holding ``songs`` in order, with each song's ``.similarity``
        (or ``similarities``), made in one transaction so that no half-filled playlist is ever seen."""
        if similarities is None:
            similarities = [getattr(song, "similarity", None) for song in songs]
        with transaction.atomic():
            playlist = self.create(owner=owner, name=name, seed=seed)
            PlaylistItem.objects.bulk_create(
                PlaylistItem(playlist=playlist, song=song, position=position, similarity=similarity)
                for position, (song, similarity) in enumerate(zip(songs, similarities, strict=True), start=1)
            )
        return playlist

    def import_m3u(self, *, owner: AbstractBaseUser, name: str, entries: Sequence[M3uEntry]) -> M3uImport:
        """A new private playlist of ``owner`` with the songs ``entries`` name, among the songs ``owner`` can see.

        Nothing is created when nothing matches. A song named twice is added once (as when adding by hand).
        """
        matched: list[tuple[M3uEntry, Song]] = []
        unmatched: list[tuple[M3uEntry, str]] = []
        first_line: dict[int, int] = {}
        for entry, song in match_m3u_entries(Song.objects.visible_to(owner), entries):
            if song is None:
                unmatched.append((entry, "no song you can play has this title and artist"))
            elif song.pk in first_line:
                unmatched.append((entry, f"the same song as line {first_line[song.pk]}"))
            else:
                first_line[song.pk] = entry.line
                matched.append((entry, song))
        if not matched:
            return M3uImport(None, matched, unmatched)
        songs = [song for _, song in matched]
        playlist = self.create_with_songs(owner=owner, name=name, songs=songs, similarities=[None] * len(songs))
        return M3uImport(playlist, matched, unmatched)


# Titles looked up per query when matching an imported playlist.
IMPORT_QUERY_CHUNK = 1000


def match_m3u_entries(songs: SongQuerySet, entries: Sequence[M3uEntry]) -> list[tuple[M3uEntry, Song | None]]:
    """Each entry with the first song of ``songs`` its readings name, title and artist compared with ``fold``
    (case and accents ignored), or None. A reading without an artist matches the title alone."""
    readings = [entry.readings() for entry in entries]
    titles = sorted({title for found in readings for _, title in found})
    found_songs: dict[int, Song] = {}
    # At most MAX_ENTRIES x (MAX_SPLITS + 1) x 2 titles; asked in chunks so no one query carries megabytes of text.
    for start in range(0, len(titles), IMPORT_QUERY_CHUNK):
        # PostgreSQL's unaccent() narrows the candidates (the same function on both sides), then fold() decides,
        # the same way search does.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT unaccent(lower(t)) FROM unnest(%s::text[]) AS t",
                [titles[start : start + IMPORT_QUERY_CHUNK]],
            )
            keys = [key for (key,) in cursor.fetchall()]
        candidates = songs.annotate(title_key=Unaccent(Lower("title"))).filter(title_key__in=keys)
        found_songs.update((song.pk, song) for song in candidates.select_related("artist"))
    by_title: dict[str, list[Song]] = {}
    for pk in sorted(found_songs):  # the oldest song first, whichever chunk found it
        by_title.setdefault(fold(found_songs[pk].title), []).append(found_songs[pk])
    return [
        (
            entry,
            next(
                (
                    song
                    for artist, title in found
                    for song in by_title.get(fold(title), [])
                    if not artist or fold(artist) == fold(song.artist.name)
                ),
                None,
            ),
        )
        for entry, found in zip(entries, readings, strict=True)
    ]


class Playlist(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="playlists")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=2000)
    # Private playlists exist only for their owner; a public one is shown read-only through its share link.
    is_public = models.BooleanField(default=False)
    # The share link names this token, not the primary key, so links cannot be guessed by counting.
    share_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    seed = models.ForeignKey(
        Song, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="The song it grew from"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PlaylistQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-pk"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:playlist_detail", args=[self.pk])

    def get_share_url(self) -> str:
        return reverse("catalog:playlist_shared", args=[self.share_token])

    def visible_items(self, viewer: AbstractBaseUser | AnonymousUser) -> models.QuerySet[PlaylistItem]:
        """The items whose song ``viewer`` may see, in order: a public playlist may hold its owner's private uploads."""
        return (
            self.items.filter(song__in=Song.objects.visible_to(viewer).values("pk"))
            .select_related("song__artist", "song__album")
            .prefetch_related("song__genres", "song__predicted_genres")
        )

    def add_song(self, song: Song, *, similarity: float | None = None) -> bool:
        """Append ``song``; False, and nothing changes, when it is already in the playlist.

        Raises :class:`PlaylistFull` when there is no room left.
        """
        with transaction.atomic():
            self._lock()
            if self.items.filter(song=song).exists():
                return False
            last = self._last_position()
            if last >= MAX_PLAYLIST_SONGS:
                raise PlaylistFull
            PlaylistItem.objects.create(playlist=self, song=song, position=last + 1, similarity=similarity)
            self._touch()
        return True

    def remove_item(self, item: PlaylistItem) -> bool:
        """Take ``item`` out, the songs after it moving up; False when it was gone already (another tab).

        ``item.position`` becomes the position it had, now the place of the song after it."""
        with transaction.atomic():
            self._lock()
            position = self._positions_of(item.pk).get(item.pk)
            if position is None:
                return False
            PlaylistItem.objects.filter(pk=item.pk).delete()
            self.items.filter(position__gt=position).update(position=models.F("position") - 1)
            self._touch()
        item.position = position
        return True

    def move_item_by(self, item: PlaylistItem, steps: int) -> int:
        """Move ``item`` ``steps`` places (negative: towards the top) from where it is now, which another tab
        may have changed since the page was drawn; clamped to the list, the others closing up.

        Its new position (1 is first); :class:`PlaylistChanged` when it is no longer in the playlist.
        """
        with transaction.atomic():
            self._lock()
            start = self._positions_of(item.pk).get(item.pk)
            if start is None:
                raise PlaylistChanged
            item.position = self._move(item.pk, start, min(max(start + steps, 1), self._last_position()))
        return item.position

    def move_item_next_to(self, item: PlaylistItem, neighbour_pk: int, *, after: bool) -> int:
        """Move ``item`` to just after (or before) the item ``neighbour_pk``, wherever both are now: a drop
        names the row it landed beside, so the page it was made on never needs the other pages' items.

        Its new position (1 is first); :class:`PlaylistChanged` when either is no longer in the playlist.
        """
        with transaction.atomic():
            self._lock()
            found = self._positions_of(item.pk, neighbour_pk)
            if item.pk not in found or neighbour_pk not in found:
                raise PlaylistChanged
            start, beside = found[item.pk], found[neighbour_pk]
            target = beside + 1 if after else beside
            if start < beside:
                # Taken out, the item lets every song below it up one place, the neighbour included.
                target -= 1
            item.position = self._move(item.pk, start, target) if item.pk != neighbour_pk else start
        return item.position

    def duplicate(self, owner: AbstractBaseUser) -> Playlist:
        """A private copy for ``owner``, "Copy of …", holding the songs of this playlist ``owner`` can see."""
        visible = Song.objects.visible_to(owner)
        with transaction.atomic():
            copy = Playlist.objects.create(
                owner=owner,
                name=f"Copy of {self.name}"[: self._meta.get_field("name").max_length],
                description=self.description,
                seed=self.seed if self.seed_id and visible.filter(pk=self.seed_id).exists() else None,
            )
            rows = self.items.filter(song__in=visible.values("pk")).values_list("song_id", "similarity")
            PlaylistItem.objects.bulk_create(
                PlaylistItem(playlist=copy, song_id=song_id, position=position, similarity=similarity)
                for position, (song_id, similarity) in enumerate(rows, start=1)
            )
        return copy

    def _lock(self) -> None:
        """Lock this playlist's row till the transaction ends, so that a second tab's change waits for this one
        and reads the positions this one left. Must run inside ``transaction.atomic()``."""
        if not Playlist.objects.select_for_update().filter(pk=self.pk).values_list("pk", flat=True):
            raise Playlist.DoesNotExist

    def _positions_of(self, *item_pks: int) -> dict[int, int]:
        """The current position of each of ``item_pks`` still in this playlist."""
        return dict(self.items.filter(pk__in=item_pks).values_list("pk", "position"))

    def _last_position(self) -> int:
        # Positions run 1..n without a gap (every change of a playlist keeps them so, and the owner's page reads its
        # pages by them): the last is the count, read from the (playlist, position) index rather than counted.
        return self.items.aggregate(last=models.Max("position"))["last"] or 0

    def _move(self, item_pk: int, start: int, target: int) -> int:
        """Put the item at ``start`` at ``target``, the songs between closing up, in one UPDATE of only the rows
        between the two: moving a song one place touches two rows, however long the playlist."""
        if target != start:
            step = -1 if target > start else 1
            self.items.filter(position__range=sorted((start, target))).update(
                position=models.Case(
                    models.When(pk=item_pk, then=models.Value(target)), default=models.F("position") + step
                )
            )
            self._touch()
        return target

    def _touch(self) -> None:
        self.updated_at = timezone.now()
        Playlist.objects.filter(pk=self.pk).update(updated_at=self.updated_at)


class PlaylistItem(models.Model):
    playlist = models.ForeignKey(Playlist, on_delete=models.CASCADE, related_name="items")
    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()
    similarity = models.FloatField(null=True, blank=True, help_text="Cosine similarity to the seed, 0 to 1")

    class Meta:
        ordering = ["position"]
        constraints = [
            # Deferred to the commit, so that one UPDATE may shift positions through each other.
            models.UniqueConstraint(
                fields=["playlist", "position"],
                name="playlist_item_position_unique",
                deferrable=models.Deferrable.DEFERRED,
            )
        ]

    def __str__(self) -> str:
        return f"{self.playlist} #{self.position}: {self.song}"
