"""Worker memory: the peak resident memory of an analysis worker with the model loaded, analysing songs.

    .venv/bin/python bench/worker_memory.py [--songs 10] [--allocators 1,0]

Target (the issue): under 1.5 GB.

For each ``TF_ONEDNN_USE_SYSTEM_ALLOCATOR`` setting (read once by TensorFlow, so each runs in a
child process), the child reads its memory (``/proc/self/status`` VmRSS and VmHWM, and
``getrusage``'s ru_maxrss) after each step of a worker's life: Python started; Django set up;
``recommender.worker.AnalysisWorker`` built (it loads the model); ``--songs`` 4-minute MP3 uploads
imported and queued; the worker run in burst mode over them, one job per song as on a CPU. It uses
both cores, as the worker does. The songs are deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

TARGET_MB = 1500.0  # "1.5 GB", taken as 1500 MiB: the stricter reading
USERNAME = "bench-memory"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=10)
    parser.add_argument("--allocators", default="1,0")
    parser.add_argument("--repeats", type=int, default=2, help="child processes per setting")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(measure(json.loads(options.child))))
        return

    from bench import synth

    info = harness.print_machine()
    tracks = []
    for seed in range(100, 100 + options.songs):
        path = harness.BENCH_VAR / "audio" / f"upload-240s-seed{seed}.mp3"
        if not path.exists():
            print(f"Writing {path.relative_to(harness.BASE_DIR)} (once; cached) …", flush=True)
        tracks.append(str(synth.write_track(path, seed=seed)))
    env = harness.start_services(redis=True)
    runs = []
    for repeat in range(options.repeats):
        for allocator in options.allocators.split(","):
            print(f"TF_ONEDNN_USE_SYSTEM_ALLOCATOR={allocator}, run {repeat + 1} …", flush=True)
            result = subprocess.run(
                [sys.executable, __file__, "--child", json.dumps({"tracks": tracks})],
                env={**env, "TF_ONEDNN_USE_SYSTEM_ALLOCATOR": allocator, "TF_CPP_MIN_LOG_LEVEL": "2"},
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                sys.exit(f"the measuring process failed:\n{result.stderr[-4000:]}")
            run = json.loads(result.stdout.strip().splitlines()[-1])
            run["allocator"] = allocator
            runs.append(run)
            print(f"  peak {run['steps'][-1]['VmHWM']:.0f} MiB, {run['seconds_per_song']:.2f} s a song", flush=True)
    print_report(runs)
    harness.save_results("worker_memory", {"machine": info, "songs": options.songs, "runs": runs})


def measure(config: dict) -> dict:
    """In the child: memory after each step of a worker's life."""
    steps = [{"step": "Python started", **harness.rss_mb()}]
    harness.setup_django()
    import django_rq
    from django.contrib.auth.models import User

    from catalog.importer import Outcome, Provenance, import_file
    from catalog.models import Song
    from recommender.jobs import queue_analysis
    from recommender.worker import AnalysisWorker

    steps.append({"step": "Django set up", **harness.rss_mb()})
    queue = django_rq.get_queue("analysis")
    queue.empty()
    worker = django_rq.get_worker("analysis", worker_class=AnalysisWorker)
    steps.append({"step": "AnalysisWorker built (model loaded)", **harness.rss_mb()})

    user = User.objects.get_or_create(username=USERNAME)[0]
    Song.objects.filter(owner=user).delete()
    ids = []
    for track in config["tracks"]:
        result = import_file(Path(track), provenance=Provenance(source="bench"), owner=user)
        if result.outcome != Outcome.IMPORTED:
            raise SystemExit(f"{track}: {result.outcome} {result.reason}")
        ids.append(result.song_id)
    queue_analysis(ids)
    steps.append({"step": f"{len(ids)} songs imported and queued", **harness.rss_mb()})
    started = time.perf_counter()
    worker.work(burst=True)
    seconds = time.perf_counter() - started
    done = Song.objects.filter(pk__in=ids, analysis_status=Song.Analysis.DONE).count()
    steps.append({"step": f"{done} of {len(ids)} songs analysed (burst)", **harness.rss_mb()})
    for song in Song.objects.filter(owner=user):
        song.delete()
    return {"steps": steps, "seconds_per_song": seconds / len(ids), "analysed": done, "cores": os.cpu_count()}


def print_report(runs: list[dict]) -> None:
    for allocator in dict.fromkeys(r["allocator"] for r in runs):
        selected = [r for r in runs if r["allocator"] == allocator]
        header = ["step", "VmRSS MiB (median)", "VmHWM MiB (median)", "ru_maxrss MiB (median)", "VmHWM range"]
        rows = []
        for i, step in enumerate(selected[0]["steps"]):
            values = {key: [r["steps"][i][key] for r in selected] for key in ("VmRSS", "VmHWM", "ru_maxrss")}
            rows.append(
                [
                    step["step"],
                    f"{harness.median(values['VmRSS']):.0f}",
                    f"{harness.median(values['VmHWM']):.0f}",
                    f"{harness.median(values['ru_maxrss']):.0f}",
                    harness.spread(values["VmHWM"]),
                ]
            )
        peak = harness.median([r["steps"][-1]["VmHWM"] for r in selected])
        seconds = harness.median([r["seconds_per_song"] for r in selected])
        print(
            f"\nTF_ONEDNN_USE_SYSTEM_ALLOCATOR={allocator}: peak {peak:.0f} MiB = {peak / TARGET_MB:.2f} of the "
            f"1.5 GB target; {seconds:.2f} s a song (2 cores, whole job)"
        )
        print(harness.markdown_table(header, rows))


if __name__ == "__main__":
    main()
