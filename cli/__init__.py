"""Staff commands beyond the core ones in bot.py (`kube ...`, `training ...`, `reports ...`).

A module here has `add_parsers(sub)`, which adds its argparse sub-commands and sets
`handler=<async fn(settings, args) -> int>` on each with `set_defaults`. bot.py calls the handler
inside asyncio.run; a `ConfigProblem` or a `CommandError` becomes a one-line message and exit 2/1.
Output for staff is in Bahasa Indonesia; NIK is masked unless a command says otherwise.
"""
from __future__ import annotations

MODULES: tuple[str, ...] = ("cli.staff", "cli.kube", "cli.uep", "cli.training", "cli.reports",
                            "cli.rt")  # dotted module names


class CommandError(Exception):
    """A staff mistake (unknown id, wrong state): printed as one line, exit status 1."""


def add_all(sub) -> None:
    import importlib

    for name in MODULES:
        importlib.import_module(name).add_parsers(sub)
