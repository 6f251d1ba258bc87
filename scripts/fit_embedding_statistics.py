"""Fit the two-network embedder's standardisation statistics and write its model card (run once, then commit).

    ./musrec manage evaluate_retrieval --make-demo-csv var/bench/demo.csv      # the demo catalogue, labelled
    .venv/bin/python scripts/fit_embedding_statistics.py var/bench/demo.csv --version 1

Each song's windows are cut and turned into log-mel patches exactly as analysis does
(``recommender.core.analysis.song_windows``); both networks' penultimate features are averaged over the song's
windows (the *raw* vectors, which Musrec also stores), and each dimension's mean and standard deviation over the
songs is written to ``recommender/core/weights/musicnn_pair.json``. A new version makes a new model key: every
song is analysed again in the background. Why these statistics: docs/quality.md ("The two-network embedding").
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommender.core import analysis  # noqa: E402
from recommender.core.decoding import AudioError  # noqa: E402
from recommender.core.embedders import PAIR, Standardisation  # noqa: E402
from recommender.core.tagger import WEIGHTS_DIR, get_tagger  # noqa: E402

NETWORKS = ("msd_musicnn", "mtt_musicnn")
LAYER = "penultimate"


def raw_vectors(csv_path: Path) -> tuple[dict[str, np.ndarray], int]:
    """Each network's raw song vectors [shape=(n, 200)] for the CSV's files, and how many were skipped."""
    taggers = [get_tagger(name) for name in NETWORKS]
    vectors: dict[str, list[np.ndarray]] = {name: [] for name in NETWORKS}
    skipped = 0
    with csv_path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    started = time.monotonic()
    for i, row in enumerate(rows, 1):
        path = (csv_path.parent / row["path"]).resolve()
        try:
            _, mels = analysis.song_windows(path, spec=taggers[0].spec)
        except AudioError as error:
            print(f"skipped {path}: {error}", file=sys.stderr)
            skipped += 1
            continue
        for tagger in taggers:
            vectors[tagger.spec.name].append(tagger.predict(mels).features[LAYER].mean(axis=0))
        if i % 25 == 0:
            print(f"{i}/{len(rows)} songs, {time.monotonic() - started:.0f} s", file=sys.stderr)
    return {name: np.stack(rows) for name, rows in vectors.items()}, skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csv", type=Path, help="the songs to fit on (evaluate_retrieval's CSV: a path column)")
    parser.add_argument("--version", required=True, help="the card's new version; it names the stored vectors")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR / f"{PAIR}.json")
    options = parser.parse_args()

    vectors, skipped = raw_vectors(options.csv)
    songs = len(next(iter(vectors.values())))
    previous = json.loads(options.out.read_text()) if options.out.exists() else {}
    card = {
        "name": PAIR,
        "version": options.version,
        "description": (
            "The MSD and MTT musicnn networks' penultimate features, each averaged over a song's windows, "
            "standardised per dimension with the statistics below, scaled to unit length, side by side, and "
            "scaled to unit length again: the cosine of two songs is the mean of the two networks' cosines."
        ),
        "networks": list(NETWORKS),
        "layer": LAYER,
        "fitted_on": {
            "what": f"the demo catalogue: {songs} songs ({skipped} skipped), {analysis.WINDOWS_PER_SONG} windows each",
            "date": date.today().isoformat(),
            "script": "scripts/fit_embedding_statistics.py",
        },
        "evidence": previous.get("evidence", "docs/quality.md, 'The two-network embedding'"),
        "standardisation": {name: Standardisation.fit(vectors[name]).to_json() for name in NETWORKS},
    }
    options.out.write_text(json.dumps(card, indent=1) + "\n")
    dropped = {name: int(np.isinf(Standardisation.fit(vectors[name]).std).sum()) for name in NETWORKS}
    print(f"Wrote {options.out}: {songs} songs; flat dimensions dropped: {dropped}")


if __name__ == "__main__":
    main()
