"""Playlists: make, edit, reorder and share them (files in and out: ``catalog.views_playlist_files``).

Every owner-only view fetches its playlist through ``get_playlist_for_user`` (another person's playlist
answers 404), and shared views through ``get_shared_playlist`` (a private playlist's link answers 404).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode
from uuid import UUID, uuid4

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import replace_url

from catalog.forms import PLAYLIST_NAME_MAX_LENGTH, ImportForm, PlaylistForm, form_errors, form_errors_text
from catalog.htmx import HtmxHttpRequest, wants_fragment
from catalog.models import Playlist, PlaylistChanged, PlaylistFull, PlaylistItem, Rating, Song
from catalog.models.music import song_url
from catalog.redirects import same_site_url

# The "+" menu beside each song lists the most recently changed playlists; the full page lists them all.
MENU_PLAYLISTS = 12
_ID = re.compile(r"[0-9]{1,18}")
_FOCUS = re.compile(r"([0-9]{1,18})-(up|down|remove)")
# Songs a page of a playlist shows, its owner's page and its shared page alike. A playlist holds up to
# MAX_PLAYLIST_SONGS; drawn whole, with each row's genres, rating and controls, on every view and after every move,
# its page took seconds. 200 keeps nearly every playlist on one page (those made here hold tens of songs; only
# imports run long) and bounds what a page, and each answer to a change, costs: drawing the rows is most of it.
PLAYLIST_PAGE_SIZE = 200


class PositionPaginator(Paginator):
    """Pages of a playlist's items picked by position, not OFFSET: a playlist keeps its positions 1..n without a gap
    (``Playlist``'s changes see to it), so a page is a range of the (playlist, position) index. OFFSET would read,
    and join to its song, every item before the page."""

    def page(self, number: int | str) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        return self._get_page(
            self.object_list.filter(position__range=(bottom + 1, bottom + self.per_page)), number, self
        )


def get_playlist_for_user(request: HttpRequest, pk: int) -> Playlist:
    """The request user's own playlist, or 404: another person's playlists do not exist for them."""
    return get_object_or_404(Playlist.objects.owned_by(request.user), pk=pk)


def get_shared_playlist(token: UUID) -> Playlist:
    """A public playlist by its share token, or 404: the link of a private playlist shows nothing at all."""
    return get_object_or_404(Playlist.objects.public().select_related("owner"), share_token=token)


@require_GET
@login_required
def playlist_list(request: HttpRequest) -> HttpResponse:
    return render_playlist_list(request)


def render_playlist_list(
    request: HttpRequest,
    *,
    create_form: PlaylistForm | None = None,
    import_form: ImportForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "playlists": Playlist.objects.owned_by(request.user).with_song_counts().select_related("seed"),
        "create_form": create_form or PlaylistForm(),
        "import_form": import_form or ImportForm(),
    }
    return render(request, "catalog/playlist_list.html", context, status=status)


@require_POST
@login_required
def playlist_create(request: HttpRequest) -> HttpResponse:
    form = PlaylistForm(request.POST)
    if not form.is_valid():
        return render_playlist_list(request, create_form=form, status=400)
    playlist = Playlist.objects.create(owner=request.user, **form.cleaned_data)
    messages.success(request, f"Created “{playlist.name}”. Add songs with the + beside any song.")
    return redirect(playlist)


@require_GET
@login_required
def playlist_detail(request: HttpRequest, pk: int) -> HttpResponse:
    playlist = get_playlist_for_user(request, pk)
    focus = None
    # After a move without JavaScript, the button pressed keeps the focus on the reloaded page.
    if match := _FOCUS.fullmatch(request.GET.get("focus", "")):
        focus = {"item": int(match[1]), "control": match[2]}
    context = _detail_context(request, playlist, page_number=request.GET.get("page"), focus=focus)
    return render(request, "catalog/playlist_detail.html", context)


def _detail_context(
    request: HttpRequest, playlist: Playlist, *, page_number: int | str | None, **extra: Any
) -> dict[str, Any]:
    """The page of the playlist ``page_number`` asks for (the first when it names none, the last when past it)."""
    visible = Song.objects.visible_to(request.user).filter(pk=OuterRef("song_id"))
    # The owner sees every item, even one whose song they can no longer play (an upload taken out of the
    # catalogue), so that they can move or remove it; that song is shown without its title.
    items = (
        playlist.items.annotate(song_visible=Exists(visible))
        .select_related("song__artist", "song__album")
        .prefetch_related("song__genres", "song__predicted_genres")
    )
    page = PositionPaginator(items, PLAYLIST_PAGE_SIZE).get_page(page_number)
    page.object_list = list(page.object_list)
    for item in page.object_list:
        item.label = item.song.title if item.song_visible else "a song you can no longer play"
    Rating.objects.attach(request.user, [item.song for item in page.object_list])
    Song.objects.note_repeated_titles(item.song for item in page.object_list)
    seed = None
    if playlist.seed_id and Song.objects.visible_to(request.user).filter(pk=playlist.seed_id).exists():
        seed = playlist.seed
    return {
        "playlist": playlist,
        "page": page,
        "items": page.object_list,
        # Each change form names the page it was sent from, to be shown again should the change be refused.
        "page_query": f"?page={page.number}" if page.number > 1 else "",
        "seed": seed,
        "edit_form": PlaylistForm(initial={"name": playlist.name, "description": playlist.description}),
        "share_url": request.build_absolute_uri(playlist.get_share_url()) if playlist.is_public else "",
        **extra,
    }


def _page_of(position: int) -> int:
    """The number of the page that shows the song at ``position`` (1 is first)."""
    return (position - 1) // PLAYLIST_PAGE_SIZE + 1


def _page_url(playlist: Playlist, page_number: int, focus: dict[str, Any] | None = None) -> str:
    query: dict[str, Any] = {"page": page_number} if page_number > 1 else {}
    if focus:
        query["focus"] = f"{focus['item']}-{focus['control']}"
    url = playlist.get_absolute_url()
    if query:
        url += f"?{urlencode(query)}"
    return url + (f"#item-{focus['item']}" if focus else "")


@require_POST
@login_required
def playlist_rename(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit the name and description; a form that sends only a name leaves the description as it was."""
    playlist = get_playlist_for_user(request, pk)
    data = request.POST.copy()
    data.setdefault("description", playlist.description)
    form = PlaylistForm(data)
    if not form.is_valid():
        for error in form_errors(form):
            messages.error(request, error)
        context = _detail_context(request, playlist, page_number=None)
        return render(request, "catalog/playlist_detail.html", context, status=400)
    renamed = form.cleaned_data["name"] != playlist.name
    playlist.name, playlist.description = form.cleaned_data["name"], form.cleaned_data["description"]
    playlist.save(update_fields=["name", "description", "updated_at"])
    messages.success(request, f"Renamed to “{playlist.name}”." if renamed else f"Saved “{playlist.name}”.")
    return redirect(playlist)


@require_POST
@login_required
def playlist_delete(request: HttpRequest, pk: int) -> HttpResponse:
    playlist = get_playlist_for_user(request, pk)
    name = playlist.name
    playlist.delete()
    messages.success(request, f"Deleted “{name}”.")
    return redirect("catalog:playlist_list")


@require_POST
@login_required
def playlist_duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    copy = get_playlist_for_user(request, pk).duplicate(request.user)
    messages.success(request, f"Made “{copy.name}”, a private copy.")
    return redirect(copy)


@require_POST
@login_required
def playlist_visibility(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Make the playlist public ("1", with a new link), private ("0"), or give it a new link ("new")."""
    playlist = get_playlist_for_user(request, pk)
    choice = request.POST.get("public")
    if choice not in ("1", "0", "new"):
        return _refuse(request, playlist, "Choose whether the playlist is public or private.", status=400)
    if choice == "new" and not playlist.is_public:
        return _refuse(request, playlist, "Only a public playlist has a link to renew.", status=400)
    was_public = playlist.is_public
    playlist.is_public = choice != "0"
    if choice == "new" or (playlist.is_public and not was_public):
        # A link once revoked stays dead: whoever kept it must not see the playlist when it is shared again.
        playlist.share_token = uuid4()
    playlist.save(update_fields=["is_public", "share_token", "updated_at"])
    if choice == "new":
        messages.success(request, f"“{playlist.name}” has a new link; the old one shows nothing any more.")
    elif playlist.is_public:
        messages.success(request, f"“{playlist.name}” is public: anyone with its link can see it.")
    else:
        messages.success(request, f"“{playlist.name}” is private: its link shows nothing any more.")
    return redirect(playlist)


@require_POST
@login_required
def playlist_move_item(request: HtmxHttpRequest, pk: int, item_pk: int) -> HttpResponse:
    """Move a song one place up or down: the keyboard's way to reorder (buttons in real forms). The first song of
    a page moves up onto the page before, the last down onto the next, and the page shown follows it."""
    playlist = get_playlist_for_user(request, pk)
    item = get_object_or_404(playlist.items.all(), pk=item_pk)
    direction = request.POST.get("direction")
    if direction not in ("up", "down"):
        return _refuse(request, playlist, "A song moves up or down.", status=400)
    try:
        position = playlist.move_item_by(item, -1 if direction == "up" else 1)
    except PlaylistChanged:
        return _refuse(request, playlist, "That song is no longer in the playlist.", status=409)
    return _changed(
        request,
        playlist,
        f"Moved {_song_label(request, item)} to position {position} of {playlist.items.count()}.",
        position=position,
        focus={"item": item.pk, "control": direction},
    )


@require_POST
@login_required
def playlist_reorder(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Save a drag and drop: the item ``moved`` was dropped just ``after`` another row, or ``before`` the first one.

    A drop names only its neighbour, never the whole order, so that it works on a page of a long playlist
    and lands where it was dropped even if another tab has changed the playlist since.
    """
    playlist = get_playlist_for_user(request, pk)
    sent, after, before = (request.POST.get(name, "") for name in ("moved", "after", "before"))
    neighbour = after or before
    if not _ID.fullmatch(sent) or not _ID.fullmatch(neighbour) or (after and before):
        return _refuse(request, playlist, "The new order could not be read; nothing was moved.", status=400)
    item = playlist.items.filter(pk=int(sent)).first()
    try:
        if item is None:
            raise PlaylistChanged
        position = playlist.move_item_next_to(item, int(neighbour), after=bool(after))
    except PlaylistChanged:
        return _refuse(
            request,
            playlist,
            "The playlist changed meanwhile (in another tab?), so nothing was moved: here it is as it is now.",
            status=409,
        )
    return _changed(
        request,
        playlist,
        f"Moved {_song_label(request, item)} to position {position} of {playlist.items.count()}.",
        position=position,
    )


@require_POST
@login_required
def playlist_remove_item(request: HtmxHttpRequest, pk: int, item_pk: int) -> HttpResponse:
    playlist = get_playlist_for_user(request, pk)
    item = get_object_or_404(playlist.items.all(), pk=item_pk)
    label = _song_label(request, item)
    playlist.remove_item(item)
    # Keyboard users keep their place: the focus goes to the song that took the removed one's place, or to the
    # new last song when it was the last; the page shown is the one that song is on.
    took_place = playlist.items.filter(position__gte=item.position).values_list("pk", "position").first()
    took_place = took_place or playlist.items.order_by("-position").values_list("pk", "position").first()
    if took_place is None:
        return _changed(request, playlist, f"Removed {label}.", position=1)
    focus = {"item": took_place[0], "control": "remove"}
    return _changed(request, playlist, f"Removed {label}.", position=took_place[1], focus=focus)


def _song_label(request: HttpRequest, item: PlaylistItem) -> str:
    # An item whose song the owner can no longer see is not named: it may be someone else's private upload.
    song = Song.objects.visible_to(request.user).filter(pk=item.song_id).first()
    return f"“{song.title}”" if song else "a song you can no longer play"


def _changed(
    request: HtmxHttpRequest,
    playlist: Playlist,
    status_text: str,
    *,
    position: int,
    focus: dict[str, Any] | None = None,
) -> HttpResponse:
    """The answer to a change of the list: the page holding ``position`` (where the moved song went, or where the
    removed one was), as a fragment for htmx, else by going back to the playlist page."""
    page_number = _page_of(position)
    if wants_fragment(request):
        context = _detail_context(request, playlist, page_number=page_number, status_text=status_text, focus=focus)
        response = render(request, "catalog/playlist_detail.html#items", context)
        # A move across a page's edge shows the next page: the address must name it, for a reload or a bookmark.
        return replace_url(response, _page_url(playlist, context["page"].number))
    messages.success(request, status_text)
    return redirect(_page_url(playlist, page_number, focus))


def _refuse(request: HtmxHttpRequest, playlist: Playlist, reason: str, *, status: int) -> HttpResponse:
    """Nothing changed: say why, with the page the request came from as it is now."""
    page_number = request.GET.get("page")
    if wants_fragment(request):
        # htmx swaps only 2xx answers; the list as it is now must replace what the page shows.
        context = _detail_context(request, playlist, page_number=page_number, status_text=reason, status_error=True)
        return render(request, "catalog/playlist_detail.html#items", context)
    messages.error(request, reason)
    context = _detail_context(request, playlist, page_number=page_number)
    return render(request, "catalog/playlist_detail.html", context, status=status)


@require_GET
@login_required
def playlist_queue(request: HttpRequest, pk: int) -> JsonResponse:
    """The player's queue for "Play all": every song of the playlist its owner can play, in order.

    The page shows one page of the playlist; "Play all" fetches the whole of it from here, only when pressed.
    At most MAX_PLAYLIST_SONGS songs of five short fields each: a few hundred kilobytes, in one query.
    """
    playlist = get_playlist_for_user(request, pk)
    rows = (
        playlist.visible_items(request.user)
        .prefetch_related(None)
        .values_list("song_id", "song__title", "song__artist__name")
    )
    tracks = [
        {
            # As the play buttons' data attributes give them: the player compares ids as text.
            "id": str(song_id),
            "src": song_url("catalog:song_audio", song_id),
            "title": title,
            "artist": artist,
            "url": song_url("catalog:song_detail", song_id),
        }
        for song_id, title, artist in rows
    ]
    return JsonResponse({"tracks": tracks})


@require_http_methods(["GET", "POST"])
@login_required
def playlist_add_song(request: HtmxHttpRequest, song_pk: int) -> HttpResponse:
    """Choose a playlist for a song (GET: the page, or the "+" menu's body for htmx), or add it (POST)."""
    song = get_object_or_404(Song.objects.visible_to(request.user).select_related("artist"), pk=song_pk)
    next_url = _safe_next(request)
    if request.method == "GET":
        return _render_chooser(request, song, next_url)
    new_form = None
    if "playlist" in request.POST:
        chosen = request.POST["playlist"]
        if not _ID.fullmatch(chosen):
            return _render_chooser(request, song, next_url, error="Choose one of your playlists.", status=400)
        playlist = get_playlist_for_user(request, int(chosen))
    else:
        new_form = PlaylistForm(request.POST)
        if not new_form.is_valid():
            error = form_errors_text(new_form, separator=" ")
            return _render_chooser(request, song, next_url, error=error, status=400)
        playlist = Playlist.objects.create(owner=request.user, **new_form.cleaned_data)
    try:
        added = playlist.add_song(song)
    except PlaylistFull as full:
        return _render_chooser(request, song, next_url, error=str(full), status=400)
    if added:
        text = f"Added “{song.title}” to “{playlist.name}”."
    else:
        text = f"“{song.title}” is already in “{playlist.name}”."
    if wants_fragment(request):
        return _render_chooser(request, song, next_url, result={"playlist": playlist, "added": added, "text": text})
    messages.add_message(request, messages.SUCCESS if added else messages.INFO, text)
    return redirect(next_url or playlist.get_absolute_url())


def _render_chooser(
    request: HtmxHttpRequest,
    song: Song,
    next_url: str,
    *,
    result: dict[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    in_playlist = PlaylistItem.objects.filter(playlist=OuterRef("pk"), song=song)
    playlists = Playlist.objects.owned_by(request.user).annotate(has_song=Exists(in_playlist))
    partial = wants_fragment(request)
    context = {
        "song": song,
        "next": next_url,
        "playlists": playlists[:MENU_PLAYLISTS] if partial else playlists,
        "more_playlists": partial and playlists[MENU_PLAYLISTS : MENU_PLAYLISTS + 1].exists(),
        "result": result,
        "error": error,
        "name_max_length": PLAYLIST_NAME_MAX_LENGTH,
    }
    if partial:
        # htmx swaps only 2xx answers, and the menu must show what went wrong.
        return render(request, "catalog/playlist_add_song.html#chooser", context)
    if error:
        messages.error(request, error)
    return render(request, "catalog/playlist_add_song.html", context, status=status)


def _safe_next(request: HttpRequest) -> str:
    """The page to go back to after adding a song: only a URL of this site, never one elsewhere."""
    return same_site_url(request, (request.POST.get("next") or request.GET.get("next") or "")[:2000])


@require_GET
def playlist_shared(request: HttpRequest, token: UUID) -> HttpResponse:
    """A public playlist, read-only, for anyone with its link; visitors listen through the share's own song links."""
    playlist = get_shared_playlist(token)
    # In pages: a shared link is open to anyone, and a playlist may hold thousands of songs.
    page = Paginator(playlist.visible_items(request.user), PLAYLIST_PAGE_SIZE).get_page(request.GET.get("page"))
    items = list(page.object_list)
    if request.user.is_authenticated:
        Rating.objects.attach(request.user, [item.song for item in items])
    Song.objects.note_repeated_titles(item.song for item in items)
    context = {
        "playlist": playlist,
        "items": items,
        "page": page,
        "is_owner": request.user.is_authenticated and playlist.owner_id == request.user.pk,
    }
    return render(request, "catalog/playlist_shared.html", context)


@require_POST
@login_required
def playlist_shared_copy(request: HttpRequest, token: UUID) -> HttpResponse:
    copy = get_shared_playlist(token).duplicate(request.user)
    messages.success(request, f"Saved “{copy.name}” to your playlists.")
    return redirect(copy)
