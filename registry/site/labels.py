"""Translated labels of the directory's vocabularies and booking states."""

from flask_babel import lazy_gettext as _l

CARE_TYPES = {
    "outpatient": _l("Outpatient care"),
    "inpatient": _l("Inpatient care"),
    "detox": _l("Detoxification"),
    "oat": _l("Opioid agonist treatment"),
    "psychosocial": _l("Psychosocial support"),
    "harm_reduction": _l("Harm reduction"),
}
# What each type of care is, in plain words, for a reader who has never been treated.
CARE_EXPLAINED = {
    "outpatient": _l("Visits to a doctor while you live at home."),
    "inpatient": _l("A stay in hospital with doctors around the clock."),
    "detox": _l("Help to stop using safely, with medicine for withdrawal, usually for a few days."),
    "oat": _l("A daily medicine (methadone or buprenorphine) that replaces street opioids."),
    "psychosocial": _l("Talking with a counsellor or a group, and help with work and housing."),
    "harm_reduction": _l("Clean needles, naloxone, tests and advice, with no need to stop using."),
}
COSTS = {
    "free": _l("Free"),
    "paid": _l("Paid"),
}
MEDICATIONS = {
    "methadone": _l("Methadone"),
    "buprenorphine": _l("Buprenorphine"),
    "buprenorphine_naloxone": _l("Buprenorphine with naloxone"),
    "naltrexone": _l("Naltrexone"),
    "naloxone": _l("Naloxone"),
    "acamprosate": _l("Acamprosate"),
    "disulfiram": _l("Disulfiram"),
}
# Language names are shown in that language, so a reader finds their own.
LANGUAGES = {
    "kk": "Қазақша",
    "ru": "Русский",
    "en": "English",
    "uz": "Oʻzbekcha",
    "ky": "Кыргызча",
    "tg": "Тоҷикӣ",
}
WEEKDAYS = {
    "mon": _l("Monday"),
    "tue": _l("Tuesday"),
    "wed": _l("Wednesday"),
    "thu": _l("Thursday"),
    "fri": _l("Friday"),
    "sat": _l("Saturday"),
    "sun": _l("Sunday"),
}
STATUSES = {
    "active": _l("Booked"),
    "cancelled": _l("Cancelled by you"),
    "cancelled_by_clinic": _l("Cancelled by the clinic"),
    "checked_in": _l("Checked in at the clinic"),
    "no_show": _l("Missed"),
}
