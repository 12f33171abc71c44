"""A complete TDI 3.0 admission record: the API documentation's example, and the tests'."""

# An adult man who injects heroin daily, never treated before; every item has a code.
ADMISSION_EXAMPLE = {
    "ever_treated": "no",
    "referral_source": "self_family_friends",
    "sex": "male",
    "birth_year": 1985,
    "birth_month": 3,
    "living_with": "family",
    "living_with_children": "no",
    "living_where": "stable",
    "education": "upper_secondary",
    "labour_status": "unemployed",
    "primary_drug": "heroin",
    "route": "inject",
    "frequency": "daily",
    "age_first_use": 19,
    "injecting": "last_30d",
    "needle_sharing": "12m_not_30d",
    "hiv_tested": "last_12m",
    "hiv_result": "negative",
    "hcv_tested": "never",
    "ost_status": "never",
}
