"""The kiosk's TLS: the practice's certificate, or one medsec makes and keeps (`--self-signed`).

A generated certificate is self-signed (a CA of its own, so that an iPad or an Android tablet
may be told to trust it: README, "Serving the kiosk"), an ECDSA P-256 key, valid 825 days, its
subject alternative names the host the kiosk serves on (for a wildcard host: this machine's
name and addresses). It is kept with the key in the data directory's cache (`cache/kiosk/`,
written private and, in a practice encrypted at rest, encrypted) and reused while it lasts,
so the tablets trust it once (a new one is made when the machine's names or addresses are no
longer all in it); its SHA-256 fingerprint is printed at every start for the IT person to compare
with what the tablet shows.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import tempfile
from datetime import UTC, datetime, timedelta
from typing import Any

from medsec.digests import sha256_hex
from medsec.errors import InvalidInput

OWNER = "kiosk"
DAYS = 825  # the longest validity Apple's platforms accept for a server certificate


def _names(host: str) -> list[str]:
    """The names and addresses a certificate for `host` covers."""
    if host not in ("0.0.0.0", "::", ""):
        return [host]
    names = [socket.gethostname(), "localhost", "127.0.0.1"]
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: only the route's source address is read
            names.append(probe.getsockname()[0])
    except OSError:
        pass
    return list(dict.fromkeys(names))


def _label(host: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "_", host or "any")[:60] or "any"


def _generate(names: list[str]) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) of a new self-signed certificate for `names`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "medsec kiosk")])
    alt: list[Any] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    now = datetime.now(UTC)  # the tablet checks validity against real time, not the practice clock
    public = key.public_key()
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=DAYS))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _still_valid(cert_pem: bytes) -> bool:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        return False
    return cert.not_valid_after_utc > datetime.now(UTC) + timedelta(days=7)


def _covers(cert_pem: bytes, names: list[str]) -> bool:
    """Whether the certificate names every one of `names` (a machine whose address changed needs a
    new one: the tablets would refuse the old)."""
    from cryptography import x509

    try:
        alt = x509.load_pem_x509_certificate(cert_pem).extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    held = {str(n) for n in alt.get_values_for_type(x509.DNSName)} \
        | {str(a) for a in alt.get_values_for_type(x509.IPAddress)}
    return set(names) <= held


def fingerprint(cert_pem: bytes) -> str:
    """The certificate's SHA-256 fingerprint as tablets show it (AB:CD:...)."""
    import ssl

    digest = sha256_hex(ssl.PEM_cert_to_DER_cert(cert_pem.decode("ascii")))
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2)).upper()


def self_signed(data_dir: str, host: str) -> tuple[bytes, bytes, str]:
    """(certificate PEM, key PEM, path of the certificate) for `host`: the one kept, or a new one."""
    from medsec.plugin_api import read_cache_file, write_cache_file

    label = _label(host)
    cert_name, key_name = f"tls-{label}.crt", f"tls-{label}.key"
    cert_pem, key_pem = read_cache_file(data_dir, OWNER, cert_name), read_cache_file(data_dir, OWNER, key_name)
    names = _names(host)
    if cert_pem is None or key_pem is None or not _still_valid(cert_pem) or not _covers(cert_pem, names):
        cert_pem, key_pem = _generate(names)
        write_cache_file(data_dir, OWNER, key_name, key_pem)
        write_cache_file(data_dir, OWNER, cert_name, cert_pem)
    return cert_pem, key_pem, os.path.join(data_dir, "cache", OWNER, cert_name)


def server_context(cert_pem: bytes, key_pem: bytes):
    """An ssl.SSLContext serving the certificate (TLS 1.2 at least). ssl loads a chain from files
    only: the PEMs pass through an anonymous in-memory file (Linux), else a private temporary
    file removed at once."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    memory = hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd")
    if memory:
        fd = os.memfd_create("medsec-kiosk", getattr(os, "MFD_CLOEXEC", 0))
        path = f"/proc/self/fd/{fd}"
    else:
        fd, path = tempfile.mkstemp(prefix="medsec-kiosk-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(key_pem + b"\n" + cert_pem)
            out.flush()
            if memory:
                context.load_cert_chain(path)
        if not memory:
            context.load_cert_chain(path)
    except (ssl.SSLError, ValueError) as e:
        raise InvalidInput(f"the certificate and key do not load: {e}",
                           hint="--cert a PEM certificate (chain) and --key its PEM key, unencrypted") from None
    finally:
        if not memory:
            os.unlink(path)
    return context


def given(cert: str, key: str) -> tuple[bytes, bytes]:
    """The practice's own certificate and key files (PEM)."""
    from medsec.inputs import ATTACHMENT, open_input

    out = []
    for path in (cert, key):
        with open_input(path, ATTACHMENT) as f:
            out.append(f.read())
    return out[0], out[1]
