from __future__ import annotations

from pathlib import Path

from django import forms
from django.conf import settings

from catalog.models import Genre
from recommender.core.decoding import AUDIO_EXTENSIONS


class UploadForm(forms.Form):
    audio = forms.FileField(
        label="A song you like",
        help_text="MP3, Ogg, Opus, FLAC or WAV",
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
            raise forms.ValidationError(f"Musrec cannot read {shown}. Upload MP3, Ogg, Opus, FLAC or WAV.")
        return upload


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
        queryset=Genre.objects.all(), to_field_name="slug", required=False, empty_label="Any genre"
    )

    def options(self) -> tuple[int, Genre | None]:
        # Each field falls back on its own: a bad size must not also drop a good genre.
        if not self.is_bound:
            return settings.MUSREC_PLAYLIST_DEFAULT, None
        self.is_valid()
        return self.cleaned_data.get("n") or settings.MUSREC_PLAYLIST_DEFAULT, self.cleaned_data.get("genre")


class SavePlaylistForm(forms.Form):
    name = forms.CharField(max_length=120, strip=True)
    n = forms.IntegerField(min_value=settings.MUSREC_PLAYLIST_MIN, max_value=settings.MUSREC_PLAYLIST_MAX)
    genre = forms.ModelChoiceField(queryset=Genre.objects.all(), to_field_name="slug", required=False)
