"""The catalogue: artists, albums, genres and songs, with search and nearest-neighbour queries."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.lookups import Unaccent
from django.contrib.postgres.search import (
    SearchQuery,
    SearchRank,
    SearchVector,
    TrigramSimilarity,
    TrigramWordSimilarity,
)
from django.core.cache import cache
from django.db import IntegrityError, connection, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.models import Case, Exists, F, OuterRef, Q, When
from django.db.models.functions import Coalesce, Greatest, Lower
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django.urls import get_script_prefix, reverse
from django.utils.text import slugify

from catalog.genre_tree import broader_genre
from catalog.signals import catalogue_changed
from catalog.song_filters import ENERGY_BANDS, SongFilters, mood_song_ids
from catalog.text import fold, prefix_tsquery, words

# Word similarity above which a small typo ("wesnth", "nexiuz" for "Nexuiz") still finds the song.
TRIGRAM_THRESHOLD = 0.4
MAX_QUERY_LENGTH = 200


class Artist(models.Model):
    name = models.CharField(max_length=255)

    class Meta:
        ordering = [Lower("name")]
        constraints = [models.UniqueConstraint(Lower("name"), name="artist_name_unique_ci")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        Song.objects.filter(artist=self).refresh_search_documents()


class Album(models.Model):
    title = models.CharField(max_length=255)
    artist = models.ForeignKey(Artist, null=True, blank=True, on_delete=models.SET_NULL, related_name="albums")
    # The album's picture, from a catalogue song's file: never from a private upload (catalog.models.artwork).
    cover = models.ForeignKey(
        "catalog.Cover", null=True, blank=True, on_delete=models.SET_NULL, related_name="albums", editable=False
    )

    class Meta:
        ordering = [Lower("title")]
        constraints = [
            models.UniqueConstraint(Lower("title"), "artist", name="album_title_artist_unique_ci"),
            models.UniqueConstraint(
                Lower("title"), condition=Q(artist__isnull=True), name="album_title_unique_ci_without_artist"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        Song.objects.filter(album=self).refresh_search_documents()


class GenreQuerySet(models.QuerySet["Genre"]):
    def subtree_ids(self, genre: Genre) -> set[int]:
        """Ids of ``genre`` and every genre below it, so "Rock" also finds "Punk rock"."""
        children: dict[int | None, list[int]] = {}
        for pk, parent_id in self.values_list("pk", "parent_id"):
            children.setdefault(parent_id, []).append(pk)
        found, frontier = {genre.pk}, [genre.pk]
        while frontier:
            next_ids = [child for pk in frontier for child in children.get(pk, []) if child not in found]
            found.update(next_ids)
            frontier = next_ids
        return found

    def named(self, name: str) -> Genre:
        """The genre called ``name`` (any case), created under its broader genre if new."""
        name = " ".join(name.split())[:100]
        found = self.filter(name__iexact=name).first()
        if found is not None:
            return found
        parent_name = broader_genre(name)
        parent = self.named(parent_name) if parent_name and fold(parent_name) != fold(name) else None
        try:
            with transaction.atomic():
                return self.create(name=name, parent=parent)
        except IntegrityError:  # created meanwhile by a concurrent import
            return self.get(name__iexact=name)

    def with_subtree_song_counts(self) -> list[Genre]:
        """Genres with catalogue songs of their own or below them, ``song_count`` counting the whole subtree.

        Imports place genres under broader ones ("Death metal" under "Metal") that hold no songs
        themselves, yet "Metal" is the filter a listener wants. The counting stays in PostgreSQL
        (a recursive CTE; UNION rather than UNION ALL so a parent cycle cannot loop forever).
        Only songs in the catalogue count: a genre that only someone's private upload carries is
        nobody else's business, not even as a count. A song without genre tags counts under the genres predicted
        from its sound, as the catalogue's genre filter lists it (``SongQuerySet.in_genre``).
        """
        genre_table = Genre._meta.db_table
        link_table = Song.genres.through._meta.db_table
        predicted_table = Song.predicted_genres.through._meta.db_table
        song_table = Song._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                WITH RECURSIVE tree(ancestor_id, genre_id) AS (
                    SELECT id, id FROM {genre_table}
                    UNION
                    SELECT tree.ancestor_id, child.id FROM {genre_table} child
                    JOIN tree ON child.parent_id = tree.genre_id
                )
                SELECT tree.ancestor_id, COUNT(DISTINCT link.song_id)
                FROM tree JOIN (
                    SELECT song_id, genre_id FROM {link_table}
                    UNION ALL SELECT song_id, genre_id FROM {predicted_table}
                ) link ON link.genre_id = tree.genre_id
                JOIN {song_table} song ON song.id = link.song_id AND song.in_catalogue
                GROUP BY tree.ancestor_id
                """  # table names come from the models, never from input
            )
            counts = dict(cursor.fetchall())
        genres = list(self.filter(pk__in=counts).select_related("parent"))
        for genre in genres:
            genre.song_count = counts[genre.pk]
        return genres

    def in_catalogue(self) -> GenreQuerySet:
        """Genres that catalogue songs carry, themselves or below them: the ones a genre menu may offer."""
        return self.filter(pk__in=[genre.pk for genre in genre_menu()])

    def existing(self, name: str) -> Genre | None:
        """The genre called ``name`` (any case), if there is one; never creates it."""
        return self.filter(name__iexact=" ".join(name.split())[:100]).first()


class Genre(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=120, unique=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children", help_text="Broader genre"
    )
    # Genres a person said they like when they had no history yet ("For you" starts from them).
    fans = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="favourite_genres")

    objects = GenreQuerySet.as_manager()

    class Meta:
        ordering = [Lower("name")]
        constraints = [models.UniqueConstraint(Lower("name"), name="genre_name_unique_ci")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if not self.slug:
            self.slug = unique_genre_slug(self.name)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        ancestor = self.parent
        while ancestor is not None:
            if ancestor.pk == self.pk:
                raise ValidationError({"parent": "A genre cannot sit below itself."})
            ancestor = ancestor.parent


# The genre menu (a recursive count) and the number of catalogue songs are the same for everyone, since only
# catalogue songs count, so they are kept in the shared cache (Redis) instead of being counted for every page. A saved
# or deleted song or genre, or a change of a song's genre tags, forgets them (``forget_catalogue_figures``); the
# expiry bounds what a change that sends no signal (a bulk update()) or a request racing a change can leave.
CATALOGUE_FIGURES_SECONDS = 60
GENRE_MENU_KEY = "catalogue:genre-menu"
SONG_COUNT_KEY = "catalogue:song-count"
GENERATION_KEY = "catalogue:generation"


def catalogue_generation() -> str:
    """A token that changes with every change of the catalogue: cached answers keyed with it are never read again
    once the catalogue changes (``forget_catalogue_figures``)."""
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        generation = uuid.uuid4().hex
        # add(), not set(): two processes starting a generation at once agree on one.
        if not cache.add(GENERATION_KEY, generation, timeout=None):
            generation = cache.get(GENERATION_KEY) or generation
    return generation


def genre_menu() -> list[Genre]:
    """``Genre.objects.with_subtree_song_counts()``, from the cache when it is there."""
    genres = cache.get(GENRE_MENU_KEY)
    if genres is None:
        genres = Genre.objects.with_subtree_song_counts()
        cache.set(GENRE_MENU_KEY, genres, CATALOGUE_FIGURES_SECONDS)
    return genres


def catalogue_song_count() -> int:
    """How many songs the catalogue has, from the cache when it is there."""
    count = cache.get(SONG_COUNT_KEY)
    if count is None:
        count = Song.objects.catalogue().count()
        cache.set(SONG_COUNT_KEY, count, CATALOGUE_FIGURES_SECONDS)
    return count


def forget_catalogue_figures() -> None:
    """Drop the cached genre menu and song count: now, and again once the change is committed, since a page
    drawn meanwhile from the old rows may have stored them again."""

    def forget() -> None:
        cache.delete(GENRE_MENU_KEY)
        cache.delete(SONG_COUNT_KEY)
        cache.delete(GENERATION_KEY)
        catalogue_changed.send(sender=Song)

    forget()
    transaction.on_commit(forget)


def unique_genre_slug(name: str) -> str:
    base = slugify(fold(name))[:100] or "genre"
    slug, n = base, 2
    while Genre.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def genre_song_ids(genre: Genre | set[int], *, distinct: bool = True) -> models.QuerySet:
    """The ids (``song_id``) of songs tagged with ``genre`` or a sub-genre, or predicted to be.

    ``genre`` may be given as the ids of its subtree. Without ``distinct`` a song tagged with two of
    the genres comes twice, but the rows stream, so a LIMIT stops early.
    """
    ids = genre if isinstance(genre, set) else Genre.objects.subtree_ids(genre)
    tagged = Song.genres.through.objects.filter(genre__in=ids).values("song_id")
    predicted = Song.predicted_genres.through.objects.filter(genre__in=ids).values("song_id")
    return tagged.union(predicted, all=not distinct)


class SongQuerySet(models.QuerySet["Song"]):
    def with_relations(self) -> SongQuerySet:
        return self.select_related("artist", "album").prefetch_related("genres", "predicted_genres").with_title_notes()

    def note_repeated_titles(self, songs: Iterable[Song]) -> None:
        """Give ``songs`` (loaded some other way, say through a playlist's items) their ``title_repeats``, in one
        query."""
        songs = list(songs)
        repeats = dict(self.filter(pk__in=[s.pk for s in songs]).with_title_notes().values_list("pk", "title_repeats"))
        for song in songs:
            song.title_repeats = repeats.get(song.pk, False)

    def with_title_notes(self) -> SongQuerySet:
        """Each song with ``title_repeats``: whether another song by its artist has the same title (a game's eleven
        "Living Caves"), so that lists tell them apart (``Song.title_note``).

        Counted among the songs everyone can see, and for a private upload its owner's own uploads too: another
        person's private upload must not change what anyone sees.
        """
        # Lower() on both sides, as the (artist, lower(title)) index has it: iexact compiles to UPPER().
        same = (
            Song.objects.annotate(lower_title=Lower("title"))
            .filter(artist=OuterRef("artist"), lower_title=Lower(OuterRef("title")))
            .exclude(pk=OuterRef("pk"))
            .values("pk")
        )
        in_catalogue = Exists(same.filter(in_catalogue=True))
        among_own = Exists(same.filter(in_catalogue=False, owner=OuterRef("owner")))
        return self.annotate(
            title_repeats=Case(
                When(in_catalogue, then=True),
                When(Q(in_catalogue=False) & among_own, then=True),
                default=False,
                output_field=models.BooleanField(),
            )
        )

    def catalogue(self) -> SongQuerySet:
        """Songs everyone may browse: imports, and uploads their owners chose to share."""
        return self.filter(in_catalogue=True)

    def uploads_of(self, user: AbstractBaseUser | AnonymousUser) -> SongQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner=user)

    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> SongQuerySet:
        """The catalogue plus the user's own private uploads."""
        if not user.is_authenticated:
            return self.catalogue()
        return self.filter(Q(in_catalogue=True) | Q(owner=user))

    def covers_shown_to(self, user: AbstractBaseUser | AnonymousUser) -> SongQuerySet:
        """Songs whose covers ``user`` may see: those visible to them. A visitor (signed out) sees the home page's
        few demo covers, so the covers of imported catalogue songs only: never an upload's, shared or not, since
        its picture came from someone's own file."""
        if not user.is_authenticated:
            return self.catalogue().filter(owner__isnull=True)
        return self.visible_to(user)

    def in_genre(self, genre: Genre) -> SongQuerySet:
        """Songs tagged with ``genre`` or a sub-genre, or predicted to be, when they have no genre tag."""
        # One list of ids from the two link tables' genre indexes: written as "EXISTS ... OR EXISTS ...",
        # PostgreSQL cannot start from the genre and checks every song instead (200+ ms on 100,000 songs).
        return self.filter(pk__in=genre_song_ids(genre))

    def matching(self, filters: SongFilters) -> SongQuerySet:
        """Songs within ``filters``' tempo range and energy band and in its mood (``catalog.song_filters``); a song
        whose tempo or energy is not known yet fails a filter on it."""
        songs = self
        if filters.tempo_min is not None:
            songs = songs.filter(tempo_bpm__gte=filters.tempo_min)
        if filters.tempo_max is not None:
            songs = songs.filter(tempo_bpm__lte=filters.tempo_max)
        if filters.energy:
            low, high = ENERGY_BANDS[filters.energy]
            if low is not None:
                songs = songs.filter(energy__gte=low)
            if high is not None:
                songs = songs.filter(energy__lt=high)
        if filters.mood:
            songs = songs.filter(pk__in=mood_song_ids(filters.mood))
        return songs

    def analysis_counts(self) -> dict[str, int]:
        """Songs per analysis state, every state present, plus ``total`` and ``percent`` done."""
        counts = dict.fromkeys(Song.Analysis.values, 0)
        counts.update(self.order_by().values_list("analysis_status").annotate(n=models.Count("pk")))
        counts["total"] = sum(counts.values())
        counts["percent"] = round(100 * counts[Song.Analysis.DONE] / counts["total"]) if counts["total"] else 100
        return counts

    def analysed(self) -> SongQuerySet:
        return self.filter(analysis_status=Song.Analysis.DONE)

    def awaiting_analysis(self) -> SongQuerySet:
        """Songs whose analysis has not finished: not started, queued or running."""
        return self.filter(analysis_status__in=[Song.Analysis.PENDING, Song.Analysis.QUEUED, Song.Analysis.ANALYSING])

    def total_file_size(self) -> int:
        """Bytes the songs' audio files take (``file_size``), 0 for none."""
        return self.aggregate(total=Coalesce(models.Sum("file_size"), 0))["total"]

    def search(self, query: str) -> SongQuerySet:
        """Songs whose title, artist or album match ``query``, best first.

        Full-text prefix matching finds what is typed so far; trigram word similarity
        forgives small typos. Both run on expression indexes over ``search_document``.
        """
        # Only the words reach SQL: no NUL (PostgreSQL text cannot hold one), no tsquery syntax.
        terms = " ".join(words(query[:MAX_QUERY_LENGTH]))
        if not terms:
            return self.none()
        ts_query = SearchQuery(prefix_tsquery(terms), config="simple", search_type="raw")
        vector = SearchVector("search_document", config="simple")
        return (
            self.annotate(
                document=vector,
                text_rank=SearchRank(vector, ts_query),
                likeness=TrigramWordSimilarity(terms, "search_document"),
                # Many songs contain the word "wesnoth"; the one called just that comes first.
                title_likeness=TrigramSimilarity(Unaccent(Lower("title")), terms),
            )
            # The %> operator, not "likeness >= threshold": only an operator can use the trigram index.
            .filter(Q(document=ts_query) | Q(search_document__trigram_word_similar=terms))
            .annotate(relevance=Greatest(F("text_rank"), F("likeness")))
            .order_by("-relevance", "-title_likeness", Lower("title"), "pk")
        )

    def sorted_by(self, key: str) -> SongQuerySet:
        orderings = {
            "title": [Lower("title"), "pk"],
            "-title": [Lower("title").desc(), "-pk"],
            "artist": [Lower("artist__name"), Lower("title"), "pk"],
            "-artist": [Lower("artist__name").desc(), Lower("title"), "pk"],
            "added": ["added_at", "pk"],
            "-added": ["-added_at", "-pk"],
        }
        return self.order_by(*orderings.get(key, orderings["title"]))

    def refresh_search_documents(self) -> None:
        for song in self.select_related("artist", "album"):
            document = song.build_search_document()
            if document != song.search_document:
                Song.objects.filter(pk=song.pk).update(search_document=document)


UNKNOWN_ARTIST = "Unknown artist"

# A list of 25 songs shows five addresses of each, and reverse() costs ~15 µs: a quarter of drawing a row. Each kind
# of song address is reversed once per process, for a placeholder id, and the id put in its place.
_SONG_ID_PLACEHOLDER = 918273645


@functools.cache
def _song_url_parts(name: str) -> tuple[str, str]:
    path = reverse(name, args=[_SONG_ID_PLACEHOLDER]).removeprefix(get_script_prefix())
    before, _, after = path.partition(str(_SONG_ID_PLACEHOLDER))
    return before, after


def song_url(name: str, pk: int) -> str:
    """``reverse(name, args=[pk])`` for a URL whose one argument is a song's id, without resolving it each time."""
    before, after = _song_url_parts(name)
    return f"{get_script_prefix()}{before}{int(pk)}{after}"


def artist_group_key(artist_id: int, artist_name: str, album_id: int | None, song_id: int) -> int:
    """Who counts as the artist for "at most 2 per artist": songs of unknown artists are not one artist,
    so they are grouped by album instead (negative keys keep the two kinds apart)."""
    if artist_name != UNKNOWN_ARTIST:
        return artist_id
    return -(album_id or 10**12 + song_id)


SORT_CHOICES = {
    "title": "Title (A–Z)",
    "-title": "Title (Z–A)",
    "artist": "Artist (A–Z)",
    "-artist": "Artist (Z–A)",
    "-added": "Newest first",
    "added": "Oldest first",
}


class Song(models.Model):
    class Analysis(models.TextChoices):
        PENDING = "pending", "Not analysed yet"
        QUEUED = "queued", "Queued"
        ANALYSING = "analysing", "Analysing"
        DONE = "done", "Analysed"
        FAILED = "failed", "Failed"

    title = models.CharField(max_length=255)
    artist = models.ForeignKey(Artist, on_delete=models.PROTECT, related_name="songs")
    album = models.ForeignKey(Album, null=True, blank=True, on_delete=models.SET_NULL, related_name="songs")
    genres = models.ManyToManyField(Genre, blank=True, related_name="songs")
    track_number = models.PositiveIntegerField(null=True, blank=True)
    # The owner corrected the file's tags on the upload's page: sharing the upload keeps their genres rather than
    # reading the file's again (catalog.importer.publish_upload).
    tags_edited = models.BooleanField(default=False)
    duration = models.FloatField(help_text="Seconds")
    audio = models.FileField(upload_to="songs/", max_length=255)
    original_filename = models.CharField(max_length=255, blank=True)
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of the audio file")
    file_size = models.PositiveBigIntegerField(default=0)
    source = models.CharField(max_length=255, blank=True, help_text="Where the file came from")
    licence = models.CharField(max_length=100, blank=True)
    attribution = models.TextField(blank=True)
    licence_file = models.FileField(upload_to="licences/", max_length=255, blank=True)
    analysis_status = models.CharField(max_length=12, choices=Analysis.choices, default=Analysis.PENDING)
    analysis_error = models.TextField(blank=True)
    analysis_progress = models.PositiveSmallIntegerField(default=0, help_text="Percent")
    analysis_started_at = models.DateTimeField(null=True, blank=True)
    # The claim of the worker analysing the song: only its holder may store or fail the result. The holder
    # renews the heartbeat while it works; a claim whose heartbeat stopped belonged to a worker that died.
    analysis_claim = models.UUIDField(null=True, blank=True, editable=False)
    analysis_heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Claims that ended without a result (a crash, a timeout, a killed worker); reset by a result or a retry.
    analysis_attempts = models.PositiveSmallIntegerField(default=0)
    analysed_at = models.DateTimeField(null=True, blank=True)
    # Filled in by the analysis: the network's genre for songs whose tags name none.
    predicted_genres = models.ManyToManyField(Genre, blank=True, related_name="predicted_songs")
    spectrogram = models.ImageField(upload_to="spectrograms/", max_length=255, blank=True)
    # The picture in the song's own file (or beside it); without one the album's shows, else one drawn from the sound.
    cover = models.ForeignKey(
        "catalog.Cover", null=True, blank=True, on_delete=models.SET_NULL, related_name="songs", editable=False
    )
    tempo_bpm = models.FloatField(null=True, blank=True)
    loudness_db = models.FloatField(null=True, blank=True, help_text="Integrated loudness, LUFS (approximate)")
    energy = models.FloatField(null=True, blank=True, help_text="0 (calm) to 1 (intense)")
    # Uploads belong to their uploader and stay private unless shared; imports have no owner.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="uploads"
    )
    in_catalogue = models.BooleanField(default=True)
    added_at = models.DateTimeField(auto_now_add=True, db_index=True)
    search_document = models.TextField(blank=True, editable=False)

    objects = SongQuerySet.as_manager()

    class Meta:
        ordering = [Lower("title"), "pk"]
        indexes = [
            GinIndex(SearchVector("search_document", config="simple"), name="song_search_fts"),
            GinIndex(fields=["search_document"], opclasses=["gin_trgm_ops"], name="song_search_trgm"),
            models.Index(Lower("title"), name="song_title_ci"),
            models.Index("artist", Lower("title"), name="song_artist_title_ci"),
            models.Index(fields=["analysis_status"], name="song_analysis_status"),
        ]
        constraints = [
            # One copy of a recording in the shared catalogue, one per uploader among private uploads.
            models.UniqueConstraint(
                fields=["content_hash"], condition=Q(owner__isnull=True), name="song_catalogue_hash_unique"
            ),
            models.UniqueConstraint(
                fields=["owner", "content_hash"], condition=Q(owner__isnull=False), name="song_upload_hash_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} — {self.artist}"

    def save(self, *args, **kwargs) -> None:
        self.search_document = self.build_search_document()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"title", "artist", "album"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "search_document"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return song_url("catalog:song_detail", self.pk)

    @property
    def title_note(self) -> str:
        """What tells this song from others of its artist with the same title (``with_title_notes``): its track
        number and, for an imported song, its file name; "" when its title is its own, or when it was not counted.

        An upload's file name is its owner's (it may say who they are): once shared it shows its track number only.
        """
        if not getattr(self, "title_repeats", False):
            return ""
        file_name = self.original_filename if self.owner_id is None else ""
        return " · ".join(
            part for part in (f"track {self.track_number}" if self.track_number else "", file_name) if part
        )

    # Every song in a list has a play button, like/dislike and "+" (templates/catalog/_song.html).
    @property
    def audio_url(self) -> str:
        return song_url("catalog:song_audio", self.pk)

    @property
    def rate_url(self) -> str:
        return song_url("catalog:song_rate", self.pk)

    @property
    def add_to_playlist_url(self) -> str:
        return song_url("catalog:playlist_add_song", self.pk)

    def build_search_document(self) -> str:
        parts = [self.title, self.artist.name if self.artist_id else "", self.album.title if self.album_id else ""]
        return fold(" ".join(part for part in parts if part))

    @property
    def duration_label(self) -> str:
        minutes, seconds = divmod(round(self.duration), 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"

    @property
    def audio_content_type(self) -> str:
        return audio_content_type(self.audio.name)


AUDIO_CONTENT_TYPES = {
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".flac": "audio/flac",
    ".wav": "audio/wav",
    ".m4a": "audio/mp4",
}


def audio_content_type(name: str) -> str:
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return AUDIO_CONTENT_TYPES.get(suffix, "application/octet-stream")


@receiver(post_delete, sender=Song)
def delete_song_file(sender: type[Song], instance: Song, **kwargs: object) -> None:
    """Remove the audio file and spectrogram once the row is really gone (not if the transaction rolls back).

    Files are named by content, so a copy of the same recording (an upload and its catalogue twin)
    may share them: a file goes only when no other song uses it.
    """
    for field in ("audio", "spectrogram"):
        name, storage = getattr(instance, field).name, getattr(instance, field).storage
        if name and not Song.objects.filter(**{field: name}).exists():
            transaction.on_commit(lambda name=name, storage=storage: storage.delete(name))


@receiver([post_save, post_delete], sender=Song)
@receiver([post_save, post_delete], sender=Genre)
def song_or_genre_changed(sender: type[models.Model], **kwargs: object) -> None:
    forget_catalogue_figures()


@receiver(m2m_changed, sender=Song.genres.through)
@receiver(m2m_changed, sender=Song.predicted_genres.through)
def song_genres_changed(sender: type[models.Model], action: str, **kwargs: object) -> None:
    if action.startswith("post_"):
        forget_catalogue_figures()


@receiver(connection_created)
def set_trigram_threshold(sender: type[BaseDatabaseWrapper], connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    """pg_trgm's ``%>`` operator reads its threshold from a setting, not an argument: give it ours."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('pg_trgm.word_similarity_threshold', %s, false)", [str(TRIGRAM_THRESHOLD)]
            )
