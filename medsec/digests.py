"""SHA-256, HMAC-SHA256 and a constant-time comparison, without OpenSSL.

hashlib and hmac load OpenSSL (`_hashlib`, ~3 ms a process here), and `secrets` another
~2 ms: every command that appends to the audit log or checks a session would pay for them.
The standard library's own SHA-256 (`_sha2` from Python 3.12, `_sha256` before) and the
comparison hmac itself uses (`_operator._compare_digest`) cost nothing to load.
"""

from collections.abc import Callable
from typing import Any

try:
    from _sha2 import sha256 as _sha256  # type: ignore[import-not-found,unused-ignore]  # Python 3.12+
except ImportError:  # pragma: no cover - the Python in use decides
    try:
        from _sha256 import sha256 as _sha256  # type: ignore[import-not-found,no-redef,unused-ignore]
    except ImportError:
        from hashlib import sha256 as _sha256  # type: ignore[assignment,no-redef,unused-ignore]

from _operator import _compare_digest as equal  # noqa: F401  (what hmac.compare_digest is, without OpenSSL)

sha256: Callable[..., Any] = _sha256
_BLOCK = 64  # SHA-256's block size, for HMAC (RFC 2104)
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of `data` in hex."""
    return str(_sha256(data).hexdigest())


def hmac_sha256_hex(key: bytes, data: bytes) -> str:
    """HMAC-SHA256 (RFC 2104) of `data` under `key`, in hex."""
    if len(key) > _BLOCK:
        key = _sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner = _sha256(key.translate(_IPAD) + data).digest()
    return str(_sha256(key.translate(_OPAD) + inner).hexdigest())
