"""Filters for any list of songs: a tempo range, an energy band and a mood (``Song.objects.matching``).

One value object (``SongFilters``) read from a query string or a form by one form (``SongFiltersForm``), so that the
catalogue, the playlists grown from a song, the radio and For you accept the same parameters: ``tempo_min`` and
``tempo_max`` (BPM, 30 to 300), ``energy`` (low, medium, high) and ``mood`` (happy, sad, calm, energetic).

Tempo and energy are columns of the song. A mood is read from the song's tag scores, which live with its embedding on
the recommender's side: the catalogue may not import it, so the recommender registers, when it starts, how to find
the songs of a mood (``use_mood_songs``; the rule itself: ``recommender.core.moods``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.db.models import QuerySet

from recommender.core.moods import MOODS

TEMPO_LOWEST, TEMPO_HIGHEST = 30, 300
# Energy is stored from 0 (calm) to 1 (intense); the bands are its thirds.
ENERGY_BANDS: dict[str, tuple[float | None, float | None]] = {
    "low": (None, 1 / 3),
    "medium": (1 / 3, 2 / 3),
    "high": (2 / 3, None),
}
FILTER_PARAMETERS = ("tempo_min", "tempo_max", "energy", "mood")

_mood_songs: Callable[[str], QuerySet] | None = None


def use_mood_songs(find: Callable[[str], QuerySet]) -> None:
    """Register ``find(mood)``: a query of the ids (``song_id``) of the songs in ``mood``."""
    global _mood_songs
    _mood_songs = find


def mood_song_ids(mood: str) -> QuerySet:
    if _mood_songs is None:
        raise RuntimeError("No app registered how to find the songs of a mood (recommender.apps).")
    return _mood_songs(mood)


@dataclass(frozen=True)
class SongFilters:
    """What songs a list keeps; every field empty (the default) keeps them all."""

    tempo_min: int | None = None
    tempo_max: int | None = None
    energy: str = ""
    mood: str = ""

    def __bool__(self) -> bool:
        return any(self.as_params().values())

    def as_params(self) -> dict[str, str]:
        """The filters as query parameters, the empty ones left out."""
        values = {"tempo_min": self.tempo_min, "tempo_max": self.tempo_max, "energy": self.energy, "mood": self.mood}
        return {name: str(value) for name, value in values.items() if value not in (None, "")}

    @property
    def query(self) -> str:
        """``as_params`` as a query string ("?mood=calm"), "" without filters: to keep them in a list's links."""
        params = self.as_params()
        return "?" + urlencode(params) if params else ""

    def labels(self) -> list[tuple[str, tuple[str, ...]]]:
        """Each active filter in words, with the parameters that clearing it removes."""
        chips: list[tuple[str, tuple[str, ...]]] = []
        if self.tempo_min is not None and self.tempo_max is not None:
            chips.append((f"{self.tempo_min}–{self.tempo_max} BPM", ("tempo_min", "tempo_max")))
        elif self.tempo_min is not None:
            chips.append((f"≥ {self.tempo_min} BPM", ("tempo_min",)))
        elif self.tempo_max is not None:
            chips.append((f"≤ {self.tempo_max} BPM", ("tempo_max",)))
        if self.energy:
            chips.append((f"{self.energy.capitalize()} energy", ("energy",)))
        if self.mood:
            chips.append((self.mood.capitalize(), ("mood",)))
        return chips

    def chips(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        """``labels`` with the query string (from ``params``, the request's) that clears each; pages restart at 1."""
        out = []
        for label, cleared in self.labels():
            kept = [
                (name, value)
                for name in params
                if name not in cleared and name != "page"
                for value in (params.getlist(name) if hasattr(params, "getlist") else [params[name]])
            ]
            out.append((label, "?" + urlencode(kept)))
        return out


class SongFiltersForm(forms.Form):
    """The filters from a query string or a form. Each valid field applies on its own (``filters``); a bad one is
    an error to show, never a failure."""

    tempo_min = forms.IntegerField(
        label="Tempo from", min_value=TEMPO_LOWEST, max_value=TEMPO_HIGHEST, required=False, help_text="BPM"
    )
    tempo_max = forms.IntegerField(
        label="to", min_value=TEMPO_LOWEST, max_value=TEMPO_HIGHEST, required=False, help_text="BPM"
    )
    energy = forms.ChoiceField(
        choices=[("", "Any energy"), *((band, band.capitalize()) for band in ENERGY_BANDS)], required=False
    )
    mood = forms.ChoiceField(choices=[("", "Any mood"), *((mood, mood.capitalize()) for mood in MOODS)], required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("tempo_min", "tempo_max"):
            self.fields[name].widget.attrs.update({"inputmode": "numeric", "placeholder": "BPM"})

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        low, high = cleaned.get("tempo_min"), cleaned.get("tempo_max")
        if low is not None and high is not None and low > high:
            raise forms.ValidationError(f"The tempo range is empty: {low} BPM is above {high} BPM.")
        return cleaned

    @property
    def filters(self) -> SongFilters:
        if not self.is_bound:
            return SongFilters()
        self.is_valid()
        data = self.cleaned_data
        # An empty range drops the tempo filter, not the others.
        tempo_ok = not self.non_field_errors()
        return SongFilters(
            tempo_min=data.get("tempo_min") if tempo_ok else None,
            tempo_max=data.get("tempo_max") if tempo_ok else None,
            energy=data.get("energy") or "",
            mood=data.get("mood") or "",
        )

    def error_messages(self) -> list[str]:
        """The errors in words, each naming its field."""
        if not self.is_bound or self.is_valid():
            return []
        out = []
        for name, errors in self.errors.items():
            if name == "__all__":
                out.extend(errors)
                continue
            label = "Tempo" if name.startswith("tempo") else self.fields[name].label or name.capitalize()
            out.extend(f"{label}: {error}" for error in errors)
        return out


def filters_form(params: Mapping[str, Any]) -> SongFiltersForm:
    """The filters form bound to ``params`` when any filter parameter is there, else unbound (no errors to show)."""
    if any(params.get(name) for name in FILTER_PARAMETERS):
        return SongFiltersForm({name: params.get(name, "") for name in FILTER_PARAMETERS})
    return SongFiltersForm()


def filters_context(params: Mapping[str, Any]) -> dict[str, Any]:
    """What ``templates/catalog/_song_filters.html`` shows, from a request's query string: the form, the filters in
    use, and a chip per active filter with the query that clears it."""
    form = filters_form(params)
    filters = form.filters
    return {"filters_form": form, "filters": filters, "filter_chips": filters.chips(params)}
