"""The dashboard's simulator channel ("web"): staff chat as a resident in the browser
(web/simulator.py has the pages). Its transport sends nothing anywhere: it keeps each simulated
resident's recent log in memory (bounded: `MAX_USERS` residents, `MAX_LINES` lines each, least
recently used dropped first). A restart empties the logs; the conversations stay in the database,
labelled by their channel. The pages find it as the outbox's transport of channel "web"."""

from __future__ import annotations

from collections import OrderedDict, deque

from handlers.plugin import ChannelPlugin, LocalChannel, Wiring

CHANNEL = "web"
MAX_USERS = 200
MAX_LINES = 200


class WebTransport:
    """The "web" channel: keeps what the bot sends to each simulated resident (in memory)."""

    channel = CHANNEL
    rate_global = 1e9
    rate_per_chat = 1e9

    def __init__(self, max_users: int = MAX_USERS, max_lines: int = MAX_LINES):
        self.max_users, self.max_lines = max_users, max_lines
        self.logs: OrderedDict[str, deque] = OrderedDict()
        self._n = 0

    def _log(self, address: str) -> deque:
        log = self.logs.get(address)
        if log is None:
            log = self.logs[address] = deque(maxlen=self.max_lines)
            while len(self.logs) > self.max_users:
                self.logs.popitem(last=False)
        self.logs.move_to_end(address)
        return log

    def add_resident(self, address: str, text: str) -> None:
        self._log(address).append(("resident", {"text": text}))

    def lines(self, address: str) -> list[tuple[str, dict]]:
        return list(self.logs.get(address, ()))

    async def send(self, address: str, payload: dict) -> str | None:
        self._n += 1
        self._log(address).append(("bot", payload))
        return f"web-{self._n}"


def _build(w: Wiring) -> LocalChannel:
    return LocalChannel(WebTransport())


# Always on: the simulator is part of the dashboard.
PLUGIN = ChannelPlugin(key=CHANNEL, label="Simulator", enabled=lambda s: True, build=_build)
