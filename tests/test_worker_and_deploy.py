from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import django_rq
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils.crypto import get_random_string
from rq import SimpleWorker
from rq.job import Job, JobStatus

from tests.conftest import PASSWORD
from tests.factories import make_song
from tests.jobs_for_tests import add, count_songs, fail_on_purpose

BASE_DIR = Path(settings.BASE_DIR)


@pytest.fixture
def staff_client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_user("root", "root@example.com", PASSWORD, is_staff=True))
    return client


def run_worker() -> bool:
    # SimpleWorker runs jobs in this process: a forked child would share the test's database connection.
    return django_rq.get_worker("analysis", worker_class=SimpleWorker).work(burst=True)


def test_the_worker_dashboard_opens_for_staff(staff_client):
    response = staff_client.get(reverse("rq_home"))

    assert response.status_code == 200
    assert reverse("rq_home") == "/admin/rq/"
    assert b"analysis" in response.content


def test_the_worker_dashboard_is_closed_to_ordinary_users(alice_client):
    response = alice_client.get(reverse("rq_home"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_the_worker_dashboard_is_closed_to_visitors(db):
    response = Client().get(reverse("rq_home"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_the_worker_stats_json_is_closed_to_ordinary_users(alice_client):
    response = alice_client.get(reverse("django_rq:home_json"))

    assert response.status_code in {401, 403, 404}


def test_staff_see_a_link_to_the_worker_queues(staff_client):
    response = staff_client.get(reverse("catalog:song_list"))

    assert response.status_code == 200
    assert f'href="{reverse("rq_home")}"' in response.content.decode()


def test_ordinary_users_see_no_link_to_the_worker_queues(alice_client):
    response = alice_client.get(reverse("catalog:song_list"))

    assert reverse("rq_home") not in response.content.decode()


@pytest.mark.slow
def test_a_real_worker_runs_a_queued_job_and_records_its_result(analysis_queue):
    job = analysis_queue.enqueue(add, 2, 3)

    assert run_worker() is True

    assert job.get_status(refresh=True) == JobStatus.FINISHED
    assert job.return_value(refresh=True) == 5
    assert job.id in analysis_queue.finished_job_registry.get_job_ids()
    assert analysis_queue.count == 0


def test_a_job_enqueued_in_a_transaction_waits_for_the_commit(db, analysis_queue, django_capture_on_commit_callbacks):
    """django-rq 4 enqueues on commit, so a worker never looks for a row that is not there yet."""
    make_song()
    make_song()
    with django_capture_on_commit_callbacks(execute=True):
        assert analysis_queue.enqueue(count_songs, job_id="count-songs") is None
        assert analysis_queue.count == 0

    run_worker()

    job = Job.fetch("count-songs", connection=analysis_queue.connection)
    assert job.return_value() == 2


@pytest.mark.slow
def test_a_failing_job_is_recorded_as_failed_with_its_error(analysis_queue):
    job = analysis_queue.enqueue(fail_on_purpose)

    run_worker()

    assert job.get_status(refresh=True) == JobStatus.FAILED
    assert "this job fails on purpose" in job.latest_result().exc_string
    assert job.id in analysis_queue.failed_job_registry.get_job_ids()


def test_an_empty_queue_gives_the_worker_nothing_to_do(analysis_queue):
    assert run_worker() is False


def production_environment() -> dict[str, str]:
    """What a production host sets; DATABASE_URL and REDIS_URL come from the launcher's environment."""
    return {
        **os.environ,
        "MUSREC_PRODUCTION": "1",
        "DEBUG": "0",
        "SECRET_KEY": get_random_string(50, "abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*(-_=+)"),
        "ALLOWED_HOSTS": "musrec.example.com",
    }


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_deployment_checklist_is_clean_in_production():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_environment())

    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = production_environment()
    del env["SECRET_KEY"]

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "Set SECRET_KEY in production." in result.stderr


@pytest.mark.django_db
def test_no_model_change_is_missing_a_migration():
    out = io.StringIO()

    call_command("makemigrations", "--check", "--dry-run", stdout=out)

    assert "No changes detected" in out.getvalue()


def test_the_embedded_postgresql_gets_enough_memory_for_the_vector_index(db):
    import psycopg
    from django.db import connection

    from musrec_site import services

    db = connection.settings_dict
    host = str(db["OPTIONS"].get("host") or db["HOST"])
    if not host.startswith(str(settings.BASE_DIR / "var")):
        pytest.skip("an external PostgreSQL is configured by its administrator")
    with psycopg.connect(
        host=host, port=db["PORT"] or None, user=db["USER"], password=db["PASSWORD"], dbname="postgres", autocommit=True
    ) as conn:
        services._configure(conn)
        configured = dict(
            conn.execute(
                "SELECT name, setting FROM pg_file_settings WHERE sourcefile LIKE '%postgresql.auto.conf'"
            ).fetchall()
        )
        assert configured == services.SERVER_SETTINGS
        assert conn.execute("SHOW maintenance_work_mem").fetchone()[0] == "512MB"
