"""The keystore on disk: its CA, the signed governance, and node enclaves (identity
certificate, CA and governance links, signed permissions), written with ``cryptography``."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from interseg.security.documents import governance_xml, permissions_xml
from interseg.security.policy import NodeSpec, SecurityError, node_permissions, valid_absolute

PUBLIC, PRIVATE, ENCLAVES = "public", "private", "enclaves"
CA_NAME = "interseg keystore CA"
VALIDITY_DAYS = 3650  # as sros2


# -- certificates and signatures (cryptography) ------------------------------------------------


def _crypto():
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import pkcs7
    except ImportError:
        raise SecurityError("the 'cryptography' package is missing (pip install -r requirements.txt)") from None
    return x509, hashes, serialization, ec, pkcs7


def _key_and_certificate(common_name: str, *, issuer=None, issuer_key=None):
    """A P-256 key (DDS Security's PKI-DH uses prime256v1) and its X.509 certificate: a CA
    (self-signed, may sign one level) when no issuer is given, else an end entity."""
    x509, hashes, _, ec, _ = _crypto()
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    is_ca = issuer is None
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if is_ca else issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=1 if is_ca else None), critical=is_ca)
    )
    certificate = builder.sign(key if is_ca else issuer_key, hashes.SHA256())
    return key, certificate


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _write_key(path: Path, key) -> None:
    _, _, serialization, _, _ = _crypto()
    _write_private(
        path,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def _write_certificate(path: Path, certificate) -> None:
    _, _, serialization, _, _ = _crypto()
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def _load(keystore: Path, kind: str):
    """The keystore's ``kind`` CA (identity or permissions): certificate and private key."""
    x509, _, serialization, _, _ = _crypto()
    certificate = x509.load_pem_x509_certificate((keystore / PUBLIC / f"{kind}_ca.cert.pem").read_bytes())
    key = serialization.load_pem_private_key((keystore / PRIVATE / f"{kind}_ca.key.pem").read_bytes(), None)
    return certificate, key


def _sign(content: bytes, certificate, key) -> bytes:
    """S/MIME with a detached signature over the text, as Fast DDS reads governance and
    permissions documents (what sros2 writes)."""
    _, hashes, serialization, _, pkcs7 = _crypto()
    builder = pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(certificate, key, hashes.SHA256())
    return builder.sign(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.Text, pkcs7.PKCS7Options.DetachedSignature])


def _link(path: Path, target: Path) -> None:
    """A relative symbolic link ``path`` -> ``target``, replacing what was there."""
    relative = os.path.relpath(target, path.parent)
    if path.is_symlink() or path.exists():
        if path.is_symlink() and os.readlink(path) == relative:
            return
        path.unlink()
    path.symlink_to(relative)


# -- keystore and enclaves -------------------------------------------------------------------


def is_keystore(path: Path) -> bool:
    """sros2's is_valid_keystore: both CAs' certificates and keys, and the signed governance."""
    return all(
        (path / p).is_file()
        for p in (
            f"{PUBLIC}/permissions_ca.cert.pem",
            f"{PUBLIC}/identity_ca.cert.pem",
            f"{PRIVATE}/permissions_ca.key.pem",
            f"{PRIVATE}/identity_ca.key.pem",
            f"{ENCLAVES}/governance.p7s",
        )
    )


def default_domain_id() -> int:
    return int(os.environ.get("ROS_DOMAIN_ID", "0") or 0)


def create_keystore(path: Path, domain_id: int) -> None:
    """A new keystore at ``path``: one CA serving as identity and permissions CA, and the
    signed governance for ``domain_id``."""
    if is_keystore(path):
        raise SecurityError(
            f"{path}: already a keystore (its CA signs the existing enclaves; remove the folder to start over)"
        )
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise SecurityError(f"{path}: exists and is not an empty folder")
    for folder in (path, path / PUBLIC, path / ENCLAVES):
        folder.mkdir(parents=True, exist_ok=True)
    (path / PRIVATE).mkdir(mode=0o700, exist_ok=True)
    key, certificate = _key_and_certificate(CA_NAME)
    _write_key(path / PRIVATE / "ca.key.pem", key)
    _write_certificate(path / PUBLIC / "ca.cert.pem", certificate)
    for kind in ("identity", "permissions"):
        _link(path / PUBLIC / f"{kind}_ca.cert.pem", path / PUBLIC / "ca.cert.pem")
        _link(path / PRIVATE / f"{kind}_ca.key.pem", path / PRIVATE / "ca.key.pem")
    governance = governance_xml(domain_id)
    (path / ENCLAVES / "governance.xml").write_bytes(governance)
    (path / ENCLAVES / "governance.p7s").write_bytes(_sign(governance, certificate, key))


def enclave_dir(keystore: Path, enclave: str) -> Path:
    if not valid_absolute(enclave) or enclave == "/":
        raise SecurityError(f"'{enclave}' is not a valid enclave name (an absolute name such as /robot1/capture)")
    return keystore / ENCLAVES / enclave.lstrip("/")


def create_enclave(keystore: Path, spec: NodeSpec, domain_id: int) -> Path:
    """The enclave of one node: identity (kept if it exists), CA and governance links, and the
    node's permissions, signed. Returns its folder."""
    if not is_keystore(keystore):
        raise SecurityError(f"{keystore}: not a keystore (create it with `interseg security keystore {keystore}`)")
    permissions = node_permissions(spec)
    folder = enclave_dir(keystore, spec.enclave_path)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("identity_ca.cert.pem", "permissions_ca.cert.pem"):
        _link(folder / name, keystore / PUBLIC / name)
    _link(folder / "governance.p7s", keystore / ENCLAVES / "governance.p7s")
    x509, _, _, _, _ = _crypto()
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    if cert_path.is_file() and key_path.is_file():
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    else:
        identity_ca, identity_key = _load(keystore, "identity")
        key, certificate = _key_and_certificate(spec.enclave_path, issuer=identity_ca, issuer_key=identity_key)
        _write_key(key_path, key)
        _write_certificate(cert_path, certificate)
    document = permissions_xml(
        spec.enclave_path, permissions, domain_id, certificate.not_valid_before_utc, certificate.not_valid_after_utc
    )
    (folder / "permissions.xml").write_bytes(document)
    permissions_ca, permissions_key = _load(keystore, "permissions")
    (folder / "permissions.p7s").write_bytes(_sign(document, permissions_ca, permissions_key))
    return folder
