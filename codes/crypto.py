"""Encryption at rest and keyed digests for code values.

* Values are encrypted with AES-256-GCM under the first key of
  `CODES_ENCRYPTION_KEYS` with a random 96-bit nonce per code; the seller id is
  bound in as associated data, so a ciphertext copied onto another seller's row
  does not decrypt. Every listed key decrypts, which makes rotation possible:
  put the new key first, run `manage.py rotate_code_keys`, then drop the old one.
* Lookups and dedupe use HMAC-SHA256 of the normalised value under
  `CODES_DIGEST_KEY`. That key is long-lived (rotating it means re-hashing every
  code, which `rotate_code_keys --rehash` does).

Nothing here logs or raises with a code value in the message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

NONCE_BYTES = 12


class KeyringError(Exception):
    pass


class DecryptionError(Exception):
    """A stored ciphertext could not be decrypted (wrong key or tampered row)."""


@dataclass(frozen=True)
class Keyring:
    primary_id: int
    ciphers: dict[int, AESGCM]
    digest_key: bytes

    def encrypt(self, value: str, *, seller_id: int) -> tuple[bytes, int]:
        return self.seal(value.encode("utf-8"), aad=seller_id.to_bytes(8, "big"))

    def decrypt(self, blob: bytes, *, key_id: int, seller_id: int) -> str:
        plain = self.open(blob, key_id=key_id, aad=seller_id.to_bytes(8, "big"))
        return plain.decode("utf-8")

    def seal(self, data: bytes, *, aad: bytes) -> tuple[bytes, int]:
        """AES-GCM under the primary key with a fresh nonce: (nonce + ciphertext, key id).
        `aad` binds the result to its context (a seller, an upload's chunk)."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self.ciphers[self.primary_id].encrypt(
            nonce, data, aad
        ), self.primary_id

    def open(self, blob: bytes, *, key_id: int, aad: bytes) -> bytes:
        cipher = self.ciphers.get(key_id)
        if cipher is None:
            raise DecryptionError(f"no configured key has id {key_id}")
        blob = bytes(blob)
        try:
            return cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except Exception as e:  # InvalidTag: never echo the data
            raise DecryptionError("ciphertext failed authentication") from e

    def digest(self, normalised_value: str) -> bytes:
        return hmac.digest(self.digest_key, normalised_value.encode("utf-8"), "sha256")


def key_id_for(key: bytes) -> int:
    """A stable 31-bit id for a key, stored next to each ciphertext."""
    return (
        int.from_bytes(hashlib.sha256(b"distribly-key-id:" + key).digest()[:4], "big")
        & 0x7FFFFFFF
    )


def _decode_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise KeyringError(
            "CODES_ENCRYPTION_KEYS entries must be base64-encoded 32-byte keys"
        ) from e
    if len(key) != 32:
        raise KeyringError(
            f"CODES_ENCRYPTION_KEYS entries must decode to 32 bytes (one decodes to {len(key)})"
        )
    return key


def build_keyring(keys: list[str], digest_key: str) -> Keyring:
    if not keys:
        raise KeyringError("CODES_ENCRYPTION_KEYS is empty")
    decoded = [_decode_key(k) for k in keys]
    ciphers = {key_id_for(k): AESGCM(k) for k in decoded}
    return Keyring(
        primary_id=key_id_for(decoded[0]),
        ciphers=ciphers,
        digest_key=hashlib.sha256(b"distribly-digest:" + digest_key.encode()).digest(),
    )


@lru_cache(maxsize=4)
def _cached(keys: tuple[str, ...], digest_key: str) -> Keyring:
    return build_keyring(list(keys), digest_key)


def get_keyring() -> Keyring:
    return _cached(tuple(settings.CODES_ENCRYPTION_KEYS), settings.CODES_DIGEST_KEY)


def generate_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()
