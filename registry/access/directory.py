"""The public directory: clinic managers publish services; anyone searches them."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import String, exists, func, select, type_coerce

from registry import clock
from registry.access.models import Clinic, Service, Slot
from registry.audit.log import record
from registry.errors import NotFound
from registry.extensions import db

EDITABLE = (
    "name",
    "care_type",
    "medications",
    "languages",
    "opening_hours",
    "anonymous",
    "address",
    "phone",
    "description",
    "translations",
    "cost",
    "wheelchair",
    "published",
)


def create_service(clinic_id: int, **fields) -> Service:
    """Publish a service for a clinic; audit it."""
    service = Service(clinic_id=clinic_id, **fields)
    db.session.add(service)
    db.session.flush()
    record("service.create", "service", service.id)
    return service


def clinic_services(clinic_id: int) -> list[Service]:
    """Return every service of a clinic, published or not."""
    query = select(Service).where(Service.clinic_id == clinic_id).order_by(Service.id)
    return list(db.session.execute(query).scalars())


def clinic_service(clinic_id: int, service_id: int) -> Service:
    """Return one service of a clinic; another clinic's is reported as not found."""
    service = db.session.get(Service, service_id)
    if service is None or service.clinic_id != clinic_id:
        raise NotFound("no such object")
    return service


def update_service(service: Service, changes: dict) -> Service:
    """Change a service's directory data; audit it."""
    for name, value in changes.items():
        if name in EDITABLE:
            setattr(service, name, value)
    db.session.flush()
    record("service.update", "service", service.id)
    return service


def public_service(service_id: int) -> Service:
    """Return a published service, or raise NotFound."""
    service = db.session.get(Service, service_id)
    if service is None or not service.published:
        raise NotFound("no such service")
    return service


@dataclass(frozen=True)
class ServiceFilter:
    """What the public may search on; None means any."""

    region: str | None = None
    care_type: str | None = None
    medication: str | None = None
    language: str | None = None
    anonymous: bool | None = None
    cost: str | None = None
    wheelchair: bool | None = None
    free_within_days: int | None = None


@dataclass(frozen=True)
class Page:
    """One page of results with the total count."""

    items: list
    page: int
    per_page: int
    total: int


def _tag(column, value: str):
    # Tags are stored as ',a,b,'; the vocabularies hold no ',' '%' or '_' to escape.
    return type_coerce(column, String).like(f"%,{value},%")


def has_free_slot(within: timedelta):
    """Return an EXISTS clause: the service has a bookable slot starting within `within`."""
    now = clock.now()
    return exists().where(
        Slot.service_id == Service.id,
        Slot.cancelled_at.is_(None),
        Slot.starts_at > now,
        Slot.starts_at <= now + within,
        Slot.booked < Slot.capacity,
    )


def search_services(wanted: ServiceFilter, page: int = 1, per_page: int = 10) -> Page:
    """Return published services matching every given filter, a page at a time."""
    query = select(Service).join(Clinic).where(Service.published.is_(True))
    if wanted.region:
        query = query.where(Clinic.region_code == wanted.region)
    if wanted.care_type:
        query = query.where(Service.care_type == wanted.care_type)
    if wanted.medication:
        query = query.where(_tag(Service.medications, wanted.medication))
    if wanted.language:
        query = query.where(_tag(Service.languages, wanted.language))
    if wanted.anonymous is not None:
        query = query.where(Service.anonymous.is_(wanted.anonymous))
    if wanted.cost:
        query = query.where(Service.cost == wanted.cost)
    if wanted.wheelchair is not None:
        query = query.where(Service.wheelchair.is_(wanted.wheelchair))
    if wanted.free_within_days:
        query = query.where(has_free_slot(timedelta(days=wanted.free_within_days)))
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = db.session.execute(
        query.order_by(Clinic.region_code, Service.name, Service.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).scalars()
    return Page(list(rows), page, per_page, total)
