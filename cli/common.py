"""Shared plumbing for staff commands: reference data, a database, the clock."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import datetime

from core.deps import Deps
from db.database import Database
from domain.clock import wib as _wib


def wib(when: datetime) -> str:
    return _wib(when, "%Y-%m-%d %H:%M WIB")


@asynccontextmanager
async def staff_env(settings):
    """(programs, region, database, deps) for one command; the database is closed afterwards."""
    from core.reference import load_reference

    programs, region = load_reference(settings.jaring_programs, settings.jaring_region)
    db = Database(settings.database_url)
    deps = Deps(
        programs,
        region,
        settings.jaring_default_locale,
        settings.jaring_hash_key.get_secret_value().encode(),
    )
    try:
        yield programs, region, db, deps
    finally:
        await db.dispose()


def add_review_commands(
    sub, name: str, help: str, *, handlers, helps: dict[str, str], statuses: str
) -> None:
    """`NAME list [--status S] | show ID | approve ID | reject ID --reason "..."`: the commands
    staff use to decide on proposals (KUBE groups, UEP applications). `handlers` is the module
    with cmd_list, cmd_show, cmd_approve and cmd_reject."""
    p = sub.add_parser(name, help=help)
    cmds = p.add_subparsers(dest=f"{name}_cmd", required=True)
    p_list = cmds.add_parser("list", help=helps["list"])
    p_list.add_argument("--status", default=None, help=statuses)
    p_list.set_defaults(handler=handlers.cmd_list)
    for cmd, fn in (
        ("show", handlers.cmd_show),
        ("approve", handlers.cmd_approve),
        ("reject", handlers.cmd_reject),
    ):
        c = cmds.add_parser(cmd, help=helps[cmd])
        c.add_argument("id", type=int)
        if cmd == "reject":
            c.add_argument("--reason", required=True)
        c.set_defaults(handler=fn)
