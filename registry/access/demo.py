"""Demo directory: a service or two per clinic and two weeks of weekly slots."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from registry import clock
from registry.access.directory import create_service
from registry.access.models import Clinic
from registry.access.slots import create_weekly_slots

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
HOURS = {"mon": ["09:00-13:00", "14:00-18:00"], "tue": ["09:00-13:00", "14:00-18:00"],
         "wed": ["09:00-13:00", "14:00-18:00"], "thu": ["09:00-13:00", "14:00-18:00"],
         "fri": ["09:00-13:00", "14:00-17:00"]}  # fmt: skip

# (care type, service name, medications, languages, anonymous) by clinic centre type.
SERVICES = {
    "outpatient": [
        ("oat", "Opioid agonist treatment", ["methadone", "buprenorphine"], ["ru", "kk"], True),
        ("psychosocial", "Counselling and peer support", [], ["ru", "kk", "en"], True),
    ],
    "inpatient": [
        ("detox", "Inpatient detoxification", ["naltrexone"], ["ru", "kk"], False),
        ("inpatient", "Residential rehabilitation", [], ["ru"], False),
    ],
    "low_threshold": [
        ("harm_reduction", "Needle exchange and naloxone", ["naloxone"], ["ru", "kk"], True),
    ],
}


def seed_access_demo(clinics: list[Clinic]) -> int:
    """Publish demo services with slots for the next two weeks; return the slot count."""
    from datetime import time

    count = 0
    for index, clinic in enumerate(clinics):
        today = clock.now().astimezone(ZoneInfo(clinic.timezone)).date()
        for care, name, medications, languages, anonymous in SERVICES.get(clinic.centre_type, []):
            service = create_service(
                clinic.id,
                name=name,
                care_type=care,
                medications=medications,
                languages=languages,
                opening_hours=HOURS,
                anonymous=anonymous,
                address=f"{10 + index} Abay Avenue",
                phone=None,
                published=True,
            )
            slots = create_weekly_slots(
                service,
                WEEKDAYS,
                [time(9, 0), time(11, 0), time(14, 30)],
                today + timedelta(days=1),
                today + timedelta(days=14),
                duration_minutes=45,
                capacity=3,
            )
            count += len(slots)
    return count
