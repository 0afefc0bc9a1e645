"""The reference data every command and the service load at start: programs and the region."""

from __future__ import annotations

from pathlib import Path

from domain.programs import ConfigError, ProgramsConfig, load_programs
from domain.region import Region, RegionError, load_region


class ConfigProblem(Exception):
    """programs.toml or the region file is wrong: one line per mistake."""


def load_reference(programs_path: Path, region_path: Path) -> tuple[ProgramsConfig, Region]:
    """(programs, region) from their TOML files; ConfigProblem lists every mistake in both."""
    problems = []
    programs = region = None
    try:
        programs = load_programs(programs_path)
    except ConfigError as e:
        problems.append(str(e))
    try:
        region = load_region(region_path)
    except RegionError as e:
        problems.append(str(e))
    if problems:
        raise ConfigProblem("\n".join(problems))
    assert programs is not None and region is not None
    return programs, region
