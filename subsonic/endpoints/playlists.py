"""Playlists: the caller's own, as the web pages have them (``catalog.models.playlists``).

Another person's playlists do not exist through the API, public ones included: a public playlist is read through
its share link, by whoever holds the link, and the API has no way to hold one. A playlist shows only the songs the
caller may see (``Playlist.visible_items``); a song appears once in a playlist, as when adding on the site.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Q, Sum

from catalog.models import MAX_PLAYLIST_SONGS, Playlist, PlaylistFull, PlaylistItem, Song
from subsonic.api import ApiError, Call, ErrorCode, Payload, endpoint, iso_time, not_found
from subsonic.library import SONG, api_id, attach_ratings, parse_id, songs_for
from subsonic.shapes import song_entry

PLAYLIST = "pl"
NAME_LENGTH = Playlist._meta.get_field("name").max_length
COMMENT_LENGTH = Playlist._meta.get_field("description").max_length


def playlists_for(call: Call):
    """The caller's playlists, each with the ``song_count`` and ``seconds`` of the songs they may see in it."""
    visible = Q(items__song__in=Song.objects.visible_to(call.user).values("pk"))
    return (
        Playlist.objects.owned_by(call.user)
        .annotate(song_count=Count("items", filter=visible), seconds=Sum("items__song__duration", filter=visible))
        .select_related("owner")
    )


def playlist_for(call: Call, playlist_id: str) -> Playlist:
    found = playlists_for(call).filter(pk=parse_id(playlist_id, PLAYLIST, what="Playlist")).first()
    if found is None:
        raise not_found("Playlist")
    return found


def playlist_entry(playlist: Playlist, *, first_song_id: int | None = None) -> Payload:
    return {
        "id": api_id(PLAYLIST, playlist.pk),
        "name": playlist.name,
        "comment": playlist.description or None,
        "owner": playlist.owner.get_username(),
        "public": playlist.is_public,
        "songCount": playlist.song_count,
        "duration": round(playlist.seconds or 0),
        "created": iso_time(playlist.created_at),
        "changed": iso_time(playlist.updated_at),
        "coverArt": api_id(SONG, first_song_id) if first_song_id else None,
    }


def playlist_with_songs(call: Call, playlist: Playlist) -> Payload:
    items = list(playlist.visible_items(call.user))
    attach_ratings(call.user, [item.song for item in items])
    entry = playlist_entry(playlist, first_song_id=items[0].song_id if items else None)
    return entry | {"entry": [song_entry(item.song) for item in items]}


def songs_named(call: Call, name: str) -> list[Song]:
    """The songs the parameter ``name`` lists, in its order, each once; error 70 for any the caller may not see."""
    pks = list(dict.fromkeys(parse_id(value, SONG, what="Song") for value in call.params.all(name)))
    found = songs_for(call.user).in_bulk(pks)
    if len(found) != len(pks):
        raise not_found("Song")
    return [found[pk] for pk in pks]


@endpoint("getPlaylists")
def get_playlists(call: Call) -> Payload:
    username = call.params.get("username")
    if username is not None and username != call.user.get_username():
        raise ApiError(ErrorCode.NOT_AUTHORISED, "You may only list your own playlists.")
    playlists = list(playlists_for(call))
    first_items = (
        PlaylistItem.objects.filter(playlist__in=playlists, song__in=Song.objects.visible_to(call.user).values("pk"))
        .order_by("playlist", "position")
        .distinct("playlist")
        .values_list("playlist", "song")
    )
    firsts = dict(first_items)
    return {"playlists": {"playlist": [playlist_entry(p, first_song_id=firsts.get(p.pk)) for p in playlists]}}


@endpoint("getPlaylist")
def get_playlist(call: Call) -> Payload:
    return {"playlist": playlist_with_songs(call, playlist_for(call, call.params.required("id")))}


@endpoint("createPlaylist")
def create_playlist(call: Call) -> Payload:
    """A new playlist ``name`` of the songs ``songId``, or (``playlistId``) the caller's playlist with its songs
    replaced by them."""
    songs = songs_named(call, "songId")
    if len(songs) > MAX_PLAYLIST_SONGS:
        raise ApiError(ErrorCode.GENERIC, str(PlaylistFull()))
    if (playlist_id := call.params.get("playlistId")) is not None:
        playlist = playlist_for(call, playlist_id)
        with transaction.atomic():
            Playlist.objects.select_for_update().filter(pk=playlist.pk).first()
            playlist.items.all().delete()
            PlaylistItem.objects.bulk_create(
                PlaylistItem(playlist=playlist, song=song, position=position)
                for position, song in enumerate(songs, start=1)
            )
            playlist.save(update_fields=["updated_at"])
    else:
        name = call.params.required("name").strip()[:NAME_LENGTH] or "Playlist"
        playlist = Playlist.objects.create_with_songs(owner=call.user, name=name, songs=songs, similarities=None)
    return {"playlist": playlist_with_songs(call, playlist_for(call, api_id(PLAYLIST, playlist.pk)))}


@endpoint("updatePlaylist")
def update_playlist(call: Call) -> Payload:
    """Rename, describe, share or unshare the caller's playlist; add songs; remove songs by their index (from 0)
    in the playlist as the caller sees it."""
    params = call.params
    playlist = playlist_for(call, params.required("playlistId"))
    changed = []
    if (name := params.get("name")) is not None and name.strip():
        playlist.name, changed = name.strip()[:NAME_LENGTH], [*changed, "name"]
    if (comment := params.get("comment")) is not None:
        playlist.description, changed = comment[:COMMENT_LENGTH], [*changed, "description"]
    if "public" in params:
        playlist.is_public, changed = params.boolean("public", default=False), [*changed, "is_public"]
    to_add = songs_named(call, "songIdToAdd")
    to_remove = set()
    for raw in params.all("songIndexToRemove"):
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
            raise ApiError(ErrorCode.GENERIC, "Parameter 'songIndexToRemove' must be a whole number.")
        to_remove.add(int(raw))
    items = list(playlist.visible_items(call.user)) if to_remove else []
    if any(index >= len(items) for index in to_remove):
        raise not_found("Playlist entry")
    with transaction.atomic():
        if changed:
            playlist.save(update_fields=[*changed, "updated_at"])
        for index in sorted(to_remove, reverse=True):
            playlist.remove_item(items[index])
        try:
            for song in to_add:
                playlist.add_song(song)
        except PlaylistFull as full:
            raise ApiError(ErrorCode.GENERIC, str(full)) from None
    return {}


@endpoint("deletePlaylist")
def delete_playlist(call: Call) -> Payload:
    playlist_for(call, call.params.required("id")).delete()
    return {}
