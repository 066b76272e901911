"""Which addresses webhooks may go to, and the settings that sign hexcast's CAP."""

import ipaddress

import pytest
from pydantic import ValidationError

from alerts.cap.signatures import CertificateInvalid, development_identity, read_certificate
from alerts.webhooks.destinations import allowed, is_public
from kit.config import Settings


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.251",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "ff02::1",
    ],
)
def test_inside_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_are(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def test_the_allow_list_lets_its_networks_through_and_no_others() -> None:
    networks = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("fd00::/8")]
    assert allowed(ipaddress.ip_address("127.0.0.1"), networks)
    assert allowed(ipaddress.ip_address("fd12::1"), networks)
    assert not allowed(ipaddress.ip_address("10.0.0.1"), networks)
    assert not allowed(ipaddress.ip_address("169.254.169.254"), networks)


def test_a_signing_key_needs_its_certificate_and_production_needs_both() -> None:
    with pytest.raises(ValidationError, match="together"):
        Settings(cap_signing_key_file="key.pem", cap_signing_cert_file=None)
    with pytest.raises(ValidationError, match="HEXCAST_CAP_SIGNING_KEY_FILE"):
        Settings(
            environment="production",
            operator_token="a-production-token-of-at-least-32-characters",
            fcm_endpoint="https://fcm.googleapis.com",
            password_hash_log2_n=15,
            cap_signing_key_file=None,
            cap_signing_cert_file=None,
        )


def test_a_certificate_is_read_or_refused_with_the_reason() -> None:
    certificate = read_certificate(development_identity("Agency").cert_pem.decode())
    assert certificate.subject.rfc4514_string() == "CN=Agency"
    with pytest.raises(CertificateInvalid, match=r"not a PEM X\.509 certificate"):
        read_certificate("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
