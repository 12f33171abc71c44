"""Load the configured region list into the database."""

import json
from pathlib import Path

from registry.access.models import Region
from registry.extensions import db


def load_regions(path: str) -> int:
    """Insert or update every region of the file; return how many there are."""
    regions = json.loads(Path(path).read_text(encoding="utf-8"))
    for item in regions:
        db.session.merge(
            Region(
                code=item["code"],
                name_en=item["name_en"],
                name_ru=item["name_ru"],
                name_kk=item["name_kk"],
            )
        )
    db.session.flush()
    return len(regions)
