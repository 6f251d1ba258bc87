"""Analysis throughput: how many times real time one CPU core analyses a 4-minute song.

    .venv/bin/python bench/analysis_throughput.py [--windows 4,8,12,16,24] [--repeats 7]
                                                  [--formats mp3,ogg] [--file PATH ...]
                                                  [--embedder musicnn_pair] [--exact-port]

Target (issue 10): at least 800x real time per core with both networks (the ``musicnn_pair``
embedder), a 4-minute song in 0.3 s of one core; issue 1 asked 400x of one network.

A synthetic 4-minute 44.1 kHz stereo track (bench/synth.py, cached in var/bench/audio) is written
as MP3 and Ogg Vorbis; ``--file`` adds real files. For each number of windows, the stages of
``recommender.core.analysis.analyse_files`` are timed one by one (probe, decoding the windows, log-mel,
tempo/loudness, the spectrogram PNG, each network of the embedder) and then ``analyse_files`` itself,
in CPU seconds (``time.process_time``, every thread of the process), so another engineer's job on the
other core slows the wall clock but hardly the figure. "x real time per core" is track seconds / CPU
seconds. ``--exact-port`` runs the layer-for-layer Keras port of each network instead of the fast
rewrite that workers run (``Tagger.load(exact_port=True)``), for before-and-after figures.

Each configuration runs in a child process, because TensorFlow reads its threading and
allocator settings once: pinned to one core (``--core``, the last by default; TensorFlow, oneDNN
and BLAS limited to one thread), and unpinned on both cores as the worker runs; each with
``TF_ONEDNN_USE_SYSTEM_ALLOCATOR`` = 1 (Musrec's default) and 0.
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

TRACK_SECONDS = 240.0
TARGET_X_REALTIME = 800.0
ONE_CORE_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", default="4,8,12,16,24")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--formats", default="mp3,ogg", help="synthetic track formats; empty for none")
    parser.add_argument("--file", type=Path, action="append", default=[], help="a real audio file to add")
    parser.add_argument("--allocators", default="1,0", help="TF_ONEDNN_USE_SYSTEM_ALLOCATOR values")
    parser.add_argument("--modes", default="1-core,2-cores")
    parser.add_argument("--core", type=int, default=max(os.sched_getaffinity(0)), help="the core 1-core runs pin to")
    parser.add_argument("--embedder", default="musicnn_pair", help="musicnn_pair, or one network's name")
    parser.add_argument("--exact-port", action="store_true", help="run the layer-for-layer port, not the rewrite")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(measure(json.loads(options.child))))
        return

    info = harness.print_machine()
    files = [_synthetic_track(fmt) for fmt in filter(None, options.formats.split(","))]
    files += [path.resolve() for path in options.file]
    windows = [int(w) for w in options.windows.split(",")]
    runs = []
    for mode in options.modes.split(","):
        for allocator in options.allocators.split(","):
            config = {"mode": mode, "allocator": allocator, "files": [str(f) for f in files], "windows": windows}
            config.update(repeats=options.repeats, core=options.core, embedder=options.embedder)
            config.update(exact_port=options.exact_port)
            env = {**os.environ, "TF_ONEDNN_USE_SYSTEM_ALLOCATOR": allocator, "TF_CPP_MIN_LOG_LEVEL": "2"}
            if mode == "1-core":
                env.update(ONE_CORE_ENV)
            network = "the layer-for-layer port" if options.exact_port else "the fast rewrite"
            print(f"Measuring {mode}, TF_ONEDNN_USE_SYSTEM_ALLOCATOR={allocator}, {network} …", flush=True)
            started = time.monotonic()
            result = subprocess.run(
                [sys.executable, __file__, "--child", json.dumps(config)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                sys.exit(f"the measuring process failed:\n{result.stderr[-4000:]}")
            run = json.loads(result.stdout.strip().splitlines()[-1])
            run["elapsed_s"] = time.monotonic() - started
            runs.append(run)
            print(report_run(run), flush=True)
    name = "analysis_throughput_exact_port" if options.exact_port else "analysis_throughput"
    harness.save_results(name, {"machine": info, "runs": runs})


def _synthetic_track(fmt: str) -> Path:
    from bench import synth

    path = harness.BENCH_VAR / "audio" / f"track-240s-seed1.{fmt}"
    if not path.exists():
        print(f"Writing {path.relative_to(harness.BASE_DIR)} (once; cached) …", flush=True)
    return synth.write_track(path, seconds=TRACK_SECONDS, seed=1)


def measure(config: dict) -> dict:
    """In the child: time every stage for every file and window count; CPU and wall seconds, all repeats."""
    if config["mode"] == "1-core":
        os.sched_setaffinity(0, {config["core"]})
    import tensorflow as tf

    if config["mode"] == "1-core":
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)

    from recommender.core import decoding, descriptors, mel
    from recommender.core.analysis import analyse_files, log_mel_patches
    from recommender.core.embedders import Embedder, load_card
    from recommender.core.pictures import mel_image
    from recommender.core.tagger import Tagger

    card = load_card(config["embedder"])
    model = Embedder(card, [Tagger.load(name, exact_port=config["exact_port"]) for name in card.networks])
    spec = model.spec
    results = []
    for name in config["files"]:
        path = Path(name)
        for windows in config["windows"]:
            analyse_files([path], model=model, windows=windows)  # traces the graphs, fills the caches
            samples: dict[str, list[tuple[float, float]]] = {}

            def timed(stage: str, function, *args, samples=samples, **kwargs):
                cpu, wall = time.process_time(), time.perf_counter()
                value = function(*args, **kwargs)
                samples.setdefault(stage, []).append((time.process_time() - cpu, time.perf_counter() - wall))
                return value

            for _ in range(config["repeats"]):
                info = timed("probe", decoding.probe, path)
                clips = timed(
                    "decode windows",
                    decoding.load_windows,
                    path,
                    sample_rate=spec.sample_rate,
                    n_windows=windows,
                    window_seconds=mel.PATCH_SECONDS,
                    info=info,
                )
                mels = timed("log-mel", log_mel_patches, clips, spec=spec)
                timed("tempo, loudness, energy", descriptors.describe, clips, sample_rate=spec.sample_rate)
                timed("spectrogram PNG", mel_image, mels)
                for tagger in model.taggers:
                    timed(f"CNN {tagger.spec.name}", tagger.predict, mels)
                timed("analyse_files", analyse_files, [path], model=model, windows=windows)
            results.append(
                {
                    "file": path.name,
                    "duration": info.duration,
                    "windows": windows,
                    "patches": len(mels),
                    "samples": samples,
                }
            )
    return {
        "mode": config["mode"],
        "allocator": config["allocator"],
        "embedder": config["embedder"],
        "networks": list(card.networks),
        "exact_port": config["exact_port"],
        "tf_threads": [
            tf.config.threading.get_intra_op_parallelism_threads(),
            tf.config.threading.get_inter_op_parallelism_threads(),
        ],
        "cores": len(os.sched_getaffinity(0)),
        "memory_mb": harness.rss_mb(),
        "results": results,
    }


STAGES = ("probe", "decode windows", "log-mel", "tempo, loudness, energy", "spectrogram PNG")


def report_run(run: dict) -> str:
    """A markdown table of median CPU milliseconds per stage and the x real time figures."""
    per_core = run["mode"] == "1-core"
    cnn = [f"CNN {network}" for network in run["networks"]]
    header = ["file", "windows", *[f"{s} ms" for s in (*STAGES, *cnn)], "analyse_files CPU ms", "wall ms"]
    header += ["x RT per core (CPU)", "x RT wall", f"vs {TARGET_X_REALTIME:.0f}x"]
    header += [f"{s} ms/patch" for s in cnn]
    rows = []
    for result in run["results"]:
        cpu = {stage: harness.median([c for c, _ in values]) for stage, values in result["samples"].items()}
        wall = harness.median([w for _, w in result["samples"]["analyse_files"]])
        per_core_x = result["duration"] / cpu["analyse_files"]
        rows.append(
            [
                result["file"],
                result["windows"],
                *[f"{1000 * cpu[s]:.0f}" for s in (*STAGES, *cnn)],
                f"{1000 * cpu['analyse_files']:.0f}",
                f"{1000 * wall:.0f}",
                f"{per_core_x:.0f}x",
                f"{result['duration'] / wall:.0f}x",
                f"{per_core_x / TARGET_X_REALTIME:.2f}",
                *[f"{1000 * cpu[s] / result['patches']:.1f}" for s in cnn],
            ]
        )
    network = "layer-for-layer port" if run["exact_port"] else "fast rewrite"
    title = (
        f"\n{run['mode']}, TF_ONEDNN_USE_SYSTEM_ALLOCATOR={run['allocator']}, {run['embedder']} ({network}), "
        f"TF threads {run['tf_threads']}, peak RSS {run['memory_mb']['VmHWM']:.0f} MB"
        + ("" if per_core else " (CPU time summed over both cores)")
    )
    return title + "\n" + harness.markdown_table(header, rows)


if __name__ == "__main__":
    main()
