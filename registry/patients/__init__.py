"""Patients: registration, linkage, pseudonym domains, care cards, escrow, re-identification.

Services (flush, never commit): `register_anonymous`, `register_linked`, `resolve_care_card`,
`patient_view`, `person_for_clinic_pseudonym`, `erase_person`, `merge_persons`, `split_merge`,
`open_ost_enrolment`, `close_ost_enrolment`, `ost_active_elsewhere`, `mark_treated`
(registry.patients.services); `request_reidentification`, `approve`, `reveal`
(registry.patients.reidentification); rotation in registry.patients.rotation.
"""
