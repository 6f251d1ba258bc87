"""The admin of the genre models: train one in the background, watch it train, read its card, activate it."""

from __future__ import annotations

import base64
import contextlib
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Avg, Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST

from recommender.core.analysis import WINDOWS_PER_SONG
from recommender.genre_jobs import activate, deactivate, queue_training
from recommender.genre_learning import CONFUSION_FILE, CURVES_FILE
from recommender.genre_registry import GenreModel

TABLE_ROWS = (
    ("model", "The trained model"),
    ("logistic_regression", "Logistic regression on the stored embedding"),
    ("msd_tags", "MSD-tag mapping (today's)"),
)
TABLE_COLUMNS = ("accuracy", "log_loss", "macro_precision", "macro_recall", "macro_f1", "p@5", "p@10")


class TrainGenreModelForm(forms.ModelForm):
    """What the admin's "Add genre model" asks: the training job learns the catalogue's genre tags."""

    name = forms.CharField(required=False, max_length=100, help_text="Default: the architecture and the date.")
    epochs = forms.IntegerField(min_value=1, max_value=500, initial=30)
    patience = forms.IntegerField(min_value=1, max_value=100, initial=5, help_text="Early stopping.")
    seed = forms.IntegerField(initial=0)
    windows = forms.IntegerField(min_value=1, max_value=64, initial=WINDOWS_PER_SONG, help_text="3-s windows a song.")
    top_level = forms.BooleanField(required=False, help_text="Label songs by their top-level genre.")

    class Meta:
        model = GenreModel
        fields = ["name", "arch"]


@admin.register(GenreModel)
class GenreModelAdmin(admin.ModelAdmin):
    list_display = ["name", "arch", "status", "accuracy", "macro_f1", "is_active", "created_at"]
    list_filter = ["arch", "status", "is_active"]
    change_form_template = "admin/recommender/genremodel/change_form.html"

    def get_form(self, request: HttpRequest, obj: GenreModel | None = None, **kwargs: Any) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = TrainGenreModelForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: GenreModel | None = None) -> list[str]:
        if obj is None:
            return ["name", "arch", "epochs", "patience", "seed", "windows", "top_level"]
        return ["name", "arch", "status", "error", "source", "options", "directory", "created_at", "trained_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: GenreModel | None = None) -> list[str]:
        return [] if obj is None else self.get_fields(request, obj)

    def save_model(self, request: HttpRequest, obj: GenreModel, form: forms.ModelForm, change: bool) -> None:
        if change:
            return
        data = form.cleaned_data
        obj.name = data["name"] or f"{obj.arch} {timezone.localtime():%Y-%m-%d %H:%M}"
        obj.options = {key: data[key] for key in ("epochs", "patience", "seed", "windows", "top_level")} | {
            "arch": obj.arch
        }
        obj.status = GenreModel.Status.QUEUED
        obj.save()
        queue_training(obj)

    def response_add(self, request: HttpRequest, obj: GenreModel, post_url_continue: str | None = None) -> Any:
        messages.success(request, f"“{obj}” is queued for training; this page shows its progress.")
        return HttpResponseRedirect(reverse("admin:recommender_genremodel_change", args=[obj.pk]))

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        genre_model = self.get_object(request, object_id)
        context = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}
        if genre_model is not None:
            context |= card_context(genre_model)
        return super().change_view(request, object_id, form_url, context | (extra_context or {}))

    def get_urls(self) -> list:
        own = [
            path(
                "<int:pk>/activate/",
                self.admin_site.admin_view(self.activate_view),
                name="recommender_genremodel_activate",
            ),
            path(
                "<int:pk>/deactivate/",
                self.admin_site.admin_view(self.deactivate_view),
                name="recommender_genremodel_deactivate",
            ),
        ]
        return own + super().get_urls()

    def _switch(self, request: HttpRequest, pk: int, *, on: bool) -> HttpResponse:
        genre_model = get_object_or_404(GenreModel, pk=pk)
        if not self.has_change_permission(request, genre_model):
            return HttpResponse(status=403)
        if on and activate(genre_model):
            messages.success(request, f"“{genre_model}” is active; the worker re-predicts every song's genre.")
        elif not on and deactivate(genre_model):
            messages.success(request, f"“{genre_model}” is off; songs get the MSD-tag mapping's genres again.")
        else:
            messages.warning(request, "Nothing changed: only a trained model can be activated, an active one off.")
        return HttpResponseRedirect(reverse("admin:recommender_genremodel_change", args=[pk]))

    @method_decorator(require_POST)
    def activate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._switch(request, pk, on=True)

    @method_decorator(require_POST)
    def deactivate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._switch(request, pk, on=False)


def card_context(genre_model: GenreModel) -> dict[str, Any]:
    """What the change page shows besides the fields: progress, the comparison table, per-genre figures, charts."""
    card = genre_model.card or {}
    context: dict[str, Any] = {"genre_model": genre_model, "card": card, "busy": genre_model.is_busy}
    if table := card.get("table"):
        context["table_columns"] = ["accuracy", "log loss", "macro P", "macro R", "macro F1", "P@5", "P@10"]
        context["table_rows"] = [
            (label, [table[key].get(column) for column in TABLE_COLUMNS]) for key, label in TABLE_ROWS if key in table
        ]
        context["per_label"] = card["metrics"]["per_label"].items()
    pictures = {}
    folder = genre_model.path
    if folder is not None:
        for key, name in (("confusion", CONFUSION_FILE), ("curves", CURVES_FILE)):
            with contextlib.suppress(OSError):  # a folder removed by hand: the page still shows the card
                pictures[key] = "data:image/png;base64," + base64.b64encode((folder / name).read_bytes()).decode()
    context["pictures"] = pictures
    # Catalogue songs only: even an operator's page does not count people's private uploads.
    context["predictions"] = (
        genre_model.predictions.filter(song__in_catalogue=True)
        .values("genre__name")
        .annotate(songs=Count("pk"), confidence=Avg("confidence"))
        .order_by("-songs", "genre__name")
    )
    return context
