"""How the payment provider signs its notifications, in the manner of WeChat Pay v3 and
Stripe's webhooks: HMAC-SHA256 with the secret both sides share, over

    timestamp + "\\n" + nonce + "\\n" + raw body + "\\n"

sent as lowercase hex in `Payment-Signature`, with the timestamp (Unix seconds) in
`Payment-Timestamp` and the nonce in `Payment-Nonce`. A notification more than
`SIGNATURE_WINDOW` away from real time is refused, so a captured one cannot be sent
again later; within the window a replay is harmless, as payments are idempotent by the
provider's transaction id.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

from guideledger.api.auth import NotAuthenticated

SIGNATURE_WINDOW_SECONDS = 5 * 60
TIMESTAMP_HEADER = "Payment-Timestamp"
NONCE_HEADER = "Payment-Nonce"
SIGNATURE_HEADER = "Payment-Signature"
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_NONCE = re.compile(r"[\x21-\x7e]{1,64}")


class SignatureRefused(NotAuthenticated):
    """The notification is not the provider's, or not recent: nothing was recorded."""

    type = "payment-signature-refused"


def signature(secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = b"%s\n%s\n%s\n" % (timestamp.encode(), nonce.encode(), body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, body: bytes, now: float | None = None, nonce: str | None = None
) -> dict[str, str]:
    """The headers the provider sends with `body` (as the tests, demo and bench sign)."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = nonce or secrets.token_hex(16)
    return {
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: signature(secret, timestamp, nonce, body),
        "Content-Type": "application/json",
    }


def verify(
    secret: str,
    timestamp: str | None,
    nonce: str | None,
    sent_signature: str | None,
    body: bytes,
    now: float,
) -> None:
    """Refuses a notification whose signature is missing or wrong, or whose timestamp is
    more than `SIGNATURE_WINDOW_SECONDS` from `now` (real time, Unix seconds)."""
    if timestamp is None or nonce is None or sent_signature is None:
        raise SignatureRefused(f"send {TIMESTAMP_HEADER}, {NONCE_HEADER} and {SIGNATURE_HEADER}")
    if not _TIMESTAMP.fullmatch(timestamp) or not _NONCE.fullmatch(nonce):
        raise SignatureRefused(
            f"{TIMESTAMP_HEADER} is Unix seconds and {NONCE_HEADER} 1 to 64 visible characters"
        )
    expected = signature(secret, timestamp, nonce, body)
    if not hmac.compare_digest(expected.encode(), sent_signature.encode("latin-1", "replace")):
        raise SignatureRefused("the signature does not match the notification")
    if abs(now - int(timestamp)) > SIGNATURE_WINDOW_SECONDS:
        raise SignatureRefused(
            f"the notification's timestamp is more than {SIGNATURE_WINDOW_SECONDS} s "
            "from the present",
            timestamp=int(timestamp),
        )
