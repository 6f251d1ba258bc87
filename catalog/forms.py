"""Forms of the catalogue's pages (plays, playlists, playlist files), and the playlist-name field every app uses."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from django import forms

from catalog.models import Playlist
from catalog.playlist_files import MAX_IMPORT_BYTES, M3uFile, PlaylistFileError, decode_playlist_bytes, parse_m3u8

PLAYLIST_NAME_MAX_LENGTH: int = Playlist._meta.get_field("name").max_length
DESCRIPTION_MAX_LENGTH: int = Playlist._meta.get_field("description").max_length
IMPORT_SUFFIXES = (".m3u8", ".m3u")
# Primary keys are bigints; a larger number cannot name a song, and PostgreSQL would refuse to compare it.
MAX_PK = 2**63 - 1

# The playlist pages' own wording; the recommender's save forms keep Django's (tests/test_similarity.py pins it).
PLAYLIST_NAME_ERRORS = {
    "required": "A playlist needs a name.",
    "max_length": f"A name can be at most {PLAYLIST_NAME_MAX_LENGTH} characters.",
    "null_characters_not_allowed": "A name cannot contain NUL characters.",
}


class PlaylistNameField(forms.CharField):
    """A playlist's name, no longer than the model's column: every form that names a playlist uses this one."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=PLAYLIST_NAME_MAX_LENGTH, **kwargs)


def form_errors(form: forms.Form) -> list[str]:
    """Every error message of ``form``, in the order the form found them."""
    return [error for errors in form.errors.values() for error in errors]


def form_errors_text(form: forms.Form, *, separator: str = "; ") -> str:
    """Every error message of ``form`` on one line, for a flash message."""
    return separator.join(form_errors(form))


class PlayForm(forms.Form):
    song = forms.IntegerField(min_value=1, max_value=MAX_PK)
    # Django's FloatField refuses NaN and infinity; the song's length bounds it in Play.objects.record.
    seconds = forms.FloatField(min_value=0)
    ended = forms.TypedChoiceField(
        choices=[("0", "no"), ("1", "yes"), ("false", "no"), ("true", "yes")],
        coerce=lambda value: value in ("1", "true"),
        required=False,
        empty_value=False,
    )


class PlaylistForm(forms.Form):
    name = PlaylistNameField(error_messages=PLAYLIST_NAME_ERRORS)
    description = forms.CharField(
        required=False,
        max_length=DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={
            "max_length": f"A description can be at most {DESCRIPTION_MAX_LENGTH} characters.",
            "null_characters_not_allowed": "A description cannot contain NUL characters.",
        },
    )

    def clean_name(self) -> str:
        # Names are shown on one line, in menus and file names: no runs of spaces, no line breaks.
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("A playlist needs a name.")
        return name


class ImportForm(forms.Form):
    file = forms.FileField(
        label="M3U8 file",
        error_messages={"required": "Choose an .m3u8 file to import.", "empty": "The file is empty."},
        widget=forms.ClearableFileInput(attrs={"accept": ".m3u8,.m3u,audio/x-mpegurl,application/vnd.apple.mpegurl"}),
    )
    name = PlaylistNameField(
        label="Name (optional)",
        required=False,
        help_text="Without one, the playlist is named after the file.",
        error_messages=PLAYLIST_NAME_ERRORS,
    )

    parsed: M3uFile

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_IMPORT_BYTES // 1024 // 1024} MB.")
        if PurePath(upload.name).suffix.lower() not in IMPORT_SUFFIXES:
            raise forms.ValidationError("Import an .m3u8 or .m3u playlist file.")
        try:
            text = decode_playlist_bytes(upload.read(MAX_IMPORT_BYTES + 1))
        except PlaylistFileError as error:
            raise forms.ValidationError(str(error)) from None
        self.parsed = parse_m3u8(text)
        return upload

    def playlist_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            stem = PurePath(self.cleaned_data["file"].name).stem
            name = " ".join("".join(ch for ch in stem if ch.isprintable()).replace("_", " ").split())
        return name[:PLAYLIST_NAME_MAX_LENGTH] or "Imported playlist"
