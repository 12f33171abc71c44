"""Fixtures of the hardening tests: a real stack on this run's database engine."""

from collections.abc import Iterator

import pytest

from tests.conftest import _new_database
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
