"""The signature and encryption primitives the providers publish, on ``cryptography``.

RSA signatures are PKCS#1 v1.5 (deterministic: the same key and message always give the same
bytes, which the interop tests compare with the providers' own SDKs byte for byte).
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def new_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    """PKCS#8 ``BEGIN PRIVATE KEY`` (what wechatpayv3 and python-alipay-sdk both load)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _pem(text: str, kind: str) -> bytes:
    """Accept a PEM, or a bare base64 body as the providers' consoles hand keys out."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        return text.encode()
    return f"-----BEGIN {kind}-----\n{text}\n-----END {kind}-----\n".encode()


def load_private(text: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(_pem(text, "PRIVATE KEY"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def load_public(text: str) -> rsa.RSAPublicKey:
    data = _pem(text, "PUBLIC KEY")
    key: object
    if b"BEGIN CERTIFICATE" in data:
        from cryptography import x509

        key = x509.load_pem_x509_certificate(data).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def rsa_sign(key: rsa.RSAPrivateKey, message: bytes, algorithm: str = "sha256") -> str:
    """Base64 of SHA256withRSA (or SHA1withRSA) PKCS#1 v1.5 over ``message``."""
    digest = hashes.SHA256() if algorithm == "sha256" else hashes.SHA1()  # noqa: S303
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), digest)).decode()


def rsa_verify(
    key: rsa.RSAPublicKey, message: bytes, signature: str, algorithm: str = "sha256"
) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    digest = hashes.SHA256() if algorithm == "sha256" else hashes.SHA1()  # noqa: S303
    try:
        key.verify(raw, message, padding.PKCS1v15(), digest)
    except InvalidSignature:
        return False
    return True


def aes_gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> str:
    """Base64 of AEAD_AES_256_GCM ciphertext with its 16-byte tag appended (WeChat Pay v3)."""
    return base64.b64encode(AESGCM(key).encrypt(nonce, plaintext, aad or None)).decode()


def aes_gcm_decrypt(key: bytes, nonce: bytes, ciphertext_b64: str, aad: bytes) -> bytes | None:
    """The plaintext, or None when the tag does not verify (tampered, or the wrong key)."""
    try:
        data = base64.b64decode(ciphertext_b64, validate=True)
        return AESGCM(key).decrypt(nonce, data, aad or None)
    except (InvalidTag, binascii.Error, ValueError):
        return None


def issue_cert(
    common_name: str,
    key: rsa.RSAPrivateKey,
    issuer_name: str,
    issuer_key: rsa.RSAPrivateKey,
    *,
    serial: int,
    days: int = 3650,
    ca: bool = False,
) -> str:
    """A PEM X.509 certificate (for emulators and tests: UnionPay signs with certificates)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()
