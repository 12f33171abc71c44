"""Regions and clinics: the directory that clinic roles are bound to."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from registry.extensions import db
from registry.types import UTCDateTime, utcnow


class Region(db.Model):
    """An administrative region, keyed by its KATO code."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(80))
    name_ru: Mapped[str] = mapped_column(String(80))
    name_kk: Mapped[str] = mapped_column(String(80))


class Clinic(db.Model):
    """A treatment centre; every clinic user and clinical record belongs to one."""

    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    # TDI 3.0 treatment centre type: outpatient, inpatient, prison, gp, low_threshold, other.
    centre_type: Mapped[str] = mapped_column(String(20))
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Almaty")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
