"""Load on the real stack: locust, headless, against a running ``./musrec run`` (issue 9).

    .venv/bin/pip install -r requirements-bench.txt        # locust, once
    MUSREC_SIGNUPS_PER_HOUR=0 MUSREC_UPLOADS_PER_HOUR=0 MUSREC_PLAYS_PER_MINUTE=0 \\
        MUSREC_LOGIN_FAILURE_LIMIT=0 ./musrec run --no-demo   # another terminal
    .venv/bin/python bench/load.py {single,think,saturate,all} [--duration 60] [--repeats 1] [--users 50]

Scenarios (docs/benchmarks.md, "Load"):

- ``single``: one listener clicking with no pause, so each request has the server to itself;
- ``think``: 50 listeners, each starting a click every 2 s (``constant_pacing``);
- ``saturate``: 50 listeners with no pause: the throughput the site can give.

Before the first measurement the script signs ``--users`` accounts up (the rate limits must be off: the
sign-ups all come from 127.0.0.1) and gives each a history, none of it counted: a For you start (two genres,
two liked songs), a playlist saved from a song's More like this, and a few plays. They are reused by every
run of the invocation and deleted through the site at the end (``--keep-users`` keeps them).

A click is one of (weights in ``Listener``): browse the catalogue (a page, a genre, a sort; the page's
analysis-progress poll), search as you type (three htmx partial requests on ``/?q=``), a song page and its
More like this fragment, For you, history, the playlists page and one playlist, listening (two ranged
audio requests and the play beacon), and now and then an upload of a small generated WAV (at most
``--uploads`` a run, spread over it: each is analysed by the worker, on the same cores). Each request is
timed whole (body read), redirects followed. The first ``--warmup`` seconds of a run are not counted.

Prints per-endpoint p50/p95 and totals (requests a second, errors), and writes every run with the raw
figures to ``var/bench/load-<label>.json``.
"""

from __future__ import annotations

import sys

try:
    # locust patches the standard library for gevent when imported: before anything opens a socket.
    import gevent
    from gevent.pool import Pool
    from locust import FastHttpUser, constant, constant_pacing, task
    from locust.contrib.fasthttp import FastHttpSession
    from locust.env import Environment
    from locust.event import EventHook, Events
except ImportError:
    sys.exit(
        "bench/load.py needs locust, which the site does not: install it into the virtual environment with\n"
        "    .venv/bin/pip install -r requirements-bench.txt"
    )

import argparse
import io
import itertools
import math
import os
import random
import re
import time
import wave
from dataclasses import dataclass, field
from datetime import datetime
from html import unescape
from http.cookiejar import Cookie
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

SCENARIOS = ("single", "think", "saturate")
THINK_SECONDS = 2.0
PASSWORD = "load-bench-Listening-42"
SERVER_HINT = (
    "Start the site with the limits off, in another terminal:\n"
    "    MUSREC_SIGNUPS_PER_HOUR=0 MUSREC_UPLOADS_PER_HOUR=0 MUSREC_PLAYS_PER_MINUTE=0 \\\n"
    "        MUSREC_LOGIN_FAILURE_LIMIT=0 ./musrec run --no-demo"
)
# What htmx sends: boosted navigation (whole pages, swapped into #page) and element requests (fragments).
BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}
FRAGMENT = {"HX-Request": "true"}


class SetupFailed(RuntimeError):
    """The site did not answer the set-up as expected (down, or a limit still on)."""


# --- the catalogue and the accounts (set-up, not measured) -----------------------------------------------------


@dataclass
class Catalogue:
    song_ids: list[int]
    titles: list[str]
    genres: list[str]  # slugs the browse page offers
    starter_genres: list[str]
    starter_songs: list[int]
    pages: int

    def search_words(self) -> list[str]:
        found = {w.lower() for title in self.titles for w in re.findall(r"[^\W\d_]{5,}", title)}
        return sorted(found) or ["music"]


@dataclass
class Account:
    username: str
    cookies: list[Cookie]
    playlist: int | None = None


def _session(host: str) -> FastHttpSession:
    # Set-up requests report to an event hook nobody listens to: they are not part of the figures.
    return FastHttpSession(host, request_event=EventHook(), user=None, network_timeout=120, connection_timeout=10)


def _csrf(session: FastHttpSession) -> str:
    return next((c.value for c in session.cookiejar if c.name == "csrftoken"), "")


def _form(session: FastHttpSession, url: str, fields: dict[str, Any], *, headers: dict | None = None):
    body = urlencode({"csrfmiddlewaretoken": _csrf(session), **fields}, doseq=True)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-CSRFToken": _csrf(session), **(headers or {})}
    return session.post(url, data=body, headers=headers)


def sign_up(host: str, username: str) -> FastHttpSession:
    session = _session(host)
    page = session.get("/accounts/signup/")
    if page.status_code != 200:
        raise SetupFailed(f"GET /accounts/signup/ answered {page.status_code}.")
    answer = _form(session, "/accounts/signup/", {"username": username, "password1": PASSWORD, "password2": PASSWORD})
    if answer.status_code == 429:
        raise SetupFailed("Sign-up refused (429): the sign-up limit is on.\n" + SERVER_HINT)
    if answer.status_code != 200 or not any(c.name == "sessionid" for c in session.cookiejar):
        raise SetupFailed(f"Signing {username} up failed ({answer.status_code}).")
    return session


def read_catalogue(session: FastHttpSession) -> Catalogue:
    first = session.get("/songs/").text
    pages = int(m[1]) if (m := re.search(r"Page 1 of (\d+)", first)) else 1
    ids: dict[int, str] = {}
    for number in range(1, pages + 1):
        text = first if number == 1 else session.get(f"/songs/?page={number}").text
        for pk, title in re.findall(r'data-song-id="(\d+)"[^>]*?data-title="([^"]*)"', text):
            ids[int(pk)] = unescape(title)
    genres = re.findall(r'<option value="([^"]+)"', first.split('name="genre"', 1)[-1].split("</select>", 1)[0])
    for_you = session.get("/for-you/").text
    return Catalogue(
        song_ids=sorted(ids),
        titles=list(ids.values()),
        genres=genres,
        starter_genres=re.findall(r'name="genres" value="([^"]+)"', for_you),
        starter_songs=[int(pk) for pk in re.findall(r'name="songs" value="(\d+)"', for_you)],
        pages=pages,
    )


def give_history(session: FastHttpSession, catalogue: Catalogue, rng: random.Random) -> int | None:
    """A For you start, a playlist from a song's More like this, five plays; the playlist's id."""
    start = {
        "genres": rng.sample(catalogue.starter_genres, min(2, len(catalogue.starter_genres))),
        "songs": rng.sample(catalogue.starter_songs, min(2, len(catalogue.starter_songs))),
    }
    _form(session, "/for-you/start", start)
    seed = rng.choice(catalogue.song_ids)
    saved = _form(session, f"/songs/{seed}/save-playlist", {"name": "Load bench", "n": 10})
    playlist = None
    if m := re.search(r"/playlists/(\d+)/", saved.url or ""):
        playlist = int(m[1])
    for pk in rng.sample(catalogue.song_ids, 5):
        _form(session, "/plays/", {"song": pk, "seconds": rng.choice([10, 25, 29]), "ended": 0})
    return playlist


def prepare(host: str, count: int, run_id: str) -> tuple[Catalogue, list[Account]]:
    started = time.monotonic()
    first = sign_up(host, f"load-{run_id}-0")
    catalogue = read_catalogue(first)
    if not catalogue.song_ids:
        raise SetupFailed("The catalogue is empty: build the demo catalogue first (./musrec run).")

    def one(index: int) -> Account:
        name = f"load-{run_id}-{index}"
        session = first if index == 0 else sign_up(host, name)
        playlist = give_history(session, catalogue, random.Random(index))
        return Account(name, list(session.cookiejar), playlist)

    # Four at a time: each sign-up hashes a password (PBKDF2), a fraction of a second of a core.
    accounts = list(Pool(4).imap(one, range(count)))
    print(f"Signed up {count} listeners with a history in {time.monotonic() - started:.0f} s (not measured).")
    return catalogue, accounts


def delete_accounts(host: str, accounts: list[Account]) -> None:
    def one(account: Account) -> int:
        session = _session(host)
        for cookie in account.cookies:
            session.cookiejar.set_cookie(cookie)
        return _form(session, "/accounts/delete/", {"password": PASSWORD, "confirm": "on"}).status_code

    statuses = list(Pool(4).imap(one, accounts))
    print(f"Deleted {sum(s == 200 for s in statuses)} of {len(accounts)} listeners (--keep-users keeps them).")


def wav_bytes(seed: int, *, seconds: float = 6.0, rate: int = 22050) -> bytes:
    """A short mono WAV, different for every seed (so no upload is a copy of another): chords and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    root = 110 * 2 ** (rng.integers(0, 24) / 12)
    signal = sum(np.sin(2 * np.pi * root * ratio * t) for ratio in (1, 1.25, 1.5))
    signal = 0.25 * signal / 3 + 0.05 * rng.standard_normal(t.size)
    pcm = (np.clip(signal, -1, 1) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


# --- the listeners (measured) ----------------------------------------------------------------------------------


@dataclass
class RunState:
    """What the listeners of one run share."""

    catalogue: Catalogue
    accounts: list[Account]
    started: float
    duration: float
    uploads_allowed: int
    uploads_done: int = 0
    upload_seeds: itertools.count = field(default_factory=lambda: itertools.count(int(time.time())))

    def may_upload(self) -> bool:
        # Spread over the run: the n-th upload waits for n/(allowed+1) of it, so the worker's load is steady.
        due = (time.time() - self.started) / self.duration * (self.uploads_allowed + 1)
        return self.uploads_done < min(self.uploads_allowed, math.floor(due))


class Listener(FastHttpUser):
    abstract = True
    state: RunState
    keystroke_pause = 0.0  # between the requests of search as you type (htmx waits 250 ms after a key)
    start_spread = 0.0  # the first click comes after a random pause of up to this many seconds
    network_timeout = 60.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        self.account = self.state.accounts.pop()
        for cookie in self.account.cookies:
            self.client.cookiejar.set_cookie(cookie)
        self.rng = random.Random(self.account.username)
        self.words = self.state.catalogue.search_words()
        # Listeners on a fixed pace start at random moments within it, or they all click together. constant_pacing
        # counts from the user's creation, so the count starts again after the pause.
        if self.start_spread:
            gevent.sleep(self.rng.uniform(0, self.start_spread))
            self._cp_last_run = time.perf_counter()

    def _song(self) -> int:
        return self.rng.choice(self.state.catalogue.song_ids)

    @task(20)
    def browse(self) -> None:
        catalogue = self.state.catalogue
        choice = self.rng.random()
        if choice < 0.4 or not catalogue.genres:
            url = f"/songs/?page={self.rng.randint(1, catalogue.pages)}"
        elif choice < 0.7:
            url = f"/songs/?genre={quote(self.rng.choice(catalogue.genres))}"
        else:
            url = f"/songs/?sort={self.rng.choice(['-added', 'artist', '-title'])}"
        self.client.get(url, name="browse", headers=BOOSTED)
        self.client.get("/analysis/progress", name="analysis progress", headers=FRAGMENT)

    @task(20)
    def search(self) -> None:
        word = self.rng.choice(self.words)
        for typed in dict.fromkeys([word[:2], word[:4], word]):
            headers = {**FRAGMENT, "HX-Target": "results", "HX-Current-URL": f"{self.host}/songs/"}
            self.client.get(f"/songs/?q={quote(typed)}", name="search", headers=headers)
            if self.keystroke_pause:
                gevent.sleep(self.keystroke_pause)

    @task(20)
    def song_page(self) -> None:
        pk = self._song()
        self.client.get(f"/songs/{pk}/", name="song page", headers=BOOSTED)
        self.client.get(f"/songs/{pk}/similar/", name="more like this", headers=FRAGMENT)

    @task(8)
    def for_you(self) -> None:
        self.client.get("/for-you/", name="for you", headers=BOOSTED)

    @task(6)
    def history(self) -> None:
        self.client.get("/history/", name="history", headers=BOOSTED)

    @task(6)
    def playlists(self) -> None:
        self.client.get("/playlists/", name="playlists", headers=BOOSTED)
        if self.account.playlist:
            self.client.get(f"/playlists/{self.account.playlist}/", name="playlist page", headers=BOOSTED)

    @task(15)
    def listen(self) -> None:
        pk = self._song()
        first = self.client.get(f"/songs/{pk}/audio", name="audio range", headers={"Range": "bytes=0-131071"})
        size = int(m[1]) if (m := re.search(r"/(\d+)$", first.headers.get("Content-Range", "") or "")) else 0
        if size > 262144:
            offset = self.rng.randrange(131072, size - 131072)
            self.client.get(
                f"/songs/{pk}/audio", name="audio range", headers={"Range": f"bytes={offset}-{offset + 131071}"}
            )
        fields = {"song": pk, "seconds": self.rng.choice([8, 20, 29]), "ended": 0}
        body = urlencode(fields)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-CSRFToken": _csrf(self.client)}
        self.client.post("/plays/", data=body, name="play beacon", headers=headers)

    @task(2)
    def upload(self) -> None:
        if not self.state.may_upload():
            return self.browse()
        self.state.uploads_done += 1
        seed = next(self.state.upload_seeds)
        boundary = f"----load{seed}"
        token = _csrf(self.client)
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n{token}\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="audio"; filename="load-{seed}.wav"\r\n'
                "Content-Type: audio/wav\r\n\r\n"
            ).encode()
            + wav_bytes(seed)
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "X-CSRFToken": token}
        self.client.post("/upload/", data=body, name="upload", headers=headers)


# --- one run -----------------------------------------------------------------------------------------------------


@dataclass
class Sample:
    start: float
    name: str
    ms: float
    ok: bool
    status: int


def run_once(
    scenario: str,
    *,
    host: str,
    users: int,
    duration: float,
    warmup: float,
    uploads: int,
    catalogue: Catalogue,
    accounts: list[Account],
    keep_raw: bool = False,
) -> dict[str, Any]:
    """One run of ``scenario``; its samples within the measured window, summarised."""
    if scenario == "single":
        users, wait, pause, spread = 1, constant(0), 0.0, 0.0
    elif scenario == "think":
        wait, pause, spread = constant_pacing(THINK_SECONDS), 0.25, THINK_SECONDS
    else:
        wait, pause, spread = constant(0), 0.0, 0.0
    started = time.time()
    state = RunState(catalogue, list(accounts[:users]), started, warmup + duration, uploads)
    attributes = {"wait_time": wait, "keystroke_pause": pause, "start_spread": spread, "state": state}
    user_class = type("MusrecListener", (Listener,), attributes)
    environment = Environment(user_classes=[user_class], events=Events(), host=host)
    samples: list[Sample] = []

    def record(request_type, name, response_time, response_length, exception=None, start_time=0, response=None, **_):
        status = getattr(response, "status_code", 0) or 0
        samples.append(Sample(start_time, name, response_time, exception is None, status))

    environment.events.request.add_listener(record)
    load_before = os.getloadavg()
    runner = environment.create_local_runner()
    runner.start(users, spawn_rate=users)
    gevent.spawn_later(warmup + duration, runner.quit)
    runner.greenlet.join()
    ended = time.time()
    measured = [s for s in samples if started + warmup <= s.start <= ended]
    window = ended - (started + warmup)
    raw = [[round(s.start - started, 3), s.name, round(s.ms, 1), s.status] for s in measured] if keep_raw else []
    return (
        ({"raw": raw} if raw else {})
        | summarise(scenario, measured, window)
        | {
            "users": users,
            "think_seconds": THINK_SECONDS if scenario == "think" else 0,
            "duration_s": round(window, 1),
            "warmup_s": warmup,
            "uploads": state.uploads_done,
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "started_at": datetime.fromtimestamp(started).isoformat(timespec="seconds"),
        }
    )


def summarise(scenario: str, samples: list[Sample], window: float) -> dict[str, Any]:
    def figures(group: list[Sample]) -> dict[str, Any]:
        ms = [s.ms for s in group]
        return {
            "requests": len(group),
            "per_second": round(len(group) / window, 2) if window > 0 else 0,
            "p50_ms": round(harness.percentile(ms, 50), 1),
            "p95_ms": round(harness.percentile(ms, 95), 1),
            "p99_ms": round(harness.percentile(ms, 99), 1),
            "max_ms": round(max(ms), 1) if ms else 0,
            "errors": sum(not s.ok for s in group),
            "error_statuses": sorted({s.status for s in group if not s.ok}),
        }

    names = sorted({s.name for s in samples})
    return {
        "scenario": scenario,
        "endpoints": {name: figures([s for s in samples if s.name == name]) for name in names},
        "total": figures(samples),
    }


# --- reporting -------------------------------------------------------------------------------------------------


def report(scenario: str, runs: list[dict[str, Any]]) -> str:
    """Per endpoint, the median over runs of each run's p50 and p95 (the range of the p95 when repeated)."""
    names = [*sorted({name for run in runs for name in run["endpoints"]} - {"upload"}), "upload"]
    rows = []
    for name in [*names, "total"]:
        found = [run["total"] if name == "total" else run["endpoints"].get(name) for run in runs]
        found = [f for f in found if f]
        if not found:
            continue
        p95s = [f["p95_ms"] for f in found]
        rows.append(
            [
                f"**{name}**" if name == "total" else name,
                sum(f["requests"] for f in found),
                f"{harness.median([f['per_second'] for f in found]):.1f}",
                f"{harness.median([f['p50_ms'] for f in found]):.0f}",
                f"{harness.median(p95s):.0f}" + (f" ({harness.spread(p95s)})" if len(found) > 1 else ""),
                f"{harness.median([f['max_ms'] for f in found]):.0f}",
                sum(f["errors"] for f in found),
            ]
        )
    header = ["endpoint", "requests", "req/s", "p50 ms", "p95 ms", "max ms", "errors"]
    loads = ", ".join(f"{r['load_before'][0]:.1f}→{r['load_after'][0]:.1f}" for r in runs)
    title = (
        f"### {scenario}: {runs[0]['users']} user(s), {runs[0]['duration_s']:.0f} s measured × {len(runs)} run(s),"
        f" {sum(r['uploads'] for r in runs)} uploads; load average (1 min) before→after: {loads}"
    )
    return title + "\n\n" + harness.markdown_table(header, rows)


def check_site(host: str) -> None:
    try:
        answer = _session(host).get("/accounts/login/")
    except OSError as error:
        raise SetupFailed(f"Nothing answers at {host} ({error}).\n{SERVER_HINT}") from None
    if answer.status_code != 200:
        raise SetupFailed(f"{host}/accounts/login/ answered {answer.status_code}, not the log-in page.\n{SERVER_HINT}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=[*SCENARIOS, "all"])
    parser.add_argument("--host", default="http://127.0.0.1:8000")
    parser.add_argument("--users", type=int, default=50, help="listeners in think and saturate (50)")
    parser.add_argument("--duration", type=float, default=60, help="measured seconds a run (60)")
    parser.add_argument("--warmup", type=float, default=5, help="seconds at the start of a run not counted (5)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each scenario; medians are reported (1)")
    parser.add_argument("--uploads", type=int, default=5, help="uploads a run at most, spread over it (5)")
    parser.add_argument("--label", default="", help="names the JSON file (default: the date and time)")
    parser.add_argument("--keep-users", action="store_true", help="do not delete the listeners at the end")
    parser.add_argument("--raw", action="store_true", help="also write every request (start s, name, ms, status)")
    options = parser.parse_args(argv)
    scenarios = list(SCENARIOS) if options.scenario == "all" else [options.scenario]
    host = options.host.rstrip("/")
    label = options.label or datetime.now().strftime("%Y%m%d-%H%M%S")
    info = harness.print_machine({"site": host})
    try:
        check_site(host)
        needed = 1 if scenarios == ["single"] else options.users
        catalogue, accounts = prepare(host, needed, datetime.now().strftime("%m%d%H%M%S"))
    except SetupFailed as error:
        print(error, file=sys.stderr)
        return 2
    print(f"Catalogue: {len(catalogue.song_ids)} songs, {len(catalogue.genres)} genres, {catalogue.pages} pages.\n")
    results: dict[str, Any] = {"machine": info, "options": vars(options), "scenarios": {}}
    try:
        for scenario in scenarios:
            runs = []
            for repeat in range(options.repeats):
                print(f"{scenario}: run {repeat + 1} of {options.repeats}…", flush=True)
                runs.append(
                    run_once(
                        scenario,
                        host=host,
                        users=options.users,
                        duration=options.duration,
                        warmup=options.warmup,
                        uploads=options.uploads if scenario != "single" else min(options.uploads, 2),
                        catalogue=catalogue,
                        accounts=accounts,
                        keep_raw=options.raw,
                    )
                )
            results["scenarios"][scenario] = runs
            print("\n" + report(scenario, runs) + "\n", flush=True)
            errors = sum(run["total"]["errors"] for run in runs)
            if errors and any(429 in f["error_statuses"] for run in runs for f in run["endpoints"].values()):
                print("Some requests were refused with 429: a rate limit is on.\n" + SERVER_HINT)
    finally:
        harness.save_results(f"load-{label}", results)
        if not options.keep_users:
            delete_accounts(host, accounts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
