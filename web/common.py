"""Small things several dashboard pages share."""
from __future__ import annotations

CHANNEL_NAMES = {"tg": "Telegram", "wa": "WhatsApp", "console": "Terminal", "web": "Simulator"}
