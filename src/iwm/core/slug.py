"""URL slugs from names: lower-case ASCII words joined by dashes (Cyrillic transliterated)."""

import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9]+")
_CYRILLIC = {
    letter: ("" if latin == "-" else latin)
    for letter, latin in zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        [
            "a",
            "b",
            "v",
            "g",
            "d",
            "e",
            "e",
            "zh",
            "z",
            "i",
            "y",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "kh",
            "ts",
            "ch",
            "sh",
            "shch",
            "-",
            "y",
            "-",
            "e",
            "yu",
            "ya",
        ],
        strict=True,
    )
}


def slugify(name: str, max_length: int = 200) -> str:
    lowered = "".join(_CYRILLIC.get(ch, ch) for ch in name.lower())
    ascii_name = unicodedata.normalize("NFKD", lowered).encode("ascii", "ignore").decode()
    slug = _NON_WORD.sub("-", ascii_name).strip("-")
    return slug[:max_length].rstrip("-") or "item"


def first_free(base: str, taken: set[str]) -> str:
    """`base`, or `base-2`, `base-3`, ... whichever is not in `taken`."""
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"
