"""XML-DSig of CAP: agencies that registered a certificate must sign what they post, and
hexcast signs every alert it publishes.

Signatures are enveloped (a `ds:Signature` as the last child of `<alert>`, which CAP 1.2
allows) and cover the whole alert (`Reference URI=""`). An agency's signature is checked
against the certificate registered for it, never against one the message carries, and what
hexcast then reads is the signed content signxml returns, so nothing outside the signature's
reach can slip in. Only RSA and ECDSA with SHA-2 are accepted."""

import datetime
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import (
    DigestAlgorithm,
    InvalidInput,
    InvalidSignature,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
    methods,
)
from signxml.exceptions import InvalidCertificate, InvalidDigest
from signxml.verifier import SignatureConfiguration, VerifyResult

from alerts.cap.messages import qualified
from alerts.cap.reading import read_document
from alerts.errors import DomainError
from kit.config import get_settings

log = logging.getLogger(__name__)

DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"

ACCEPTED_METHODS = frozenset(
    {
        SignatureMethod.RSA_SHA256,
        SignatureMethod.RSA_SHA384,
        SignatureMethod.RSA_SHA512,
        SignatureMethod.ECDSA_SHA256,
        SignatureMethod.ECDSA_SHA384,
        SignatureMethod.ECDSA_SHA512,
    }
)

ACCEPTED_DIGESTS = frozenset(
    {DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512}
)

# Enveloped, as a child of <alert>, one reference: the whole alert.
_EXPECTED = SignatureConfiguration(
    location="./",
    expect_references=1,
    signature_methods=ACCEPTED_METHODS,
    digest_algorithms=ACCEPTED_DIGESTS,
)


class CapSignatureRefused(DomainError):
    status_code = 422
    code = "cap_signature_refused"


class CertificateInvalid(DomainError):
    status_code = 422
    code = "certificate_invalid"


def read_certificate(pem: str) -> x509.Certificate:
    """One PEM certificate with an RSA (2048 bits or more) or an EC public key; raises
    CertificateInvalid saying what is wrong."""
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as error:
        raise CertificateInvalid(f"not a PEM X.509 certificate: {error}") from None
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise CertificateInvalid("an RSA key needs at least 2048 bits")
    elif not isinstance(key, ec.EllipticCurvePublicKey):
        raise CertificateInvalid("the certificate's key must be RSA or EC (ECDSA)")
    return certificate


def verified_document(document: bytes, *, certificate_pem: str) -> bytes:
    """The alert as its agency signed it, without the signature; raises CapSignatureRefused
    saying why when it is unsigned or the signature does not hold."""
    root = read_document(document)
    signatures = root.findall(f"{{{DSIG_NS}}}Signature")
    if not signatures:
        raise CapSignatureRefused(
            "this agency registered a certificate: its CAP messages must carry an enveloped "
            "XML-DSig <Signature> as the last child of <alert>"
        )
    if len(signatures) > 1:
        raise CapSignatureRefused("a CAP message may carry one <Signature>")
    try:
        result = XMLVerifier().verify(root, x509_cert=certificate_pem, expect_config=_EXPECTED)
    except (InvalidSignature, InvalidDigest, InvalidCertificate, InvalidInput) as error:
        raise CapSignatureRefused(f"the XML signature does not verify: {error}") from None
    assert isinstance(result, VerifyResult)  # one reference expected: one result
    signed = result.signed_xml
    if signed is None or signed.tag != qualified("alert"):
        raise CapSignatureRefused('the signature must cover the whole <alert> (Reference URI="")')
    return result.signed_data


@dataclass(frozen=True)
class SigningIdentity:
    """hexcast's key, loaded once: loading an RSA key checks it, which took longer than
    signing (about 0.3 s a signature here when the PEM was handed to signxml each time)."""

    key: Any
    cert_pem: bytes
    method: SignatureMethod


def _method(key: Any) -> SignatureMethod:
    if isinstance(key, rsa.RSAPrivateKey):
        return SignatureMethod.RSA_SHA256
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return SignatureMethod.ECDSA_SHA256
    raise ValueError("HEXCAST_CAP_SIGNING_KEY_FILE must hold an RSA or EC private key")


def development_identity(common_name: str = "hexcast development CAP signing") -> SigningIdentity:
    """A new EC P-256 key and a self-signed certificate for it, valid for a year."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return SigningIdentity(
        key=key,
        cert_pem=certificate.public_bytes(serialization.Encoding.PEM),
        method=SignatureMethod.ECDSA_SHA256,
    )


def signing_identity() -> SigningIdentity:
    """hexcast's own key and certificate, from the files the settings name; without them (never
    in production, see kit.config) a key made once per process."""
    settings = get_settings()
    return _identity(settings.cap_signing_key_file, settings.cap_signing_cert_file)


# Per pair of files: a change of settings (a test's, or a reload) signs with the new key.
@lru_cache
def _identity(key_file: str | None, cert_file: str | None) -> SigningIdentity:
    if key_file is None or cert_file is None:
        log.warning("alerts.cap.signing key=ephemeral: set HEXCAST_CAP_SIGNING_KEY_FILE")
        return development_identity()
    key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
    cert_pem = Path(cert_file).read_bytes()
    return SigningIdentity(key=key, cert_pem=cert_pem, method=_method(key))


def signed(alert: Any) -> Any:
    """The alert element with hexcast's enveloped signature as its last child."""
    return etree.fromstring(_signed_bytes(etree.tostring(alert), signing_identity()))


# Alerts signed lately, by their unsigned bytes and the key: the feed signs up to 50 alerts a
# request, which mostly have not changed since the last one (4-9 ms a signature here).
@lru_cache(maxsize=2048)
def _signed_bytes(unsigned: bytes, identity: SigningIdentity) -> bytes:
    signer = XMLSigner(
        method=methods.enveloped,
        signature_algorithm=identity.method,
        digest_algorithm=DigestAlgorithm.SHA256,
    )
    alert = etree.fromstring(unsigned)
    return bytes(
        etree.tostring(signer.sign(alert, key=identity.key, cert=identity.cert_pem.decode()))
    )


def signed_document(alert: Any) -> bytes:
    """The alert signed, as a document: serialised as signed, never re-indented (whitespace
    added after signing would break the signature)."""
    return bytes(etree.tostring(signed(alert), xml_declaration=True, encoding="UTF-8"))


def fingerprint(certificate: x509.Certificate) -> str:
    """The certificate's SHA-256 fingerprint, as hex pairs, for people to compare."""
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()
