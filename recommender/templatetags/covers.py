"""Covers and artist and album links in templates: ``{% cover song 48 %}``, ``{{ song|cover_url:128 }}``,
``{{ song.artist_id|artist_url }}``, ``{{ song.album_id|album_url }}``."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from catalog.models import Album, Song
from catalog.models.music import song_url
from recommender.artwork import song_cover_url, stored_cover_url
from recommender.core.cover_files import COVER_SIZES

register = template.Library()


def _size_for(pixels: int) -> int:
    """The smallest served size that covers ``pixels`` (the largest one when none does)."""
    return next((size for size in COVER_SIZES if size >= pixels), COVER_SIZES[-1])


@register.filter
def cover_url(song: Song, size: int) -> str:
    """The address of ``song``'s cover, ``size`` pixels a side (64, 128, 256 or 512)."""
    return song_cover_url(song, _size_for(int(size)))


@register.simple_tag
def cover(song: Song | None, width: int, album: Album | None = None, css_class: str = "cover") -> str:
    """An ``<img>`` of ``song``'s cover, ``width`` CSS pixels wide, sharp on high-density screens too. With
    ``album``, the album's own picture comes first (an album page). Decorative: the name is always beside it."""
    width = int(width)
    if song is None:
        return format_html(
            '<span class="{} placeholder" style="width: {}px; height: {}px"></span>', css_class, width, width
        )
    if album is not None and album.cover_id:
        small, large = (stored_cover_url(album.cover_id, _size_for(width * k)) for k in (1, 2))
    else:
        small, large = (song_cover_url(song, _size_for(width * k)) for k in (1, 2))
    return format_html(
        '<img class="{}" src="{}" srcset="{} 2x" width="{}" height="{}" alt="" loading="lazy" decoding="async">',
        css_class,
        small,
        large,
        width,
        width,
    )


@register.filter
def artist_url(artist_id: int) -> str:
    return song_url("recommender:artist", artist_id)


@register.filter
def album_url(album_id: int) -> str:
    return song_url("recommender:album", album_id)
