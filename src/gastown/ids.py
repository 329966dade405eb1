"""Bead and convoy ids: a town prefix and a short base36 hash, longer as the town grows.

The hash length is the smallest (from 5) that keeps the birthday-bound chance of any collision
among the town's ids under a quarter; a collision that happens anyway is retried with new
nonces, then one character longer. Children of a bead are `PARENT.1`, `PARENT.2`, ...
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
MIN_LENGTH = 5
MAX_LENGTH = 12
COLLISION_BOUND = 0.25
PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,15}$")
ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*")
"""Any id a bead or convoy may have, ours or bd's: letters, digits, `-` and `_`, in parts
joined by dots (`gt-4k2x9`, `bd-main-idj`, `gt-4k2x9.1`); never a path."""
MAX_ID_LENGTH = 100


def base36(number: int) -> str:
    """`number` in base 36 (digits and lowercase letters), no leading zeros."""
    digits = []
    while number:
        number, rem = divmod(number, 36)
        digits.append(ALPHABET[rem])
    return "".join(reversed(digits)) or "0"


def hash_length(count: int) -> int:
    """Shortest length whose collision chance over `count + 1` ids stays under the bound."""
    n = count + 1
    for length in range(MIN_LENGTH, MAX_LENGTH):
        if 1 - math.exp(-(n * n) / (2 * 36**length)) <= COLLISION_BOUND:
            return length
    return MAX_LENGTH


def candidate(prefix: str, seed: str, nonce: int, length: int) -> str:
    """One id candidate: sha256 of the seed and nonce, base36, the last `length` characters."""
    digest = hashlib.sha256(f"{seed}|{nonce}".encode()).digest()
    text = base36(int.from_bytes(digest[:8], "big")).rjust(length, "0")
    return f"{prefix}-{text[-length:]}"


def candidates(prefix: str, seed: str, count: int) -> Iterator[str]:
    """Ids to try in order for one new record: 10 nonces at each length, growing."""
    length = hash_length(count)
    while length <= MAX_LENGTH:
        for nonce in range(10):
            yield candidate(prefix, seed, nonce, length)
        length += 1


def valid_id(text: str) -> bool:
    """Whether `text` can be a bead or convoy id (an imported one too)."""
    return len(text) <= MAX_ID_LENGTH and ID_RE.fullmatch(text) is not None


def valid_prefix(prefix: str) -> bool:
    """Whether `prefix` may start the town's ids."""
    return bool(PREFIX_RE.match(prefix))
