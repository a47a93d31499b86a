"""Endpoint API keys, encrypted at rest with keys from the environment (``MEDGOV_ENCRYPTION_KEYS``).

The first key encrypts; every key decrypts, so keys rotate by prepending a new one and running
``manage.py rotate_endpoint_keys``. Without configured keys (development, demo) a key is derived
from SECRET_KEY; production settings warn about that in ``check --deploy``.
"""

import base64
import hashlib
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# cryptography is imported when a key is first used: ~6 MB that a worker auditing a keyless endpoint
# (a local vLLM or Ollama) does not need in each of its processes.


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str):
    from cryptography.fernet import Fernet, MultiFernet

    if not keys:
        derived = base64.urlsafe_b64encode(hashlib.sha256(f"medgov-endpoint-keys:{secret_key}".encode()).digest())
        return MultiFernet([Fernet(derived)])
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            "MEDGOV_ENCRYPTION_KEYS must be comma-separated Fernet keys "
            "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
        ) from None


def fernet():
    return _fernet(tuple(settings.MEDGOV_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt_secret(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode() if plaintext else ""


class SecretUnavailable(Exception):
    """The stored secret cannot be decrypted with the configured keys."""


def decrypt_secret(token: str) -> str:
    if not token:
        return ""
    from cryptography.fernet import InvalidToken

    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnavailable("the stored API key cannot be decrypted with MEDGOV_ENCRYPTION_KEYS") from None


def rotate_secret(token: str) -> str:
    return fernet().rotate(token.encode()).decode() if token else ""
