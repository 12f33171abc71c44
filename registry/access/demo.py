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

# (care type, service name, medications, languages, anonymous, cost, wheelchair access)
# by clinic centre type.
SERVICES = {
    "outpatient": [
        ("oat", "Opioid agonist treatment", ["methadone", "buprenorphine"], ["ru", "kk"], True,
         "free", True),
        ("psychosocial", "Counselling and peer support", [], ["ru", "kk", "en"], True,
         "free", False),
    ],
    "inpatient": [
        ("detox", "Inpatient detoxification", ["naltrexone"], ["ru", "kk"], False, "paid", True),
        ("inpatient", "Residential rehabilitation", [], ["ru"], False, "paid", True),
    ],
    "low_threshold": [
        ("harm_reduction", "Needle exchange and naloxone", ["naloxone"], ["ru", "kk"], True,
         "free", False),
    ],
}  # fmt: skip
# Each demo service's English description and its name and description in Russian and Kazakh.
TEXTS = {
    "Opioid agonist treatment": (
        "Methadone or buprenorphine every day, with a doctor and a social worker.",
        (
            "Заместительная терапия опиоидами",
            "Метадон или бупренорфин каждый день, с врачом и соцработником.",
        ),
        (
            "Опиоидтық алмастыру терапиясы",
            "Күн сайын метадон немесе бупренорфин, дәрігер мен әлеуметтік қызметкермен.",
        ),
    ),
    "Counselling and peer support": (
        "Talk with a counsellor or with people who have been through it.",
        (
            "Консультации и поддержка равных",
            "Разговор с консультантом или с людьми, которые через это прошли.",
        ),
        (
            "Кеңес және тең-теңімен қолдау",
            "Кеңесшімен немесе мұны бастан өткерген адамдармен сөйлесу.",
        ),
    ),
    "Inpatient detoxification": (
        "A few days in hospital to stop using safely, with medicine for withdrawal.",
        (
            "Детоксикация в стационаре",
            "Несколько дней в больнице, чтобы безопасно прекратить употребление.",
        ),
        ("Стационарда детоксикация", "Қолдануды қауіпсіз тоқтату үшін ауруханада бірнеше күн."),
    ),
    "Residential rehabilitation": (
        "Several weeks of living at the centre, with therapy and help to return to daily life.",
        (
            "Реабилитация с проживанием",
            "Несколько недель жизни в центре, с терапией и помощью вернуться к обычной жизни.",
        ),
        (
            "Тұрып оңалту",
            "Орталықта бірнеше апта тұру, терапия және күнделікті өмірге оралуға көмек.",
        ),
    ),
    "Needle exchange and naloxone": (
        "Clean needles, naloxone and tests, without giving your name.",
        ("Обмен игл и налоксон", "Чистые иглы, налоксон и тесты, без имени."),
        ("Ине алмасу және налоксон", "Таза инелер, налоксон және тесттер, атыңызды айтпай."),
    ),
}


def _texts(name: str, index: int) -> tuple[str, dict]:
    """Return a demo service's description and its Russian and Kazakh texts."""
    description, (name_ru, about_ru), (name_kk, about_kk) = TEXTS[name]
    number = 10 + index
    return description, {
        "ru": {"name": name_ru, "address": f"пр. Абая, {number}", "description": about_ru},
        "kk": {"name": name_kk, "address": f"Абай даңғылы, {number}", "description": about_kk},
    }


def seed_access_demo(clinics: list[Clinic]) -> int:
    """Publish demo services with slots for the next two weeks; return the slot count."""
    from datetime import time

    count = 0
    for index, clinic in enumerate(clinics):
        today = clock.now().astimezone(ZoneInfo(clinic.timezone)).date()
        for care, name, medications, languages, anonymous, cost, wheelchair in SERVICES.get(
            clinic.centre_type, []
        ):
            description, translations = _texts(name, index)
            service = create_service(
                clinic.id,
                name=name,
                care_type=care,
                medications=medications,
                languages=languages,
                opening_hours=HOURS,
                anonymous=anonymous,
                cost=cost,
                wheelchair=wheelchair,
                address=f"{10 + index} Abay Avenue",
                phone=f"+7 727 300 {10 + index:02d} {40 + len(care):02d}",
                description=description,
                translations=translations,
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
