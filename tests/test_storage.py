"""Media files are written whole or not at all: a full disk leaves no half file behind."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from catalog import storage as storage_module
from catalog.storage import AtomicFileSystemStorage


class FillsUp:
    """A file object on a disk with ``room`` bytes left: writing more raises ENOSPC, as the kernel does."""

    def __init__(self, handle, room: int) -> None:
        self.handle, self.room = handle, room

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            self.handle.write(data[: self.room])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.handle.write(data)

    def __getattr__(self, name: str):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


@pytest.fixture
def full_disk(monkeypatch):
    """Every file the storage opens can take 1,000 bytes before the disk is full."""
    real_fdopen = os.fdopen
    monkeypatch.setattr(storage_module, "fdopen", lambda fd, *a, **kw: FillsUp(real_fdopen(fd, *a, **kw), 1000))


def test_a_file_is_saved_whole(tmp_path):
    storage = AtomicFileSystemStorage(location=tmp_path)

    name = storage.save("songs/a.wav", ContentFile(b"x" * 100_000))

    assert (tmp_path / name).read_bytes() == b"x" * 100_000
    assert [p.name for p in (tmp_path / "songs").iterdir()] == ["a.wav"]


def test_a_full_disk_leaves_no_part_of_the_file(tmp_path, full_disk):
    storage = AtomicFileSystemStorage(location=tmp_path)

    with pytest.raises(OSError, match="No space left"):
        storage.save("songs/a.wav", ContentFile(b"x" * 100_000))

    assert list((tmp_path / "songs").iterdir()) == []


def test_an_existing_name_gets_another_and_keeps_its_file(tmp_path):
    storage = AtomicFileSystemStorage(location=tmp_path)
    first = storage.save("songs/a.wav", ContentFile(b"first"))

    second = storage.save("songs/a.wav", ContentFile(b"second"))

    assert first != second
    assert (tmp_path / first).read_bytes() == b"first"
    assert (tmp_path / second).read_bytes() == b"second"


def test_two_writers_of_one_name_never_mix_their_files(tmp_path):
    storage = AtomicFileSystemStorage(location=tmp_path)
    names: list[str] = []
    threads = [
        threading.Thread(target=lambda n=n: names.append(storage.save("songs/a.wav", ContentFile(bytes([n]) * 50_000))))
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(names)) == 8
    assert sorted((tmp_path / name).read_bytes()[0] for name in names) == list(range(8))
    assert all(len(set((tmp_path / name).read_bytes())) == 1 for name in names)


def test_files_and_folders_get_the_modes_asked_for(tmp_path):
    storage = AtomicFileSystemStorage(location=tmp_path, file_permissions_mode=0o600, directory_permissions_mode=0o700)

    name = storage.save("songs/deep/a.wav", ContentFile(b"x"))

    assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "songs" / "deep").stat().st_mode & 0o777 == 0o700


@pytest.mark.django_db
def test_an_uploaded_song_is_readable_by_the_sites_user_only(alice_client, tmp_path):
    from django.urls import reverse

    from catalog.models import Song
    from tests.factories import write_audio

    path = write_audio(tmp_path / "mine.flac", seconds=3)
    with path.open("rb") as handle:
        alice_client.post(reverse("recommender:upload"), {"audio": handle})

    stored = Path(Song.objects.get().audio.path)
    assert stored.stat().st_mode & 0o777 == 0o600
    assert stored.parent.stat().st_mode & 0o777 == 0o700


@pytest.mark.django_db
def test_a_full_disk_while_uploading_says_so_and_stores_nothing(alice_client, tmp_path, full_disk, media_root):
    from django.urls import reverse

    from catalog.models import Song
    from tests.factories import write_audio

    path = write_audio(tmp_path / "mine.flac", seconds=3)
    with path.open("rb") as handle:
        response = alice_client.post(reverse("recommender:upload"), {"audio": handle})

    assert response.status_code == 400
    assert "cannot store the file (No space left on device)" in response.content.decode()
    assert not Song.objects.exists()
    assert [p for p in Path(media_root).rglob("*") if p.is_file()] == []
