"""Seals the account arguments of master.cfg for the worker fleet (src/config/sealing.ts is the other half).

X25519 with a fresh key per seal, HKDF-SHA256, AES-256-GCM, the worker name as associated data.
The master holds only the fleet's public key (LATENT_WORKER_SEALING_PUBLIC_KEY): what it seals,
only a worker process opens. docs/credentials.md has the threat model.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PUBLIC_KEY_VARIABLE = "LATENT_WORKER_SEALING_PUBLIC_KEY"
SEALED_PREFIX = "olw-sealed-v1"
INFO = b"openstack-latent-worker sealed credentials v1"


class SealingKeyError(ValueError):
    """No usable public key to seal with; the message says where it is expected."""


def public_key_from_env() -> bytes:
    text = os.environ.get(PUBLIC_KEY_VARIABLE, "").strip()
    if not text:
        raise SealingKeyError(f"{PUBLIC_KEY_VARIABLE} is not set: the master seals the account arguments with the worker fleet's public key (make a pair with: latent-worker sealing-key)")
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise SealingKeyError(f"{PUBLIC_KEY_VARIABLE}: not a base64 X25519 public key of 32 bytes")
    return key


def key_id(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:16]


def seal(plaintext: str, public_key: bytes, worker_name: str) -> str:
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(public_key))
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral_public + public_key, info=INFO).derive(shared)
    nonce = os.urandom(12)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), worker_name.encode("utf-8"))
    b64 = lambda data: base64.b64encode(data).decode("ascii")  # noqa: E731
    return ".".join([SEALED_PREFIX, key_id(public_key), b64(ephemeral_public), b64(nonce), b64(ciphertext)])
