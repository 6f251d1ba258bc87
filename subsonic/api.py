"""The frame every endpoint of the Subsonic API shares: parameters, authentication, answers in XML or JSON, errors.

An endpoint is a function of one ``Call`` that returns its payload (a dict, rendered in the format asked for) or,
for audio and pictures, an ``HttpResponse``; ``@endpoint("getSong")`` registers it under ``/rest/getSong`` and
``/rest/getSong.view``, for GET and for form POST alike (the ``formPost`` extension). It raises ``ApiError`` for
the Subsonic error answers, which clients expect with HTTP 200.

How a payload becomes XML: a dict is an element whose plain values are attributes, whose dicts are child elements
and whose lists repeat a child element once per item; the key ``value`` is the element's text (a genre's name).
JSON renders the same dict as it is. So ``{"album": {"id": "al-1", "song": [...]}}`` is ``<album id="al-1"><song
…/></album>`` in XML and the same object in JSON, as the Subsonic schema and the OpenSubsonic spec have them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import re
import tomllib
from collections.abc import Callable
from xml.etree import ElementTree

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from catalog.playlist_files import xml_text

API_VERSION = "1.16.1"
SERVER_TYPE = "musrec"
XML_NAMESPACE = "http://subsonic.org/restapi"


def _server_version() -> str:
    try:
        with open(settings.BASE_DIR / "pyproject.toml", "rb") as handle:
            return tomllib.load(handle)["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):  # a deployment without the project file
        return "unknown"


SERVER_VERSION = _server_version()


class ErrorCode(enum.IntEnum):
    """The Subsonic API's error codes (with OpenSubsonic's 43 and 44)."""

    GENERIC = 0
    MISSING_PARAMETER = 10
    WRONG_CREDENTIALS = 40
    AUTH_MECHANISM_NOT_SUPPORTED = 42
    CONFLICTING_AUTH = 43
    INVALID_API_KEY = 44
    NOT_AUTHORISED = 50
    NOT_FOUND = 70


class ApiError(Exception):
    """An answer with ``status="failed"`` and this code and message."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def not_found(what: str) -> ApiError:
    return ApiError(ErrorCode.NOT_FOUND, f"{what} not found.")


# ASCII digits only ("²" passes str.isdigit but not int), at most 18 of them.
WHOLE_NUMBER = re.compile(r"^-?[0-9]{1,18}$")
LARGEST_NUMBER = 10**12
MAX_REPEATS = 500


class Params:
    """The request's parameters, from the query string and a form body together; names may repeat (``id=1&id=2``)."""

    def __init__(self, request: HttpRequest) -> None:
        merged = QueryDict(mutable=True)
        for source in (request.GET, request.POST if request.method == "POST" else QueryDict()):
            for name, values in source.lists():
                # NUL cannot be stored or compared in PostgreSQL text: dropped, as the site's search drops it.
                merged.setlist(name, merged.getlist(name) + [value.replace("\x00", "") for value in values])
        self._data = merged

    def __contains__(self, name: str) -> bool:
        return name in self._data

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._data.get(name, default)

    def all(self, name: str) -> list[str]:
        """Every value of a repeated parameter (``id=1&id=2``), at most ``MAX_REPEATS``: each costs a query or two."""
        values = self._data.getlist(name)
        if len(values) > MAX_REPEATS:
            raise ApiError(ErrorCode.GENERIC, f"At most {MAX_REPEATS} values of '{name}' at once.")
        return values

    def required(self, name: str) -> str:
        value = self._data.get(name)
        if value is None:
            raise ApiError(ErrorCode.MISSING_PARAMETER, f"Required parameter '{name}' is missing.")
        return value

    def integer(self, name: str, *, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        """A whole number, held between ``minimum`` and ``maximum``: a client asking for a million songs gets the most
        Musrec sends at once, not an error."""
        raw = self._data.get(name)
        if raw in (None, ""):
            value = default
        else:
            if not WHOLE_NUMBER.match(raw):
                raise ApiError(ErrorCode.GENERIC, f"Parameter '{name}' must be a whole number.")
            value = int(raw)
        # An offset of 10**20 would overflow the database's bigint: nothing lies that far anyway.
        value = min(max(value, minimum), LARGEST_NUMBER)
        return value if maximum is None else min(value, maximum)

    def boolean(self, name: str, *, default: bool) -> bool:
        raw = self._data.get(name)
        return default if raw is None else raw.strip().lower() in ("true", "1", "yes")


@dataclasses.dataclass
class Call:
    """One call of an endpoint: the request, its parameters, and who made it (anonymous only for public endpoints)."""

    request: HttpRequest
    params: Params
    user: AbstractBaseUser | AnonymousUser


Payload = dict[str, object]
Handler = Callable[[Call], Payload | HttpResponseBase]


@dataclasses.dataclass(frozen=True)
class Endpoint:
    name: str
    handler: Handler
    # Answered without credentials (ping, getLicense, getOpenSubsonicExtensions); credentials sent are still checked.
    public: bool = False


ENDPOINTS: dict[str, Endpoint] = {}


def endpoint(name: str, *, public: bool = False) -> Callable[[Handler], Handler]:
    """Register the decorated function as the endpoint ``name`` (``/rest/name`` and ``/rest/name.view``)."""

    def register(handler: Handler) -> Handler:
        if name in ENDPOINTS:
            raise ImproperlyConfigured(f"The Subsonic endpoint {name} is registered twice.")
        ENDPOINTS[name] = Endpoint(name, handler, public)
        return handler

    return register


# Clients sign in with every request, so there is no session and no CSRF token: a call carries its own credentials.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def dispatch(request: HttpRequest, method: str) -> HttpResponseBase:
    from subsonic.auth import authenticate, has_credentials

    params = Params(request)
    answer_format = params.get("f", "xml")
    try:
        if answer_format not in ("xml", "json"):
            answer_format = "json" if answer_format == "jsonp" else "xml"
            raise ApiError(ErrorCode.GENERIC, "Musrec answers in f=xml or f=json only (no JSONP).")
        found = ENDPOINTS.get(method.removesuffix(".view"))
        if found is None:
            raise ApiError(ErrorCode.GENERIC, f"Musrec does not offer the API method '{method}'.")
        user: AbstractBaseUser | AnonymousUser = AnonymousUser()
        if not found.public or has_credentials(params):
            user = authenticate(request, params)
        result = found.handler(Call(request=request, params=params, user=user))
    except ApiError as error:
        return render(error_payload(error), answer_format, status="failed")
    except Http404:
        return render(error_payload(not_found("Item")), answer_format, status="failed")
    if isinstance(result, HttpResponseBase):
        return result
    return render(result, answer_format)


def error_payload(error: ApiError) -> Payload:
    return {"error": {"code": int(error.code), "message": error.message}}


def envelope(status: str) -> Payload:
    return {
        "status": status,
        "version": API_VERSION,
        "type": SERVER_TYPE,
        "serverVersion": SERVER_VERSION,
        "openSubsonic": True,
    }


def render(payload: Payload, answer_format: str, *, status: str = "ok") -> HttpResponse:
    if answer_format == "json":
        answer = _without_nones({"subsonic-response": envelope(status) | payload})
        body = json.dumps(answer, ensure_ascii=False, default=_json_value)
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
    else:
        root = ElementTree.Element("subsonic-response", {"xmlns": XML_NAMESPACE})
        _fill(root, envelope(status) | payload)
        body = ElementTree.tostring(root, encoding="unicode", xml_declaration=False)
        response = HttpResponse(
            f'<?xml version="1.0" encoding="UTF-8"?>\n{body}', content_type="text/xml; charset=utf-8"
        )
    # Every answer is one person's view of the library.
    response["Cache-Control"] = "private, no-store"
    return response


def _without_nones(value: object) -> object:
    """An optional field that has no value is left out, as the XML leaves its attribute out: clients with typed models
    (Kotlin, Swift) read a missing field as absent but may fail on ``null``."""
    if isinstance(value, dict):
        return {key: _without_nones(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nones(item) for item in value]
    return value


def _json_value(value: object) -> object:
    if isinstance(value, dt.datetime):
        return iso_time(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def iso_time(moment: dt.datetime) -> str:
    """A time as the API writes them, in UTC with milliseconds: ``2026-11-30T13:50:00.000Z``."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return iso_time(value)
    # A title with a control character (a file's tags may hold any) would make the whole answer invalid XML.
    return xml_text(str(value))


def _fill(element: ElementTree.Element, content: dict) -> None:
    for name, value in content.items():
        if value is None:
            continue
        if name == "value":
            element.text = _text(value)
        elif isinstance(value, dict | list):
            _append(element, name, value)
        else:
            element.set(name, _text(value))


def _append(parent: ElementTree.Element, name: str, value: object) -> None:
    if isinstance(value, list):
        for item in value:
            _append(parent, name, item)
        return
    child = ElementTree.SubElement(parent, name)
    if isinstance(value, dict):
        _fill(child, value)
    else:
        child.text = _text(value)
