"""The map of the catalogue at 100,000 songs (issue 13 §3): projecting, sending and drawing it.

    .venv/bin/python bench/map.py [--songs 100000] [--umap] [--server | --server-only]

Measured (docs/benchmarks.md, "The catalogue map"):

- **projection**: ``recommender.core.catalogue_map.project`` (PCA) on ``--songs`` synthetic clustered 200-d unit
  vectors (``bench.synth.clustered_unit_vectors``), median of 3;
- **quality on the demo catalogue** (``var/bench/demo_raw.npz``: the 238 demo songs' msd_musicnn embeddings, as
  docs/quality.md uses them): trustworthiness and the share of the 10 nearest neighbours kept on the map, for PCA,
  for a random placement and, with ``--umap`` when umap-learn can be imported, for UMAP (its first call, with
  numba's compilation, and a second one, timed);
- **the points**: the body of ``map/points.json`` for ``--songs`` points, raw and gzipped (level 6, as a reverse
  proxy would send it);
- **the page**: Debian's headless Chromium (software rendering, ``--disable-gpu``, as the browser tests run it)
  loads the real ``static/js/catalogue_map.js`` and ``musrec.css`` in a page with the map's markup, the points
  served from memory: the time from the request to the drawn map, the first draw alone (the script's
  ``data-draw-ms``), redraws, and the synchronous work of an arrow key (the nearest song in a direction, over every
  point) and of a pointer move (the song under it);
- ``--server``: in the benchmark database's synthetic catalogue (``bench/catalogue.py``): the worker's
  ``refresh_catalogue_map`` and the ``map_points`` view, end to end.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench import harness
from bench.synth import clustered_unit_vectors
from recommender.core.catalogue_map import map_points_body, neighbours_kept, project, trustworthiness

BASE = harness.BASE_DIR
GRID = 10_000  # recommender.views_map.GRID
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]
ORIGIN = "http://bench.invalid"

PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="/static/css/musrec.css"></head>
<body><main><div class="map-layout"><div class="map-frame">
<canvas id="catalogue-map" tabindex="0" data-points-url="/map/points.json" data-tracks-url="/map/songs.json"
  data-palette='PALETTE' data-no-genre="#b8b8c8" data-max-selection="500"></canvas>
<div class="map-tip" hidden></div><div class="map-play" data-queue hidden></div></div>
<div class="map-side"><p class="map-focus"></p><button type="button" class="map-select-mode">Select</button>
<button type="button" class="map-lasso">Lasso</button>
<ol class="map-near-list"></ol>
<form class="map-selection"><p class="map-selection-count"></p><input type="hidden" name="songs">
<ol class="map-selection-list"></ol><button type="submit">Make</button>
<button type="button" class="map-clear">Clear</button></form></div></div></main>
<script src="/static/js/catalogue_map.js"></script></body></html>"""

ARROW = """(canvas) => {
  const times = [];
  for (const key of ["ArrowRight", "ArrowDown", "ArrowLeft", "ArrowUp"].flatMap((k) => [k, k, k, k, k])) {
    const started = performance.now();
    canvas.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true }));
    times.push(performance.now() - started);
  }
  return times;
}"""

HOVER = """(canvas) => {
  const box = canvas.getBoundingClientRect();
  const times = [];
  for (let i = 0; i < 20; i++) {
    const started = performance.now();
    canvas.dispatchEvent(new PointerEvent("pointermove", {
      pointerType: "mouse", bubbles: true,
      clientX: box.left + box.width * (0.2 + 0.03 * i), clientY: box.top + box.height / 2,
    }));
    times.push(performance.now() - started);
  }
  return times;
}"""

REDRAW = """async (canvas) => {
  const times = [];
  for (let i = 0; i < 10; i++) {
    window.dispatchEvent(new Event("resize"));
    canvas.style.width = i % 2 ? "100%" : "99.9%";
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    times.push([Number(canvas.dataset.pointsMs), Number(canvas.dataset.drawMs)]);
  }
  return times;
}"""

# After a key moves the focus: the frame that follows draws the marks over the copied points.
MARKS = """async (canvas) => {
  const times = [];
  for (let i = 0; i < 12; i++) {
    canvas.dispatchEvent(new KeyboardEvent("keydown", { key: i % 4 < 2 ? "ArrowRight" : "ArrowLeft", bubbles: true }));
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    times.push(Number(canvas.dataset.drawMs));
  }
  return times;
}"""


def synthetic_points(n: int, *, seed: int = 0) -> tuple[np.ndarray, dict]:
    vectors, clusters = clustered_unit_vectors(n, seed=seed)
    projection = project(vectors)
    ids = np.arange(1, n + 1) * 3 + 1000  # ids as a real catalogue has them: gaps, six digits
    body = map_points_body(ids, projection.points, clusters % 10, liked=ids[:: max(n // 200, 1)].tolist(), grid=GRID)
    return vectors, body


def time_projection(vectors: np.ndarray) -> dict:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        project(vectors)
        times.append(time.perf_counter() - started)
    return {"songs": len(vectors), "dimensions": vectors.shape[1], "seconds_median": statistics.median(times)}


def demo_quality(*, with_umap: bool) -> dict:
    path = harness.BENCH_VAR / "demo_raw.npz"
    if not path.exists():
        return {"skipped": f"{path} is missing (bench/personalisation.py makes it)"}
    vectors = np.load(path)["msd"].astype(np.float64)
    results: dict[str, object] = {"songs": len(vectors), "k": 10}
    placements = {"pca": project(vectors).points, "random": np.random.default_rng(0).random((len(vectors), 2))}
    if with_umap:
        try:
            import umap
        except ImportError as error:
            results["umap"] = f"not measured: {error}"
        else:
            timings = []
            for seed in (0, 1):
                started = time.perf_counter()
                embedding = umap.UMAP(n_neighbors=15, metric="cosine", random_state=seed).fit_transform(vectors)
                timings.append(time.perf_counter() - started)
            placements["umap"] = embedding
            results["umap_seconds_first_call"] = timings[0]
            results["umap_seconds_second_call"] = timings[1]
    for name, points in placements.items():
        results[name] = {
            "trustworthiness": trustworthiness(vectors, points, k=10),
            "neighbours_kept": neighbours_kept(vectors, points, k=10),
        }
    return results


def browser_draw(body: dict) -> dict:
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    payload = json.dumps(body, separators=(",", ":")).encode()
    files = {
        "/map/": (PAGE.replace("PALETTE", json.dumps(PALETTE)).encode(), "text/html"),
        "/static/js/catalogue_map.js": ((BASE / "static/js/catalogue_map.js").read_bytes(), "text/javascript"),
        "/static/css/musrec.css": ((BASE / "static/css/musrec.css").read_bytes(), "text/css"),
        "/map/points.json": (payload, "application/json"),
    }
    results: dict[str, object] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for name, viewport in (("desktop", (1280, 800)), ("phone", (390, 844))):
            context = browser.new_context(
                viewport={"width": viewport[0], "height": viewport[1]}, device_scale_factor=2 if name == "phone" else 1
            )
            page = context.new_page()

            def serve(route, request) -> None:
                path = request.url.removeprefix(ORIGIN).split("?")[0]
                content, kind = files.get(path, (b'{"tracks": []}', "application/json"))
                route.fulfill(status=200, body=content, content_type=kind)

            page.route(f"{ORIGIN}/**", serve)
            loads = []
            for _ in range(3):
                started = time.perf_counter()
                page.goto(f"{ORIGIN}/map/")
                page.wait_for_function(
                    f"document.querySelector('#catalogue-map').dataset.drawn === '{len(body['ids'])}'"
                )
                loads.append(time.perf_counter() - started)
            canvas = page.locator("#catalogue-map")
            first_points = float(canvas.get_attribute("data-points-ms"))
            first_marks = float(canvas.get_attribute("data-draw-ms"))
            redraws = canvas.evaluate(REDRAW)
            marks = canvas.evaluate(MARKS)
            arrows = canvas.evaluate(ARROW)
            hovers = canvas.evaluate(HOVER)
            results[name] = {
                "viewport": viewport,
                "load_to_drawn_seconds_median": statistics.median(loads),
                "first_points_ms": first_points,
                "first_marks_ms": first_marks,
                "resize_points_ms_median": statistics.median(points for points, _ in redraws),
                "resize_points_ms_max": max(points for points, _ in redraws),
                "marks_after_a_key_ms_median": statistics.median(marks),
                "marks_after_a_key_ms_max": max(marks),
                "arrow_key_ms_median": statistics.median(arrows),
                "arrow_key_ms_max": max(arrows),
                "pointer_move_ms_median": statistics.median(hovers),
                "pointer_move_ms_max": max(hovers),
            }
            if name == "desktop":
                page.screenshot(path=str(harness.BENCH_VAR / "map-100k.png"))
            context.close()
        browser.close()
    return results


def server_side(n: int) -> dict:
    """``refresh_catalogue_map`` and the ``map_points`` view on the benchmark database's synthetic catalogue."""
    harness.start_services(redis=True)
    harness.setup_django()
    from django.contrib.auth.models import User
    from django.test import RequestFactory

    from bench.catalogue import ensure_catalogue
    from recommender.catalogue_map import CatalogueMap, refresh_catalogue_map
    from recommender.views_map import map_points

    ensure_catalogue(n)
    CatalogueMap.objects.all().delete()  # made again, timed
    started = time.perf_counter()
    placed = refresh_catalogue_map()
    refresh_seconds = time.perf_counter() - started
    user, _ = User.objects.get_or_create(username="bench-map")
    times, size = [], 0
    for _ in range(5):
        request = RequestFactory().get("/map/points.json")
        request.user = user
        started = time.perf_counter()
        response = map_points(request)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
        size = len(response.content)
    return {
        "songs_placed": placed,
        "refresh_seconds": refresh_seconds,
        "points_view_seconds_median": statistics.median(times),
        "points_view_bytes": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--songs", type=int, default=100_000)
    parser.add_argument("--umap", action="store_true", help="compare UMAP on the demo catalogue (umap-learn needed)")
    parser.add_argument("--server", action="store_true", help="time the job and the view in the benchmark database")
    parser.add_argument("--server-only", action="store_true", help="--server, without the rest")
    args = parser.parse_args()

    results: dict[str, object] = {"machine": harness.machine()}
    if args.server_only:
        results["server"] = server_side(args.songs)
        print("server:", results["server"])
        harness.save_results("map-server", results)
        return
    vectors, body = synthetic_points(args.songs)
    results["projection"] = time_projection(vectors)
    print("projection:", results["projection"])
    results["demo_quality"] = demo_quality(with_umap=args.umap)
    print("demo quality:", json.dumps(results["demo_quality"], indent=1))
    raw = json.dumps(body, separators=(",", ":")).encode()
    results["points_json"] = {"points": args.songs, "bytes": len(raw), "gzip_bytes": len(gzip.compress(raw, 6))}
    print("points.json:", results["points_json"])
    results["browser"] = browser_draw(body)
    print("browser:", json.dumps(results["browser"], indent=1))
    if args.server:
        results["server"] = server_side(args.songs)
        print("server:", results["server"])
    harness.save_results("map", results)


if __name__ == "__main__":
    main()
