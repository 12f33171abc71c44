"""The SQLite database and its -wal and -shm files are readable by their owner only."""

import os
import stat

from sqlalchemy import text

from registry.extensions import db
from tests.conftest import make_test_app, migrate_database


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_database_and_its_wal_files_are_0600(tmp_path, keyring):
    path = tmp_path / "registry.sqlite3"
    app = make_test_app(f"sqlite:///{path}", keyring, str(tmp_path / "instance"))
    migrate_database(app)
    with app.app_context():
        with db.engine.connect() as connection:  # holds the -wal and -shm files open
            connection.execute(text("SELECT count(*) FROM regions"))
            files = [path, tmp_path / "registry.sqlite3-wal", tmp_path / "registry.sqlite3-shm"]
            assert all(file.exists() for file in files)
            assert {file.name: _mode(file) for file in files} == {
                file.name: 0o600 for file in files
            }
        db.engine.dispose()


def test_an_existing_database_readable_by_others_is_tightened(tmp_path, keyring):
    path = tmp_path / "registry.sqlite3"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    make_test_app(f"sqlite:///{path}", keyring, str(tmp_path / "instance"))
    assert _mode(path) == 0o600
