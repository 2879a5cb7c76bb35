"""X.509 plumbing and the file CA, without a database."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, SignatureAlgorithmOID

from certificates import pki
from certificates.signers import FileCASigner, SigningError

from .pkitools import CPO, ec_key, make_ca, make_csr, make_leaf, name, pem, rsa_key, write_ca_files

# --- CSRs ------------------------------------------------------------------------------------------------


def test_inspect_csr_reports_subject_key_and_fingerprint():
    text, key = make_csr("CP-1")
    info = pki.inspect_csr(text)
    assert info.common_names == ["CP-1"] and info.organizations == [CPO]
    assert info.subject == f"CN=CP-1,O={CPO}"
    assert info.key_type == "EC secp256r1" and info.signature_valid and info.key_weakness is None
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert info.fingerprint == hashlib.sha256(der).hexdigest()


@pytest.mark.parametrize("text, reason", [
    ("hello", "not a PEM certificate signing request"),
    ("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", "the CSR cannot be parsed"),
])
def test_malformed_csr_is_refused_with_a_reason(text, reason):
    with pytest.raises(pki.PKIError, match=reason):
        pki.inspect_csr(text)


def test_two_csrs_in_one_text_are_refused():
    text, _ = make_csr("CP-1")
    with pytest.raises(pki.PKIError, match="more than one CSR"):
        pki.load_csr(text + text)


def test_a_csr_signed_by_another_key_does_not_verify():
    text, _ = make_csr("CP-1")
    other, _ = make_csr("CP-1")
    # The request info of one CSR with the signature of the other.
    first, second = x509.load_pem_x509_csr(text.encode()), x509.load_pem_x509_csr(other.encode())
    forged_der = first.tbs_certrequest_bytes
    der = second.public_bytes(serialization.Encoding.DER)
    tampered = der.replace(second.tbs_certrequest_bytes, forged_der)
    forged = x509.load_der_x509_csr(tampered).public_bytes(serialization.Encoding.PEM).decode()
    assert pki.inspect_csr(forged).signature_valid is False


def test_weak_keys_are_named():
    text, _ = make_csr("CP-1", key=rsa_key(1024))
    assert pki.inspect_csr(text).key_weakness == "RSA 1024 key is shorter than 2048 bits"
    text, _ = make_csr("CP-1", key=rsa_key(2048))
    assert pki.inspect_csr(text).key_weakness is None


# --- Hash data (RFC 6960 CertID) ---------------------------------------------------------------------------


def test_hash_data_follows_rfc_6960_and_the_whitepaper_serial_format():
    root, root_key = make_ca(serial=4095)
    data = pki.hash_data(root, root, "SHA256")
    point = root_key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert data.issuer_name_hash == hashlib.sha256(root.issuer.public_bytes()).hexdigest()
    assert data.issuer_key_hash == hashlib.sha256(point).hexdigest()  # the key's bits, without tag and length
    assert data.serial_number == "FFF"
    sha384 = pki.hash_data(root, root, "SHA384")
    assert sha384.hash_algorithm == "SHA384" and len(sha384.issuer_key_hash) == 96


def test_hash_data_comparison_ignores_case_and_leading_zeroes():
    a = pki.HashData("SHA256", "ABCD", "EF01", "0FFF")
    assert a.same_certificate(pki.HashData("SHA256", "abcd", "ef01", "fff"))
    assert not a.same_certificate(pki.HashData("SHA384", "abcd", "ef01", "fff"))
    assert not a.same_certificate(pki.HashData("SHA256", "abcd", "ef02", "fff"))
    assert a.same_certificate(pki.HashData("SHA256", "abcd", "", "FFF"))  # key hash unknown yet


def test_issuer_is_found_for_a_sub_ca():
    root, root_key = make_ca()
    sub, _ = make_ca("Sub CA", issuer=root, issuer_key=root_key)
    assert pki.find_issuer(root, []) is root
    assert pki.find_issuer(sub, [root]) is root
    assert pki.find_issuer(sub, []) is None


# --- The file CA --------------------------------------------------------------------------------------------


@pytest.fixture
def ca_chain(tmp_path):
    root, root_key = make_ca("Test Root CA")
    issuing, issuing_key = make_ca("Test Issuing CA", key=rsa_key(), issuer=root, issuer_key=root_key)
    return root, issuing, issuing_key, tmp_path


def test_file_ca_issues_a_tls_client_certificate_for_the_csr(ca_chain):
    root, issuing, issuing_key, directory = ca_chain
    cert_file, key_file = write_ca_files(directory, [issuing, root], issuing_key)
    text, station_key = make_csr("CP-42")
    chain = pki.load_certificates(FileCASigner(cert_file=cert_file, key_file=key_file).sign(
        csr=x509.load_pem_x509_csr(text.encode()), station_id="CP-42"))
    leaf = chain[0]
    assert [c.subject for c in chain[1:]] == [issuing.subject]  # sub-CAs, never the root the station holds
    leaf.verify_directly_issued_by(issuing)
    issuing.verify_directly_issued_by(root)
    assert leaf.signature_algorithm_oid == SignatureAlgorithmOID.RSASSA_PSS  # A00.FR.505
    assert pki.public_key_fingerprint(leaf.public_key()) == pki.public_key_fingerprint(station_key.public_key())
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP-42"
    assert leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == CPO
    extensions = leaf.extensions
    assert extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert list(extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    usage = extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.key_agreement
    assert not usage.value.key_encipherment and not usage.value.key_cert_sign
    with pytest.raises(x509.ExtensionNotFound):
        extensions.get_extension_for_class(x509.SubjectAlternativeName)  # A00.FR.511
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert timedelta(days=365) <= lifetime <= timedelta(days=365, minutes=6)
    assert leaf.serial_number > 0


def test_file_ca_gives_an_rsa_key_key_encipherment_and_can_sign_pkcs1(ca_chain):
    root, issuing, issuing_key, directory = ca_chain
    cert_file, key_file = write_ca_files(directory, [issuing], issuing_key)
    text, _ = make_csr("CP-RSA", key=rsa_key())
    signer = FileCASigner(cert_file=cert_file, key_file=key_file, rsa_padding="pkcs1v15", validity_days=30)
    leaf = pki.load_certificates(signer.sign(csr=x509.load_pem_x509_csr(text.encode()), station_id="CP-RSA"))[0]
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_encipherment and not usage.key_agreement
    assert leaf.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
    issuing.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes, padding.PKCS1v15(),
                                leaf.signature_hash_algorithm)
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc <= timedelta(days=30, minutes=6)


def test_file_ca_never_outlives_its_own_certificate(tmp_path):
    root, key = make_ca(days=10)
    cert_file, key_file = write_ca_files(tmp_path, [root], key)
    text, _ = make_csr("CP-1")
    leaf = pki.load_certificates(FileCASigner(cert_file=cert_file, key_file=key_file).sign(
        csr=x509.load_pem_x509_csr(text.encode()), station_id="CP-1"))[0]
    assert leaf.not_valid_after_utc == root.not_valid_after_utc


def test_file_ca_refuses_a_key_of_another_certificate_and_an_expired_ca(tmp_path):
    root, _ = make_ca()
    cert_file, key_file = write_ca_files(tmp_path, [root], ec_key())
    csr = x509.load_pem_x509_csr(make_csr("CP-1")[0].encode())
    with pytest.raises(SigningError, match="does not belong"):
        FileCASigner(cert_file=cert_file, key_file=key_file).sign(csr=csr, station_id="CP-1")
    expired, key = make_ca(days=1, not_before=datetime.now(UTC) - timedelta(days=3))
    cert_file, key_file = write_ca_files(tmp_path, [expired], key)
    with pytest.raises(SigningError, match="expired"):
        FileCASigner(cert_file=cert_file, key_file=key_file).sign(csr=csr, station_id="CP-1")
    with pytest.raises(SigningError, match="cannot be read"):
        FileCASigner(cert_file=str(tmp_path / "missing.pem"), key_file=key_file).sign(csr=csr, station_id="CP-1")


def test_a_leaf_is_not_a_ca():
    root, key = make_ca()
    leaf = make_leaf(name("CP-1"), ec_key().public_key(), root, key)
    assert pki.is_ca(leaf) is False and pki.is_ca(root) is True
    assert pki.load_certificate(pem(leaf)).serial_number == leaf.serial_number
