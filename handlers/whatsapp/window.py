"""Contacts and the 24-hour customer-service window.

A contact links a user's business-scoped user id (BSUID) and phone number (wa_id) under one user
key and records when they last wrote. Free text may go out for 24 hours after that (less a
margin); outside the window the approved "a reply is waiting" template goes once per gap and the
reply is held (`SendHeld`: the outbox parks the row). When the user writes again, the inbox
transaction that stores their message claims the held rows (`Outbox.release`), which are sent
right after the commit, in order, before the reply to the new message.

`Windows` caches contacts in this process and is trusted only to say "open"; every "closed"
decision reads the database (db/whatsapp_store.py), which stays the truth across processes.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from config import Settings
from core.model import SendFinal, SendHeld, SendRetry
from db import whatsapp_store as store
from db.database import Database
from handlers.whatsapp.graph import GraphClient, recipient, send_error
from handlers.whatsapp.parse import CHANNEL, Inbound

log = logging.getLogger("handlers.whatsapp")

WINDOW = timedelta(hours=24)
# Hold a little before the window closes: a message sent at 23:59:59 may arrive after it.
WINDOW_MARGIN = timedelta(minutes=1)


@dataclass(slots=True)
class Contact:
    """What the window decisions read of a `wa_contacts` row (the cache holds these)."""

    user_key: str
    bsuid: str | None
    wa_id: str | None
    address: str
    last_inbound_at: datetime | None
    window_closed_at: datetime | None
    template_sent_at: datetime | None


class Windows:
    """In-process cache of contacts by address, BSUID and wa_id, filled when a webhook moves a
    window (`Window.link`) or Meta closes one (`Window.close`). It is trusted only to say "open":
    every "closed" decision (hold, template) reads the database, which stays the truth across
    processes. It saves a read transaction per reply and per inbound message."""

    def __init__(self, size: int = 50_000):
        self.size = size
        self._by: OrderedDict[str, Contact] = OrderedDict()

    def put(self, contact: Contact) -> None:
        for key in {contact.address, contact.bsuid, contact.wa_id} - {None}:
            self._by[key] = contact  # type: ignore[index]
            self._by.move_to_end(key)  # type: ignore[arg-type]
        while len(self._by) > self.size:
            self._by.popitem(last=False)

    def get(self, key: str | None) -> Contact | None:
        return self._by.get(key) if key else None

    def forget(self, *keys: str | None) -> None:
        for k in keys:
            if k:
                self._by.pop(k, None)

    def open_for(self, bsuid: str | None, wa_id: str | None, now: datetime) -> bool:
        c = self.get(bsuid) or self.get(wa_id)
        return c is not None and is_open(c, now)


def in_window(
    last_inbound_at: datetime | None, now: datetime, closed_at: datetime | None = None
) -> bool:
    """Free text may go out: the user wrote less than 24 hours ago (less a margin), and Meta has
    not told us since that the window is closed."""
    if last_inbound_at is None or (closed_at is not None and closed_at >= last_inbound_at):
        return False
    return now - last_inbound_at < WINDOW - WINDOW_MARGIN


def is_open(contact, now: datetime) -> bool:
    """`in_window` for a contact (a cached `Contact` or a `wa_contacts` row; None: closed)."""
    return contact is not None and in_window(contact.last_inbound_at, now, contact.window_closed_at)


class Window:
    """Every contact's window: linked when the user writes (`link`, inside the inbox
    transaction), checked before a send (`check`), held outside it (`hold`: the template once per
    gap), closed when Meta says so (`close`), re-opened by the user's next message (the caller
    then releases held rows through the outbox)."""

    def __init__(
        self,
        db: Database,
        outbox,
        api: GraphClient,
        settings: Settings,
        clock: Callable[[], datetime],
        background: Callable[[Any], Any],
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.api = api
        self.clock = clock
        self.background = background  # run a task the channel waits for on shutdown
        self.template_name = settings.whatsapp_template_name
        self.template_language = settings.whatsapp_template_language
        self.cache = Windows()

    # ----------------------------------------------------------------- the user writes

    async def link(
        self, c, m: Inbound, now: datetime
    ) -> tuple[str, str, datetime | None, datetime | None, bool]:
        """The stable user key for this BSUID / wa_id pair (the first one seen names it; the other
        is linked to it), the address to reply to (BSUID when known), the window start, Meta's
        close, and whether this message may have (re)opened the window (False: it was written in
        the second of the message that set the window, which already re-sent held replies)."""
        address = m.bsuid or m.wa_id
        assert address
        sent = min(m.timestamp, now) if m.timestamp else now
        known = self.cache.get(m.bsuid) or self.cache.get(m.wa_id)
        if (
            known is not None
            and known.address == address
            and known.last_inbound_at is not None
            and sent <= known.last_inbound_at
            and (not m.bsuid or m.bsuid == known.bsuid)
            and (not m.wa_id or m.wa_id == known.wa_id)
        ):
            # Written in the same second as (or before) the message that set the window: the
            # full path would change nothing that matters (Meta's timestamps are whole seconds,
            # and a resident tapping quickly sends several in one second).
            return known.user_key, address, known.last_inbound_at, known.window_closed_at, False
        if known is not None:  # the common case, one statement: a known user writes again
            if await store.touch_newer(c, known.user_key, address, m.bsuid, m.wa_id, sent, now):
                self.cache.put(
                    Contact(
                        known.user_key,
                        m.bsuid or known.bsuid,
                        m.wa_id or known.wa_id,
                        address,
                        sent,
                        None,
                        None,
                    )
                )
                return known.user_key, address, sent, None, True
        rows = await store.contacts_by_ids(c, m.bsuid, m.wa_id)
        by_b = next((r for r in rows if m.bsuid and r.bsuid == m.bsuid), None)
        by_w = next((r for r in rows if m.wa_id and r.wa_id == m.wa_id), None)
        row = by_b or by_w
        # The window opens when the user wrote (Meta's timestamp), not when the webhook came:
        # Meta redelivers for days.
        if row is None:
            user_key = f"{CHANNEL}:{address}"
            await store.insert_contact(c, user_key, m.bsuid, m.wa_id, address, sent, now)
            self.cache.put(Contact(user_key, m.bsuid, m.wa_id, address, sent, None, None))
            return user_key, address, sent, None, True
        if by_b is not None and by_w is not None and by_b.user_key != by_w.user_key:
            await store.unlink_wa_id(c, by_w.user_key, now)
            self.cache.forget(by_w.address, by_w.bsuid, by_w.wa_id)
        values: dict[str, Any] = {"address": address, "updated_at": now}
        if m.bsuid and row.bsuid != m.bsuid:
            values["bsuid"] = m.bsuid
        if m.wa_id and row.wa_id != m.wa_id:
            values["wa_id"] = m.wa_id
        last_in = row.last_inbound_at
        template_sent_at = row.template_sent_at
        if last_in is None or sent > last_in:
            values["last_inbound_at"] = last_in = sent
            # the next gap gets its own template
            values["template_sent_at"] = template_sent_at = None
        closed_at = row.window_closed_at
        if closed_at is not None and sent >= closed_at:  # written after Meta closed the window
            values["window_closed_at"] = closed_at = None
        await store.update_contact(c, row.user_key, **values)
        self.cache.put(
            Contact(
                row.user_key,
                values.get("bsuid", row.bsuid),
                values.get("wa_id", row.wa_id),
                address,
                last_in,
                closed_at,
                template_sent_at,
            )
        )
        return row.user_key, address, last_in, closed_at, True

    async def settle_in_flight(self, m: Inbound, now: datetime, timeout: float = 3.0) -> None:
        """When this message may reopen a closed window, let a send to this resident that is in
        flight finish first: it is about to be held, and held replies must be re-queued before
        the answer to this message exists, to keep their order."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            async with self.db.tx(write=False) as c:
                contact = await store.contact_by_ids(c, m.bsuid, m.wa_id)
                if contact is None or is_open(contact, now):
                    return
                busy = await self.outbox.sending(c, CHANNEL, contact.user_key)
            if not busy or asyncio.get_running_loop().time() > deadline:
                return
            await asyncio.sleep(0.02)

    # ----------------------------------------------------------------- before a send

    async def check(self, address: str, now: datetime):
        """The contact to send to when the window is open (the cache, else the database).
        Outside it: the template once per gap, and SendHeld, unless the user wrote meanwhile."""
        contact = self.cache.get(address)
        if not is_open(contact, now):  # not known to be open here: the database decides
            async with self.db.tx(write=False) as c:
                contact = await store.contact_by_address(c, address)
        if not is_open(contact, now):
            contact = await self.hold(address, contact, now)  # raises SendHeld unless reopened
        return contact

    async def close(self, address: str, now: datetime):
        """Meta says the window is closed (131047) although our clock says open: believe Meta,
        so the chat's next messages are held without another round trip. Returns the contact."""
        async with self.db.tx() as c:
            contact = await store.contact_by_address(c, address)
            if contact is not None and is_open(contact, now):
                # whole seconds, like message timestamps: the message that led here is not after
                # it; a later one, even in the same second, is (see `link`)
                await store.close_window(c, contact.user_key, now.replace(microsecond=0))
                contact = await store.contact_by_address(c, address)
        if contact is not None:
            self.cache.forget(contact.address, contact.bsuid, contact.wa_id, address)
        return contact

    async def hold(self, address: str, contact, now: datetime, *, reopened_ok: bool = True):
        """Outside the window: send the template once per gap, then hold this message (raise
        SendHeld). If the resident wrote meanwhile, return their contact: send after all."""
        sent_at = contact.template_sent_at if contact is not None else None
        # Once per gap: a newer message from the user clears template_sent_at (see `link`).
        if sent_at is None:
            template = {"name": self.template_name, "language": {"code": self.template_language}}
            try:
                await self.api.send(recipient(address, contact), "template", template)
            except Exception as e:
                error = send_error(e)
                if isinstance(error, SendRetry):
                    raise error from e
                log.error(
                    "whatsapp: the reply-waiting template was refused (%s); message held",
                    error.reason if isinstance(error, SendFinal) else type(e).__name__,
                )
                raise SendHeld("outside the 24-hour window; template refused") from e
            if contact is not None:
                # Only if the resident has not written meanwhile (their message cleared it).
                async with self.db.tx() as c:
                    await store.template_sent(c, contact.user_key, contact.last_inbound_at, now)
            log.info("whatsapp: outside the 24-hour window; template sent, replies held")
        if contact is not None:
            async with self.db.tx(write=False) as c:
                fresh = await store.contact_by_address(c, address)
            if reopened_ok and is_open(fresh, self.clock()):
                return fresh
            # The webhook may re-queue held rows just before the outbox marks this one held:
            # look again once it is marked, so a message is never left behind.
            self.background(self.recheck(contact.user_key))
        raise SendHeld("outside the 24-hour window; held until the user writes")

    async def recheck(self, user_key: str) -> None:
        """Re-queue held rows if the window is open again (only a message from the resident
        opens it: we held because it was closed) once no row of theirs is being sent."""
        for _ in range(100):
            await asyncio.sleep(0.05)
            now = self.clock()
            async with self.db.tx() as c:
                contact = await store.contact_by_key(c, user_key)
                if contact is None or not is_open(contact, now):
                    return  # still closed: the resident's next message re-queues
                if await self.outbox.sending(c, CHANNEL, user_key):
                    continue
                ids = await self.outbox.requeue_held(c, CHANNEL, user_key, contact.address, now)
            if ids:
                log.info("whatsapp: %d held message(s) re-queued after a race", len(ids))
                self.outbox.notify(ids)
            return

    # ----------------------------------------------------------------- after a send

    async def reengage(self, wamid: str) -> None:
        """A sent message failed with 131047: hold it again and send the template."""
        async with self.db.tx() as c:
            address = await self.outbox.hold(
                c, CHANNEL, wamid, "131047: outside the 24-hour window"
            )
        if address is None:
            return
        now = self.clock()
        try:
            contact = await self.close(address, now)
            await self.hold(address, contact, now, reopened_ok=False)
        except SendHeld:
            pass
        except Exception as exc:  # noqa: BLE001 - the message stays held either way
            log.warning("whatsapp: template after a 131047 failed (%s)", type(exc).__name__)
