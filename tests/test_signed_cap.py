"""Signed CAP through the public API: an agency with a registered certificate has its signed
messages taken and its unsigned, tampered or wrongly signed ones refused with the reason;
every CAP alert hexcast publishes (alone, public, or inside the Atom feed) verifies with a
stock XML-DSig verifier against the certificate hexcast publishes, and stays valid CAP 1.2."""

import datetime
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import DigestAlgorithm, SignatureMethod, XMLSigner, XMLVerifier, methods
from signxml.exceptions import InvalidSignature

from tests.conftest import ROOT
from tests.helpers import notice_body
from tests.test_cap_api import ATOM, cap_message, post_cap

# The OASIS schema as published, next to the repository, not hexcast's own copy of it.
SHARED_CAP_SCHEMA = etree.XMLSchema(
    etree.parse(str(ROOT / "alerts" / "cap" / "resources" / "cap-1.2.xsd"))
)


def key_and_certificate(key: Any, name: str) -> tuple[bytes, str]:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM).decode()


def sign(document: bytes, key_pem: bytes, cert_pem: str, method: SignatureMethod) -> bytes:
    """What an agency's CAP tool does: an enveloped signature over the whole alert."""
    signer = XMLSigner(
        method=methods.enveloped,
        signature_algorithm=method,
        digest_algorithm=DigestAlgorithm.SHA256,
    )
    return bytes(
        etree.tostring(signer.sign(etree.fromstring(document), key=key_pem, cert=cert_pem))
    )


def new_agency(api: httpx.Client, operator_headers: dict[str, str]) -> tuple[str, dict[str, str]]:
    response = api.post(
        "/v1/operator/agencies", json={"name": "Signing Police"}, headers=operator_headers
    )
    assert response.status_code == 201, response.text
    return response.json()["id"], {"X-API-Key": response.json()["api_key"]}


def register(
    api: httpx.Client, headers: dict[str, str], agency_id: str, pem: str
) -> httpx.Response:
    return api.put(
        f"/v1/operator/agencies/{agency_id}/cap-certificate",
        json={"certificate": pem},
        headers=headers,
    )


def notice_count(api: httpx.Client, headers: dict[str, str]) -> int:
    response = api.get("/v1/notices", headers=headers)
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


def test_an_agency_with_a_certificate_must_sign_its_cap_with_it(
    api: httpx.Client, operator_headers: dict[str, str]
) -> None:
    agency_id, headers = new_agency(api, operator_headers)
    rsa_key, rsa_cert = key_and_certificate(
        rsa.generate_private_key(public_exponent=65537, key_size=2048), "Signing Police"
    )
    unsigned, _ = cap_message("before-registration")
    assert post_cap(api, headers, unsigned).status_code == 201

    registered = register(api, operator_headers, agency_id, rsa_cert)
    assert registered.status_code == 200, registered.text
    assert registered.json()["subject"] == "CN=Signing Police"
    assert len(registered.json()["fingerprint_sha256"].split(":")) == 32
    assert post_cap(api, headers, cap_message("unsigned")[0]).status_code == 422
    assert "must carry" in post_cap(api, headers, cap_message("unsigned")[0]).json()["detail"]

    signed = sign(cap_message("signed")[0], rsa_key, rsa_cert, SignatureMethod.RSA_SHA256)
    accepted = post_cap(api, headers, signed)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["person"]["name"] == "Lily Chen"

    document = sign(cap_message("tampered")[0], rsa_key, rsa_cert, SignatureMethod.RSA_SHA256)
    assert document.count(b"Red coat") == 1
    tampered = post_cap(api, headers, document.replace(b"Red coat", b"Red cost"))
    assert tampered.status_code == 422
    assert tampered.json()["code"] == "cap_signature_refused"
    assert "does not verify" in tampered.json()["detail"]
    assert post_cap(api, headers, document).status_code == 201  # the untouched original

    other_key, other_cert = key_and_certificate(ec.generate_private_key(ec.SECP256R1()), "Other")
    by_another = sign(
        cap_message("another-key")[0], other_key, other_cert, SignatureMethod.ECDSA_SHA256
    )
    assert post_cap(api, headers, by_another).status_code == 422
    assert notice_count(api, headers) == 3

    # ECDSA once the agency's certificate is an EC one; removing it lifts the requirement.
    assert register(api, operator_headers, agency_id, other_cert).status_code == 200
    assert post_cap(api, headers, by_another).status_code == 201
    removed = api.delete(
        f"/v1/operator/agencies/{agency_id}/cap-certificate", headers=operator_headers
    )
    assert removed.status_code == 204
    assert post_cap(api, headers, cap_message("unsigned-again")[0]).status_code == 201


def test_only_admins_register_certificates_and_only_real_ones(
    api: httpx.Client, operator_headers: dict[str, str], reviewer_headers: dict[str, str]
) -> None:
    agency_id, headers = new_agency(api, operator_headers)
    _, cert = key_and_certificate(ec.generate_private_key(ec.SECP256R1()), "Signing Police")
    assert register(api, reviewer_headers, agency_id, cert).status_code == 403
    assert register(api, headers, agency_id, cert).status_code == 403
    assert register(api, operator_headers, str(uuid.uuid4()), cert).status_code == 404
    garbage = register(api, operator_headers, agency_id, "-----BEGIN CERTIFICATE-----\nAAAA\n")
    assert garbage.status_code == 422
    assert garbage.json()["code"] == "certificate_invalid"
    _, small = key_and_certificate(
        rsa.generate_private_key(public_exponent=65537, key_size=1024), "x"
    )
    assert "2048" in register(api, operator_headers, agency_id, small).json()["detail"]
    # Nothing registered: unsigned messages still go through.
    assert post_cap(api, headers, cap_message("still-unsigned")[0]).status_code == 201


def verified(document: bytes | Any, certificate: str) -> Any:
    """The signed alert, checked by signxml's stock verifier against hexcast's certificate."""
    return XMLVerifier().verify(document, x509_cert=certificate).signed_xml


def test_every_alert_hexcast_publishes_is_signed_and_verifies(
    api: httpx.Client, operator_headers: dict[str, str], agency_headers: dict[str, str]
) -> None:
    certificate_response = api.get("/v1/cap/signing-certificate")
    assert certificate_response.status_code == 200
    certificate = certificate_response.text
    assert certificate == Path(os.environ["HEXCAST_CAP_SIGNING_CERT_FILE"]).read_text()
    notice = api.post("/v1/notices", json=notice_body(), headers=agency_headers).json()
    approved = api.post(f"/v1/operator/notices/{notice['id']}/approve", headers=operator_headers)
    assert approved.status_code == 200, approved.text

    for path, headers in (
        (f"/v1/notices/{notice['id']}/cap", agency_headers),
        (f"/v1/feed/notices/{notice['id']}/cap", {}),
    ):
        document = api.get(path, headers=headers).content
        root = etree.fromstring(document)
        assert SHARED_CAP_SCHEMA.validate(root), SHARED_CAP_SCHEMA.error_log
        assert root[-1].tag == "{http://www.w3.org/2000/09/xmldsig#}Signature"
        assert verified(document, certificate).findtext("{*}identifier") == root.findtext(
            "{*}identifier"
        )
        forged = document.replace(notice["person"]["name"].encode(), b"Someone Else")
        assert forged != document
        try:
            verified(forged, certificate)
        except InvalidSignature:
            pass
        else:
            raise AssertionError("a changed alert verified")

    feed = etree.fromstring(api.get("/v1/feed/active.atom").content)
    [entry] = feed.findall("a:entry", ATOM)
    [alert] = entry.find("a:content", ATOM)
    assert SHARED_CAP_SCHEMA.validate(alert), SHARED_CAP_SCHEMA.error_log
    # A receiver takes the alert out of the entry and verifies it as the document it is.
    alone = etree.tostring(alert)
    assert verified(alone, certificate).findtext("{*}identifier") == alert.findtext("{*}identifier")
