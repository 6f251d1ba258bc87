"""What each person does with songs: plays (completed or skipped) and likes or dislikes."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import models
from django.db.models import Q
from django.utils import timezone

from catalog.models.music import Song

# A play stopped within this many seconds is a skip; so is stopping a short song before its middle.
SKIP_WITHIN_SECONDS = 30.0
SHORT_SONG_SECONDS = 60.0
# Heard this much of a song (or heard past the skip mark and let it end), the play is complete.
COMPLETED_FRACTION = 0.9
# The player counts seconds on the audio clock, and a decoder may find a file a little longer than the
# duration stored at import; more than this beyond it cannot have been heard in one play.
PLAY_SLACK_SECONDS = 5.0
PLAY_SLACK_FRACTION = 0.02


class InvalidPlay(ValueError):
    """Listening figures that cannot be true: negative, not a number, or far longer than the song."""


def play_outcome(*, duration: float, seconds: float, reached_end: bool) -> tuple[bool, bool]:
    """``(completed, skipped)`` for ``seconds`` heard of a song ``duration`` seconds long.

    Reaching the end counts only after the skip mark: seeking to the last second of a song
    and letting it run out is still a skip.
    """
    skip_mark = duration / 2 if duration < SHORT_SONG_SECONDS else SKIP_WITHIN_SECONDS
    if seconds >= COMPLETED_FRACTION * duration:
        return True, False
    if seconds < skip_mark:
        return False, True
    return reached_end, False


class PlayQuerySet(models.QuerySet["Play"]):
    def for_user(self, user: AbstractBaseUser | AnonymousUser) -> PlayQuerySet:
        """The person's listening history, newest first, of songs they can still see.

        An upload its owner took back out of the catalogue disappears from other people's histories.
        """
        if not user.is_authenticated:
            return self.none()
        return self.filter(user=user).filter(Q(song__in_catalogue=True) | Q(song__owner=user))

    def record(self, user: AbstractBaseUser, song: Song, *, seconds_listened: float, reached_end: bool = False) -> Play:
        """Store one play of ``song``, judged completed or skipped by ``play_outcome``.

        Raises ``InvalidPlay`` for negative, NaN or infinite seconds, or far more than the song lasts;
        a little more (the decoder's rounding) is clamped to the song's duration.
        """
        try:
            seconds = float(seconds_listened)
        except (TypeError, ValueError):
            raise InvalidPlay("Seconds listened must be a number.") from None
        if not math.isfinite(seconds) or seconds < 0:
            raise InvalidPlay("Seconds listened must be a number of seconds, zero or more.")
        duration = max(song.duration, 0.0)
        if seconds > duration * (1 + PLAY_SLACK_FRACTION) + PLAY_SLACK_SECONDS:
            raise InvalidPlay(f"{seconds:g} seconds is longer than the song ({song.duration_label}).")
        seconds = min(seconds, duration)
        completed, skipped = play_outcome(duration=duration, seconds=seconds, reached_end=bool(reached_end))
        # The player reports a play when it ends; it began about as long ago as it was heard (pauses aside).
        return self.create(
            user=user,
            song=song,
            played_at=timezone.now() - timedelta(seconds=seconds),
            seconds_listened=seconds,
            completed=completed,
            skipped=skipped,
        )

    def clear_history(self, user: AbstractBaseUser) -> int:
        """Forget every play of the person's (hidden songs included), and what was learnt from them
        (``history_cleared``); how many there were."""
        from catalog.signals import history_cleared

        deleted, _ = self.filter(user=user).delete()
        history_cleared.send(sender=Play, user=user)
        return deleted


class Play(models.Model):
    """One listening of one song by one person: how long, and whether they finished it or skipped it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="plays")
    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="plays")
    played_at = models.DateTimeField(default=timezone.now)
    seconds_listened = models.FloatField(default=0)
    completed = models.BooleanField(default=False)
    skipped = models.BooleanField(default=False)

    objects = PlayQuerySet.as_manager()

    class Meta:
        ordering = ["-played_at", "-pk"]
        indexes = [models.Index(fields=["user", "-played_at"], name="play_user_recent")]
        constraints = [
            models.CheckConstraint(condition=Q(seconds_listened__gte=0), name="play_seconds_not_negative"),
            models.CheckConstraint(
                condition=~(Q(completed=True) & Q(skipped=True)), name="play_not_completed_and_skipped"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} played {self.song} at {self.played_at:%Y-%m-%d %H:%M}"


class RatingQuerySet(models.QuerySet["Rating"]):
    def for_user(self, user: AbstractBaseUser | AnonymousUser) -> RatingQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(user=user)

    def rate(self, user: AbstractBaseUser, song: Song, value: int) -> Rating:
        """Like (``Rating.LIKE``) or dislike (``Rating.DISLIKE``) ``song``, replacing an earlier rating."""
        if value not in (Rating.LIKE, Rating.DISLIKE):
            raise ValueError(f"A rating is {Rating.LIKE} (like) or {Rating.DISLIKE} (dislike), not {value!r}.")
        rating, _ = self.update_or_create(user=user, song=song, defaults={"value": value, "rated_at": timezone.now()})
        return rating

    def clear(self, user: AbstractBaseUser, song: Song) -> None:
        self.filter(user=user, song=song).delete()

    def liked_by(self, user: AbstractBaseUser | AnonymousUser) -> RatingQuerySet:
        """The person's likes, newest first, of songs they can still see."""
        return self.for_user(user).filter(value=Rating.LIKE).filter(Q(song__in_catalogue=True) | Q(song__owner=user))

    def attach(self, user: AbstractBaseUser | AnonymousUser, songs: Iterable[Song]) -> None:
        """Set ``user_rating`` (``LIKE``, ``DISLIKE`` or None) on each of ``songs``, a page of them, in one query.

        The like/dislike buttons on every row read it; a view calls this for the songs it shows, so a page
        of 50 costs one query, and nobody's whole rating history is loaded to draw one page.
        """
        missing = [song for song in songs if not hasattr(song, "user_rating")]
        if not missing:
            return
        found = dict(self.for_user(user).filter(song__in=[s.pk for s in missing]).values_list("song_id", "value"))
        for song in missing:
            song.user_rating = found.get(song.pk)


class Rating(models.Model):
    """A like or a dislike: at most one per person and song."""

    LIKE = 1
    DISLIKE = -1
    VALUES = [(LIKE, "Like"), (DISLIKE, "Dislike")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings")
    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="ratings")
    value = models.SmallIntegerField(choices=VALUES)
    rated_at = models.DateTimeField(default=timezone.now)

    objects = RatingQuerySet.as_manager()

    class Meta:
        ordering = ["-rated_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "song"], name="rating_one_per_user_song"),
            models.CheckConstraint(condition=Q(value__in=[1, -1]), name="rating_like_or_dislike"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.get_value_display().lower()}s {self.song}"
