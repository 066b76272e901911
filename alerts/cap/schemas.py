"""The agency CAP certificate an admin registers, and what hexcast says back about it."""

import uuid
from datetime import datetime

from cryptography import x509
from pydantic import BaseModel, ConfigDict, Field

from alerts.cap import signatures
from alerts.fields import Request

# A certificate chain of a few certificates stays well below.
MAX_CERTIFICATE_CHARS = 20_000


class CapCertificate(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"certificate": "-----BEGIN CERTIFICATE-----\nMIIB…\n-----END CERTIFICATE-----\n"}
            ]
        }
    )

    certificate: str = Field(
        min_length=1,
        max_length=MAX_CERTIFICATE_CHARS,
        description="PEM X.509 certificate (RSA of 2048 bits or more, or EC)",
    )


class CapCertificateOut(BaseModel):
    agency_id: uuid.UUID
    subject: str
    fingerprint_sha256: str
    not_valid_after: datetime

    @classmethod
    def from_certificate(
        cls, agency_id: uuid.UUID, certificate: x509.Certificate
    ) -> "CapCertificateOut":
        return cls(
            agency_id=agency_id,
            subject=certificate.subject.rfc4514_string(),
            fingerprint_sha256=signatures.fingerprint(certificate),
            not_valid_after=certificate.not_valid_after_utc,
        )
