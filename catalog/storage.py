"""Media storage on the local disk that never leaves half a file behind.

Django's ``FileSystemStorage`` writes straight into the final name, so a full disk or a crash in the middle
leaves a truncated file that a later request serves as if it were whole. Here every file is written to a
hidden temporary name in the same folder and only then linked to its real name, which is atomic on POSIX:
a file either is there whole or not at all. S3-compatible storage (production) is atomic by itself.
"""

from __future__ import annotations

import os
import secrets
from os import fdopen
from typing import Any

from django.core.files.storage import FileSystemStorage
from django.utils._os import safe_makedirs


class AtomicFileSystemStorage(FileSystemStorage):
    def _save(self, name: str, content: Any) -> str:
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        if self.directory_permissions_mode is not None:
            # os.makedirs gives the mode to the last folder only; Django's helper gives it to each one it makes.
            safe_makedirs(directory, self.directory_permissions_mode, exist_ok=True)
        else:
            os.makedirs(directory, exist_ok=True)
        temporary = os.path.join(directory, f".partial-{secrets.token_hex(8)}")
        mode = self.file_permissions_mode if self.file_permissions_mode is not None else 0o666
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
            with fdopen(fd, "wb") as handle:
                for chunk in content.chunks():
                    handle.write(chunk.encode() if isinstance(chunk, str) else chunk)
                handle.flush()
                os.fsync(handle.fileno())
            if self.file_permissions_mode is not None:
                os.chmod(temporary, self.file_permissions_mode)
            while True:
                try:
                    # link() refuses an existing name, as O_EXCL would: a concurrent writer gets another name.
                    os.link(temporary, full_path)
                    break
                except FileExistsError:
                    name = self.get_available_name(name)
                    full_path = self.path(name)
        finally:
            if os.path.lexists(temporary):
                os.unlink(temporary)
        self._ensure_location_group_id(full_path)
        return os.path.relpath(full_path, self.location).replace("\\", "/")
