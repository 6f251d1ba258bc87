"""Forms of the personal pages: starting out, saving For you, extending a playlist, a path from A to B.

Choices are limited to what the person may use (genres on offer, analysed catalogue songs, songs they can
see), so a forged or foreign id is just an invalid choice: the same answer whether it exists or not.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.base_user import AbstractBaseUser

from catalog.models import Genre, Song
from recommender import personal
from recommender.core import paths
from recommender.models import Embedding, active_model_key

PLAYLIST_NAME_LENGTH = 120


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
    name = forms.CharField(max_length=PLAYLIST_NAME_LENGTH, strip=True)


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
    name = forms.CharField(max_length=PLAYLIST_NAME_LENGTH, strip=True)
