"""Statistical disclosure control: suppression, interval audit and cell-key perturbation.

Every number that leaves the service takes one path::

    model = ReleaseModel([region, drug, age, sex], [TableSpec("t", ("region", "drug", "age"))])
    counts, cell_keys = model.count(records, record_keys)  # exact counts, cell keys
    release = protect_release(model, counts, cell_keys, SdcParams(threshold=10))
    release.to_dict()  # every cell's value (None when suppressed) and status, + release record

Stages: primary suppression of 1..k-1 (primary.py) → secondary suppression by Gaussian
elimination over all tables of the release, the grand total and one-dimension margins published
(gauss.py, pipeline.py) → interval audit with HiGHS, LP repair until every hidden cell is at
least the safety range wide (audit.py, repair.py) → consistent cell-key perturbation of what is
published, never below the threshold (perturb.py). The release record states the narrowest
hidden interval found by a complete search (release.py).

hypercube.py (the former secondary suppression) stays for its hypercube certificates, which
`audit_release` checks when auditing a release on its own.
"""

from registry.stats.sdc.audit import AuditReport, audit_intervals, audit_release
from registry.stats.sdc.dimensions import TOTAL, Dimension
from registry.stats.sdc.gauss import gauss_suppress
from registry.stats.sdc.hypercube import hypercube_suppress
from registry.stats.sdc.model import ReleaseModel, TableSpec
from registry.stats.sdc.params import SdcParams
from registry.stats.sdc.perturb import PTable, default_ptable, new_record_keys
from registry.stats.sdc.pipeline import (
    audit_and_repair,
    protect_records,
    protect_release,
    suppress,
)
from registry.stats.sdc.primary import primary_mask
from registry.stats.sdc.release import CellStatus, ProtectedCell, ProtectedRelease

__all__ = [
    "TOTAL",
    "AuditReport",
    "CellStatus",
    "Dimension",
    "PTable",
    "ProtectedCell",
    "ProtectedRelease",
    "ReleaseModel",
    "SdcParams",
    "TableSpec",
    "audit_and_repair",
    "audit_intervals",
    "audit_release",
    "default_ptable",
    "gauss_suppress",
    "hypercube_suppress",
    "new_record_keys",
    "primary_mask",
    "protect_records",
    "protect_release",
    "suppress",
]
