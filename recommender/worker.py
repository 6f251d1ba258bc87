"""The RQ worker for analysis jobs: one process that keeps the model loaded between jobs.

RQ's default worker forks a fresh process per job, which would load the network for every
song. This one runs jobs in its own process (SimpleWorker), loads the model once at start,
and runs the reconciler with RQ's periodic maintenance.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from rq.worker import SimpleWorker
from threadpoolctl import threadpool_limits

from recommender.core.embedders import get_embedder

logger = logging.getLogger(__name__)

# How often (seconds) maintenance, and with it the reconciler, runs: with recommender.jobs.STALE_AFTER, a song
# whose worker was killed is back on the queue within two minutes.
RECONCILE_INTERVAL = 60


class AnalysisWorker(SimpleWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("maintenance_interval", RECONCILE_INTERVAL)
        # RQ runs maintenance between dequeues, and an idle worker waits for a job for worker_ttl - 15 s;
        # django-rq passes 420, which would leave a dead worker's song for seven minutes.
        kwargs["worker_ttl"] = RECONCILE_INTERVAL + 15
        super().__init__(*args, **kwargs)
        # NumPy's BLAS spreads the small products of log-mel, descriptors and pictures over every core and spins
        # after each: on two cores that tripled their CPU time. One analysis uses one core; more workers use more
        # (docs/benchmarks.md, "Fast musicnn": 1.6-1.7x the songs per CPU second).
        threadpool_limits(1, user_api="blas")
        model = get_embedder(settings.MUSREC_MODEL)
        logger.info("Embedder %s@%s loaded (%s)", model.card.name, model.card.version, model.device)

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        from recommender.catalogue_map import schedule_catalogue_map
        from recommender.collaborative import schedule_collaborative_training
        from recommender.jobs import reconcile, refresh_neighbour_similarity

        try:
            close_old_connections()
            counts = reconcile()
            if any(counts.values()):
                logger.info("Reconciled analysis queue: %s", counts)
            if refreshed := refresh_neighbour_similarity():
                logger.info("Neighbour similarity (CSLS) computed for %s songs", refreshed)
            schedule_catalogue_map()
            schedule_collaborative_training()
        except Exception:  # the worker must outlive a database hiccup
            logger.exception("Reconciling the analysis queue failed")
        finally:
            close_old_connections()
