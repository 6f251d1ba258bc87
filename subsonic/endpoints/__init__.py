"""The API's endpoints, one module per part of the spec; importing a module registers its endpoints.

To add endpoints: write a module here with functions decorated ``@endpoint("name")`` (``subsonic.api``) and
import it below.
"""

from subsonic.endpoints import annotation, browsing, media, playlists, sonic, system

__all__ = ["annotation", "browsing", "media", "playlists", "sonic", "system"]
