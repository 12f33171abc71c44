"""Fixtures of the hardening tests: a real stack on this run's database engine."""

import shutil
from collections.abc import Iterator

import pytest

from tests.conftest import _new_database
from tests.hardening.services import PrivateRedis
from tests.hardening.stack import Stack
from tests.hardening.workload import LOAD_SETTINGS


@pytest.fixture()
def stack(tmp_path) -> Iterator[Stack]:
    """Return a seeded-on-demand stack on a new database; stop its processes afterwards."""
    for url in _new_database(tmp_path):
        deployment = Stack(tmp_path, url, LOAD_SETTINGS)
        try:
            yield deployment
        finally:
            deployment.stop()


@pytest.fixture()
def redis_server() -> Iterator[PrivateRedis]:
    """Return a running private redis-server."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    private = PrivateRedis()
    private.start()
    try:
        yield private
    finally:
        private.stop()
