"""One rule for the phone number of an account, wherever one is given or changed (sign-up,
the member's PATCH /api/v1/me, the admin PATCH)."""

import re
from typing import Annotated

from pydantic import AfterValidator

_PHONE = re.compile(r"\+?[0-9]{6,15}")


def account_phone(value: str) -> str:
    """The number without its spaces (`+7 999 123 45 67` -> `+79991234567`) or ValueError:
    an optional `+` and 6 to 15 digits, nothing else (a line break neither)."""
    number = value.replace(" ", "")
    if not _PHONE.fullmatch(number):
        raise ValueError("must be a phone number such as +79991234567")
    return number


AccountPhone = Annotated[str, AfterValidator(account_phone)]
