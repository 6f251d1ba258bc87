"""What the catalogue tells the layers above it, without importing them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent by the import commands with ``song_ids``, the songs just imported. The recommender answers by
# queueing their analysis and returns how many it queued.
songs_imported = Signal()

# Sent (no arguments) when catalogue songs, genres or songs' genre tags change, once at once and once more when the
# change is committed: whoever keeps catalogue-wide figures in the cache forgets them.
catalogue_changed = Signal()

# Sent with ``user`` when a person clears their listening history: whatever was learnt from it is forgotten too.
history_cleared = Signal()
