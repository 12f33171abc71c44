"""Oversight of the registration oracle: findings about users who probe the registry.

Services (flush, never commit): `check_registrations` (registry/oversight/check.py) and
`findings_after`; the scheduler runs the check (registry/oversight/jobs.py), `registry oversight
check` runs it now, and GET /api/v1/oversight/findings lists findings to admins and custodians.
"""

# The audit object type of an answer refused by an oracle limit (registry/api/oracle_limits.py).
LIMIT_REFUSAL = "rate_limit"
