"""System and user endpoints: ping, licence, extensions, the person's own user, what is playing."""

from __future__ import annotations

from subsonic.api import ApiError, Call, ErrorCode, Payload, endpoint

# What getOpenSubsonicExtensions announces: only extensions implemented completely.
EXTENSIONS = {"apiKeyAuthentication": [1], "formPost": [1], "sonicSimilarity": [1]}
MUSIC_FOLDER = {"id": 1, "name": "Musrec"}


@endpoint("ping", public=True)
def ping(call: Call) -> Payload:
    return {}


@endpoint("getLicense", public=True)
def get_license(call: Call) -> Payload:
    return {"license": {"valid": True}}


@endpoint("getOpenSubsonicExtensions", public=True)
def get_open_subsonic_extensions(call: Call) -> Payload:
    return {"openSubsonicExtensions": [{"name": name, "versions": versions} for name, versions in EXTENSIONS.items()]}


@endpoint("getMusicFolders")
def get_music_folders(call: Call) -> Payload:
    # One folder: the catalogue and the person's own uploads are one library to browse.
    return {"musicFolders": {"musicFolder": [MUSIC_FOLDER]}}


@endpoint("getUser")
def get_user(call: Call) -> Payload:
    """The person's own account; anyone else's is not theirs to read (error 50)."""
    user = call.user
    if call.params.required("username") != user.get_username():
        raise ApiError(ErrorCode.NOT_AUTHORISED, "You may only read your own user.")
    return {
        "user": {
            "username": user.get_username(),
            "email": user.email or None,
            "scrobblingEnabled": True,
            "adminRole": False,
            "settingsRole": False,
            "downloadRole": True,
            "uploadRole": False,
            "playlistRole": True,
            "coverArtRole": False,
            "commentRole": False,
            "podcastRole": False,
            "streamRole": True,
            "jukeboxRole": False,
            "shareRole": False,
            "videoConversionRole": False,
            "folder": [MUSIC_FOLDER["id"]],
        }
    }


@endpoint("getNowPlaying")
def get_now_playing(call: Call) -> Payload:
    # Musrec records plays when they end, so it cannot tell what is playing now; and what others play is theirs.
    return {"nowPlaying": {"entry": []}}
