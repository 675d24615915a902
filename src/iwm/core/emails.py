"""One rule for the email address of an account, wherever one is made or changed (the
admin PATCH, `iwm create-user`, the demo data, the member API)."""

from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator

# Special-use top-level names of local networks and tests (RFC 6761/6762), which
# email-validator refuses as not globally deliverable. `.invalid`, `.onion` and `.arpa`
# stay refused.
_LOCAL_USE = frozenset({"local", "localhost", "test"})
# A syntactically neutral top-level label that stands in for one of those while the
# syntax is checked.
_STAND_IN = "com"


def account_email(value: str) -> str:
    """The address normalised (trimmed, lower-case) or ValueError with the reason.

    Syntax by email-validator, no DNS lookup. Unlike its default (and pydantic's
    `EmailStr`), addresses under `.local`, `.localhost` and `.test` are accepted: internal
    deployments and the demo data use them, and an account only needs an address its owner
    signs in with. The domain needs at least one dot."""
    text = value.strip()
    local, at, domain = text.rpartition("@")
    head, dot, last = domain.rpartition(".")
    special = bool(at and dot and head) and last.lower() in _LOCAL_USE
    checked = f"{local}@{head}.{_STAND_IN}" if special else text
    try:
        result = validate_email(checked, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    normalized = result.normalized
    if special:
        normalized = f"{normalized.removesuffix('.' + _STAND_IN)}.{last}"
    return normalized.lower()


AccountEmail = Annotated[str, AfterValidator(account_email)]
