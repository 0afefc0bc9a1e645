"""What flows need from outside, handed in by the composition root (bot.py)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from domain.programs import ProgramsConfig
from domain.region import Region


@dataclass(frozen=True)
class Deps:
    programs: ProgramsConfig
    region: Region
    default_locale: str = "id"
    hash_key: bytes = b"jaring-dev-key-change-me"
    # The dashboard's public base URL (JARING_PUBLIC_URL), for links in staff alerts; "" = paths only.
    public_url: str = ""

    def nik_hash(self, nik: str) -> str:
        """Keyed hash, so attempt counting per NIK stores no NIK."""
        return hmac.new(self.hash_key, nik.encode(), hashlib.sha256).hexdigest()
