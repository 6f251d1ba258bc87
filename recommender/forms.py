"""Forms of the recommender's pages: an upload, a playlist grown from a song, starting out, saving For you,
extending a playlist, a path from A to B.

Choices are limited to what the person may use (genres on offer, analysed catalogue songs, songs they can
see), so a forged or foreign id is just an invalid choice: the same answer whether it exists or not.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser

from catalog.forms import PlaylistNameField
from catalog.genre_tree import is_genre
from catalog.models import UNKNOWN_ARTIST, Genre, Song
from catalog.tags import MAX_FIELD, MAX_GENRE_LENGTH, MAX_GENRES
from recommender import personal
from recommender.core import paths
from recommender.core.decoding import AUDIO_EXTENSIONS
from recommender.models import Embedding, active_model_key
from recommender.radio import KINDS as RADIO_KINDS
from recommender.radio import MAX_SESSION_SONGS, Heard

# --- Uploads and the playlist grown from a song ------------------------------------------------------------

# Genres as people type them: "Rock, Jazz" or "Rock; Jazz", as files' tags separate them (catalog/tags.py).
GENRE_SEPARATOR = re.compile(r"\s*[;,]\s*")


class UploadForm(forms.Form):
    audio = forms.FileField(
        label="A song you like",
        help_text="MP3, Ogg, Opus, FLAC, WAV or AIFF (m4a and AAC when ffmpeg is installed)",
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(sorted(AUDIO_EXTENSIONS)) + ",audio/*"}),
    )

    def clean_audio(self):
        upload = self.cleaned_data["audio"]
        limit = settings.MUSREC_UPLOAD_MAX_MB * 1024 * 1024
        if upload.size == 0:
            raise forms.ValidationError("The file is empty.")
        if upload.size > limit:
            # One decimal: a file just over the limit must not read "1 MB; the limit is 1 MB".
            raise forms.ValidationError(
                f"The file is {upload.size / 1024 / 1024:.1f} MB; the limit is {settings.MUSREC_UPLOAD_MAX_MB} MB."
            )
        suffix = Path(upload.name).suffix.lower()
        if suffix not in AUDIO_EXTENSIONS:
            shown = f"{suffix} files" if suffix else "files without an extension"
            raise forms.ValidationError(
                f"Musrec cannot read {shown}. Upload MP3, Ogg, Opus, FLAC, WAV, AIFF, m4a or AAC."
            )
        return upload


class UploadTagsForm(forms.Form):
    """An upload's tags as its owner corrects them, held to what an import takes from a file's tags."""

    title = forms.CharField(max_length=MAX_FIELD)
    artist = forms.CharField(max_length=MAX_FIELD, required=False, help_text="Empty: unknown artist")
    album = forms.CharField(max_length=MAX_FIELD, required=False)
    track_number = forms.IntegerField(label="Track number", min_value=1, max_value=9999, required=False)
    genres = forms.CharField(
        max_length=MAX_GENRES * (MAX_GENRE_LENGTH + 2),
        required=False,
        help_text=f"At most {MAX_GENRES}, separated by commas",
    )

    def __init__(self, *args: Any, song: Song, **kwargs: Any) -> None:
        if not kwargs.get("data") and not args:
            kwargs.setdefault(
                "initial",
                {
                    "title": song.title,
                    "artist": "" if song.artist.name == UNKNOWN_ARTIST else song.artist.name,
                    "album": song.album.title if song.album else "",
                    "track_number": song.track_number,
                    "genres": ", ".join(g.name for g in song.genres.all()),
                },
            )
        super().__init__(*args, **kwargs)
        self.song = song

    def clean_genres(self) -> list[str]:
        names, seen = [], set()
        for name in GENRE_SEPARATOR.split(self.cleaned_data["genres"]):
            name = " ".join(name.split())
            if not name or name.casefold() in seen:
                continue
            if len(name) > MAX_GENRE_LENGTH:
                raise forms.ValidationError(f"A genre has at most {MAX_GENRE_LENGTH} characters.")
            if not is_genre(name):
                raise forms.ValidationError(f"“{name}” is not a genre.")
            seen.add(name.casefold())
            names.append(name)
        if len(names) > MAX_GENRES:
            raise forms.ValidationError(f"A song has at most {MAX_GENRES} genres.")
        # A private upload never creates a genre: what it names would show in everyone's genre menu.
        new = [] if self.song.in_catalogue else [name for name in names if Genre.objects.existing(name) is None]
        if new:
            raise forms.ValidationError(
                f"“{new[0]}” is not a genre of the catalogue yet, and a private upload only joins genres that "
                "exist. Add the song to the public catalogue first, or choose another."
            )
        return names


PLAYLIST_SIZES = sorted(
    {settings.MUSREC_PLAYLIST_MIN, settings.MUSREC_PLAYLIST_DEFAULT, 15, 20, 25, 30, 40, settings.MUSREC_PLAYLIST_MAX}
)


class PlaylistOptionsForm(forms.Form):
    """How many songs, from which genre: read from the query string, so a bad value just falls back."""

    n = forms.TypedChoiceField(
        label="Songs",
        choices=[(size, size) for size in PLAYLIST_SIZES],
        coerce=int,
        initial=settings.MUSREC_PLAYLIST_DEFAULT,
        required=False,
        empty_value=None,
    )
    genre = forms.ModelChoiceField(
        queryset=Genre.objects.none(), to_field_name="slug", required=False, empty_label="Any genre"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only genres of the catalogue: a genre that only private uploads carry is not offered to anyone.
        self.fields["genre"].queryset = Genre.objects.in_catalogue()

    def options(self) -> tuple[int, Genre | None]:
        # Each field falls back on its own: a bad size must not also drop a good genre.
        if not self.is_bound:
            return settings.MUSREC_PLAYLIST_DEFAULT, None
        self.is_valid()
        return self.cleaned_data.get("n") or settings.MUSREC_PLAYLIST_DEFAULT, self.cleaned_data.get("genre")


class SavePlaylistForm(forms.Form):
    name = PlaylistNameField()
    n = forms.IntegerField(min_value=settings.MUSREC_PLAYLIST_MIN, max_value=settings.MUSREC_PLAYLIST_MAX)
    genre = forms.ModelChoiceField(queryset=Genre.objects.none(), to_field_name="slug", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["genre"].queryset = Genre.objects.in_catalogue()  # as PlaylistOptionsForm offers


# --- The personal pages: starting out, For you, extending a playlist, a path from A to B --------------------


class StartForm(forms.Form):
    genres = forms.ModelMultipleChoiceField(
        queryset=Genre.objects.none(), to_field_name="slug", required=False, widget=forms.CheckboxSelectMultiple
    )
    songs = forms.ModelMultipleChoiceField(
        queryset=Song.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: object, genres: list[Genre], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["genres"].queryset = Genre.objects.filter(pk__in=[g.pk for g in genres])
        # Any analysed catalogue song may be liked here, not only the sample shown: the sample changes
        # as the catalogue grows, and a page loaded a minute ago must still work.
        analysed = Embedding.objects.filter(model=active_model_key()).values("song_id")
        self.fields["songs"].queryset = Song.objects.catalogue().filter(pk__in=analysed)

    def clean(self) -> dict[str, object]:
        data = super().clean()
        if not self.errors and not data.get("genres") and not data.get("songs"):
            raise forms.ValidationError("Pick at least one genre or one song you like.")
        return data


class PlaylistNameForm(forms.Form):
    name = PlaylistNameField()


class ExtendForm(forms.Form):
    n = forms.IntegerField(
        label="Songs", min_value=personal.EXTEND_MIN, max_value=personal.EXTEND_MAX, initial=personal.EXTEND_DEFAULT
    )


class PathForm(forms.Form):
    """Song A (``from``), song B (``to``) and the number of steps between them; A and B may be missing while
    the person is still choosing, but what is there must be valid."""

    n = forms.IntegerField(
        label="Steps",
        min_value=paths.MIN_STEPS,
        max_value=paths.MAX_STEPS,
        required=False,
        initial=paths.DEFAULT_STEPS,
    )

    def __init__(self, *args: object, user: AbstractBaseUser, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        visible = Song.objects.visible_to(user).select_related("artist", "album")
        # "from" is a Python keyword, so the fields are made here rather than declared above.
        self.fields["from"] = forms.ModelChoiceField(queryset=visible, required=False, label="From")
        self.fields["to"] = forms.ModelChoiceField(queryset=visible, required=False, label="To")

    def clean(self) -> dict[str, object]:
        data = super().clean()
        start, goal = data.get("from"), data.get("to")
        if start is not None and goal is not None and start.pk == goal.pk:
            raise forms.ValidationError("Pick two different songs: a path from a song to itself goes nowhere.")
        if self.is_bound and "n" not in self.errors and data.get("n") is None:
            data["n"] = paths.DEFAULT_STEPS
        return data

    def complete(self) -> bool:
        """Both ends chosen and everything valid: a path can be looked for."""
        return self.is_valid() and self.cleaned_data["from"] is not None and self.cleaned_data["to"] is not None


class PathSaveForm(PathForm):
    name = PlaylistNameField()


# --- Radio -------------------------------------------------------------------------------------------------

# One song of a radio session as the player sends it: "<song id>:<seconds heard>:<1 if it reached its end>".
# ASCII digits only: \d would also take "²" or "١", which int() and float() then refuse.
HEARD_ENTRY = re.compile(r"^([0-9]{1,12}):([0-9]{1,6}(?:\.[0-9]{1,3})?):([01])$")
SONG_ID = re.compile(r"^[0-9]{1,12}$")


class RadioForm(forms.Form):
    """A request for the next songs of a radio: where it started, what the session heard, what is queued."""

    kind = forms.ChoiceField(choices=[(kind, kind) for kind in RADIO_KINDS])
    id = forms.IntegerField(min_value=1, max_value=2**63 - 1)
    count = forms.IntegerField(min_value=1, max_value=5, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        entries, queued = self.data.getlist("heard"), self.data.getlist("queued")
        if len(entries) > MAX_SESSION_SONGS or len(queued) > MAX_SESSION_SONGS:
            raise forms.ValidationError(f"A radio session remembers at most {MAX_SESSION_SONGS} songs.")
        heard = []
        for entry in entries:
            match = HEARD_ENTRY.match(entry)
            if match is None:
                raise forms.ValidationError(f"“{entry[:40]}” is not a song heard (id:seconds:ended).")
            heard.append(Heard(int(match[1]), float(match[2]), match[3] == "1"))
        if not all(SONG_ID.match(value) for value in queued):
            raise forms.ValidationError("Queued songs are song ids.")
        cleaned["heard"] = heard
        cleaned["queued"] = [int(value) for value in queued]
        cleaned["count"] = cleaned.get("count") or 3
        return cleaned
