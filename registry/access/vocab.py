"""Closed vocabularies of the directory: the values the public search filters on."""

CARE_TYPES = ("outpatient", "inpatient", "detox", "oat", "psychosocial", "harm_reduction")
MEDICATIONS = (
    "methadone",
    "buprenorphine",
    "buprenorphine_naloxone",
    "naltrexone",
    "naloxone",
    "acamprosate",
    "disulfiram",
)
# ISO 639-1 codes of the languages care is offered in.
LANGUAGES = ("kk", "ru", "en", "uz", "ky", "tg")
# Languages a service's name, address and description may be given in: the pages' catalogues.
PAGE_LANGUAGES = ("ru", "kk", "en")
# What a visit costs the person: nothing, or a fee (the page says which).
COSTS = ("free", "paid")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
