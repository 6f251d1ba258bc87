"""Small synthetic songs and catalogue rows for tests: numpy signals written with soundfile, tags by mutagen."""

from __future__ import annotations

import itertools
from pathlib import Path

import mutagen
import numpy as np
import soundfile as sf
from django.core.files.base import ContentFile

from catalog.models import Artist, Genre, Song

_counter = itertools.count(1)


def synth_signal(*, seconds: float = 2.0, sample_rate: int = 22050, seed: int = 0, channels: int = 1) -> np.ndarray:
    """A few seeded sine partials with an envelope and a little noise: distinct per seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    freqs = rng.uniform(110, 880, size=3)
    signal = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, np.pi)) for f in freqs) / 3
    signal = signal * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t)) + 0.01 * rng.standard_normal(t.size)
    signal = (0.5 * signal).astype(np.float32)
    return np.stack([signal] * channels, axis=1) if channels > 1 else signal


FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS"), ".mp3": ("MP3", None)}


# Long enough to analyse (MUSREC_MIN_ANALYSIS_SECONDS, 3): the network's window is 3 s.
ANALYSABLE_SECONDS = 4.0


def write_audio(
    path: Path,
    *,
    seconds: float = ANALYSABLE_SECONDS,
    seed: int = 0,
    sample_rate: int = 22050,
    title: str | None = None,
    artist: str | None = None,
    album: str | None = None,
    genre: str | None = None,
    track: str | None = None,
) -> Path:
    fmt, subtype = FORMATS[path.suffix.lower()]
    sf.write(
        str(path),
        synth_signal(seconds=seconds, seed=seed, sample_rate=sample_rate),
        sample_rate,
        format=fmt,
        subtype=subtype,
    )
    values = {"title": title, "artist": artist, "album": album, "genre": genre, "tracknumber": track}
    if any(values.values()):
        if path.suffix.lower() == ".wav":
            from mutagen import id3
            from mutagen.wave import WAVE

            frames = {
                "title": id3.TIT2,
                "artist": id3.TPE1,
                "album": id3.TALB,
                "genre": id3.TCON,
                "tracknumber": id3.TRCK,
            }
            wave = WAVE(str(path))
            wave.add_tags()
            for key, value in values.items():
                if value:
                    wave.tags.add(frames[key](encoding=3, text=[value]))
            wave.save()
        elif path.suffix.lower() == ".mp3":
            from mutagen.easyid3 import EasyID3

            audio = EasyID3()
            for key, value in values.items():
                if value:
                    audio[key] = value
            audio.save(str(path))
        else:
            audio = mutagen.File(str(path), easy=True)
            if audio.tags is None:
                audio.add_tags()
            for key, value in values.items():
                if value:
                    audio.tags[key] = value
            audio.save()
    return path


def make_song(
    *, genres: list[str] = (), seed: int | None = None, seconds: float = ANALYSABLE_SECONDS, **overrides: object
) -> Song:
    """A catalogue song backed by a real, short WAV file in the test media storage, long enough to analyse."""
    n = next(_counter)
    seed = n if seed is None else seed
    import io

    buffer = io.BytesIO()
    sf.write(buffer, synth_signal(seconds=seconds, seed=seed), 22050, format="WAV", subtype="PCM_16")
    data = buffer.getvalue()
    import hashlib

    artist = overrides.pop("artist", None)
    if isinstance(artist, str) or artist is None:
        artist = Artist.objects.get_or_create(name=artist or f"Artist {n}")[0]
    fields: dict[str, object] = {
        "title": f"Song {n}",
        "artist": artist,
        "duration": seconds,
        "content_hash": hashlib.sha256(data + str(n).encode()).hexdigest(),
        "file_size": len(data),
    }
    fields.update(overrides)
    song = Song(**fields)
    song.audio.save(f"song-{n}.wav", ContentFile(data), save=False)
    song.save()
    for name in genres:
        song.genres.add(Genre.objects.get_or_create(name=name)[0])
    return song


def embed(song: Song, vector: list[float] | np.ndarray, *, model: str | None = None) -> Song:
    """Give ``song`` an embedding of the active model (200-d vectors), as an analysis would, and mark it done."""
    from recommender.models import Embedding, active_model_key

    Embedding.objects.create(song=song, model=model or active_model_key(), vector=np.asarray(vector, dtype=np.float32))
    Song.objects.filter(pk=song.pk).update(analysis_status=Song.Analysis.DONE)
    return song


def jpeg(width: int = 300, height: int = 300, *, colour: tuple[int, int, int] = (200, 40, 90)) -> bytes:
    """A small JPEG picture of one colour with a lighter square in it."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), colour)
    ImageDraw.Draw(image).rectangle((width // 4, height // 4, width // 2, height // 2), fill=(250, 250, 250))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    return buffer.getvalue()


def add_picture(path: Path, data: bytes, *, kind: int = 3, mime: str = "image/jpeg") -> Path:
    """Embed ``data`` as a picture in ``path``'s tags as taggers do: ID3 APIC (MP3, WAV), a FLAC picture block, or
    Ogg's METADATA_BLOCK_PICTURE. ``kind`` 3 is the front cover."""
    import base64

    from mutagen import id3
    from mutagen.flac import FLAC, Picture

    suffix = path.suffix.lower()
    if suffix in (".mp3", ".wav"):
        audio = mutagen.File(str(path))
        if audio.tags is None:
            audio.add_tags()
        audio.tags.add(id3.APIC(encoding=3, mime=mime, type=kind, desc=f"picture {kind}", data=data))
        audio.save()
        return path
    picture = Picture()
    picture.type, picture.mime, picture.data = kind, mime, data
    if suffix == ".flac":
        audio = FLAC(str(path))
        audio.add_picture(picture)
    else:
        audio = mutagen.File(str(path))
        if audio.tags is None:
            audio.add_tags()
        audio.tags["metadata_block_picture"] = [
            *audio.tags.get("metadata_block_picture", []),
            base64.b64encode(picture.write()).decode("ascii"),
        ]
    audio.save()
    return path
