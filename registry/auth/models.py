"""Users, their roles, and API tokens stored only as hashes."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.extensions import db
from registry.types import UTCDateTime, utcnow


class Role(StrEnum):
    """The roles of DESIGN.md §1."""

    CLINICIAN = "clinician"
    CLINIC_ADMIN = "clinic_admin"
    ANALYST = "analyst"
    PROTOCOL_ADMIN = "protocol_admin"
    KEY_CUSTODIAN = "key_custodian"
    ADMIN = "admin"


# Roles that act for one clinic and so need a clinic binding.
CLINIC_ROLES = frozenset({Role.CLINICIAN, Role.CLINIC_ADMIN})

_ROLE_LIST = ", ".join(f"'{r.value}'" for r in Role)


class User(db.Model):
    """A person with their own tokens; never a shared login."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    role_rows: Mapped[list["UserRole"]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", back_populates="user"
    )

    @property
    def roles(self) -> frozenset[str]:
        """Return the names of the user's roles."""
        return frozenset(row.role for row in self.role_rows)


class UserRole(db.Model):
    """One role held by one user."""

    __tablename__ = "user_roles"
    __table_args__ = (CheckConstraint(f"role IN ({_ROLE_LIST})", name="known_role"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), primary_key=True)

    user: Mapped[User] = relationship(back_populates="role_rows")


class ApiToken(db.Model):
    """A bearer token; only the SHA-256 of the secret is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")


class UserCredential(db.Model):
    """A user's console sign-in: an argon2id password hash and an encrypted TOTP secret.

    Kept apart from `users` so that the bearer-token lookup of every API request stays as lean
    as it is. Nothing here is a secret in clear: the password is a one-way hash, the TOTP
    secret is sealed under the keyring's 'totp' key, the activation code is a SHA-256.
    """

    __tablename__ = "user_credentials"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    password_hash: Mapped[str | None] = mapped_column(String(200))
    password_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # AES-256-GCM blob (registry.crypto.aead) bound to the user id; the key version is inside.
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary(128))
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last 30-second step a code was accepted for: a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # A one-time enrolment link (SHA-256 of its random code) to set the first password.
    activation_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    activation_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
