"""deploy/: the compose file, the Dockerfile, the systemd units and the proxy sites are checked
the way their tools would check them (docs/deploy.md).

- compose.yaml: `docker compose config -q` when the compose plugin works; otherwise the file,
  interpolated with a sample environment as compose would, is validated against the official
  compose-spec JSON schema (tests/data/compose-spec.json, from compose-spec/compose-go, Apache
  2.0: tests/data/compose-spec.README) by the small draft 2020-12 validator below (`jsonschema`
  is not a dependency), and then for what Jaring needs: the four services, pinned images,
  healthchecks, declared volumes, ports, and settings config.py knows.
- the systemd units: `systemd-analyze verify` when present, and their command lines parsed by
  bot.py's own argument parser.
- the Caddyfiles: `caddy validate`; the nginx site: `nginx -t`; each when installed.
- the Dockerfile: pinned base image, hash-locked install, catalogs compiled, non-root USER.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import cli
from config import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"
SERVICES = {"jaring", "postgres", "redis", "caddy"}
# Names in .env.example / compose.yaml that are not config.py settings: compose's own (the
# domain, the ACME e-mail, PostgreSQL's password), the entrypoint's, and JARING_REDIS_URL, which
# the scaling change of issue 14 adds to config.py (docs/scaling.md).
DEPLOY_ONLY = {
    "JARING_DOMAIN",
    "ACME_EMAIL",
    "POSTGRES_PASSWORD",
    "JARING_MIGRATE_ON_START",
    "JARING_REDIS_URL",
}
# What a production deploy must set (docs/deploy.md, "Settings").
MUST = {
    "JARING_HASH_KEY",
    "JARING_PUBLIC_URL",
    "JARING_PROGRAMS",
    "JARING_TRUSTED_PROXIES",
    "DATABASE_URL",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_WEBHOOK_URL",
    "TELEGRAM_WEBHOOK_SECRET",
    "WHATSAPP_TOKEN",
    "WHATSAPP_PHONE_NUMBER_ID",
    "WHATSAPP_APP_SECRET",
    "WHATSAPP_VERIFY_TOKEN",
}
# Settings only tests and benchmarks use (a fake Telegram/WhatsApp server).
NOT_FOR_PRODUCTION = {"TELEGRAM_API_URL", "WHATSAPP_API_URL"}
# name:1.2.3[-variant] (PostgreSQL's versions have two parts: 15.15), optionally @sha256:digest.
PINNED = re.compile(r"^[a-z0-9./-]+:\d+\.\d+(\.\d+)?(-[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$")


def settings_names() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


# --- a JSON Schema (draft 2020-12) validator for the keywords compose-spec.json uses -------------

SUPPORTED = {
    "$schema",
    "$id",
    "$defs",
    "$ref",
    "title",
    "description",
    "default",
    "deprecated",
    "type",
    "enum",
    "properties",
    "patternProperties",
    "additionalProperties",
    "required",
    "items",
    "oneOf",
    "anyOf",
    "allOf",
    "minimum",
    "maximum",
    "pattern",
    "uniqueItems",
}
TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def schema_errors(value: Any, schema: Any, root: dict, path: str = "") -> list[str]:
    """Every way `value` breaks `schema` (empty: valid)."""
    if schema is True or schema == {}:
        return []
    if schema is False:
        return [f"{path or '/'}: not allowed"]
    unknown = set(schema) - SUPPORTED
    assert not unknown, f"the validator does not know {unknown}"
    errors: list[str] = []
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        errors += schema_errors(value, target, root, path)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(TYPES[t](value) for t in types):
            return errors + [f"{path or '/'}: {value!r} is not {'/'.join(types)}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not one of {schema['enum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        patterns = schema.get("patternProperties", {})
        for key, item in value.items():
            matched = False
            if key in props:
                matched = True
                errors += schema_errors(item, props[key], root, f"{path}/{key}")
            for pattern, sub in patterns.items():
                if re.search(pattern, key):
                    matched = True
                    errors += schema_errors(item, sub, root, f"{path}/{key}")
            if not matched and "additionalProperties" in schema:
                errors += schema_errors(item, schema["additionalProperties"], root, f"{path}/{key}")
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: {key!r} is required")
    if isinstance(value, list):
        if "items" in schema:
            for i, item in enumerate(value):
                errors += schema_errors(item, schema["items"], root, f"{path}/{i}")
        if schema.get("uniqueItems") and len({json.dumps(v, sort_keys=True) for v in value}) < len(
            value
        ):
            errors.append(f"{path}: items are not unique")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: {value} > {schema['maximum']}")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if "oneOf" in schema:
        passing = [s for s in schema["oneOf"] if not schema_errors(value, s, root, path)]
        if len(passing) != 1:
            errors.append(f"{path or '/'}: matches {len(passing)} of oneOf, not exactly 1")
    if "anyOf" in schema and not any(
        not schema_errors(value, s, root, path) for s in schema["anyOf"]
    ):
        errors.append(f"{path or '/'}: matches none of anyOf")
    for sub in schema.get("allOf", []):
        errors += schema_errors(value, sub, root, path)
    return errors


# --- compose's interpolation ----------------------------------------------------------------------

VAR = re.compile(
    r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<arg>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $VAR and $$, as
    compose does before it validates; a missing required variable raises ValueError."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group("braced") or m.group("bare")
        op, arg = m.group("op") or "", m.group("arg") or ""
        have = env.get(name)
        empty = have is None or (op.startswith(":") and have == "")
        if op.endswith("?") and empty:
            raise ValueError(f"required variable {name} is missing: {arg}")
        if op.endswith("-") and empty:
            return arg
        if op.endswith("+"):
            return "" if empty else arg
        return have or ""

    return VAR.sub(one, value)


def env_file(path: Path) -> dict[str, str]:
    """NAME=value lines (what compose's env_file and --env-file read)."""
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def sample_env() -> dict[str, str]:
    env = env_file(DEPLOY / ".env.example")
    env.update(POSTGRES_PASSWORD="s3cretpassword", JARING_HASH_KEY="x" * 32)
    return env


def compose(env: dict[str, str] | None = None) -> dict:
    raw = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return interpolate(raw, sample_env() if env is None else env)


def docker_compose_works() -> bool:
    if shutil.which("docker") is None:
        return False
    p = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return p.returncode == 0


# --- compose.yaml -----------------------------------------------------------------------------------


def test_compose_file_is_valid(tmp_path):
    if docker_compose_works():
        # The real check, on a copy beside a sample .env (env_file: .env must exist).
        copy = tmp_path / "deploy"
        copy.mkdir()
        shutil.copy(DEPLOY / "compose.yaml", copy / "compose.yaml")
        (copy / ".env").write_text("".join(f"{k}={v}\n" for k, v in sample_env().items()))
        p = subprocess.run(
            ["docker", "compose", "-f", str(copy / "compose.yaml"), "config", "-q"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=copy,
        )
        assert p.returncode == 0, p.stderr
    schema = json.loads(SCHEMA.read_text())
    assert schema_errors(compose(), schema, schema) == []


def test_the_schema_check_can_fail():
    schema = json.loads(SCHEMA.read_text())
    bad = compose()
    bad["services"]["jaring"]["helthcheck"] = bad["services"]["jaring"].pop("healthcheck")
    bad["services"]["redis"]["ports"] = "6379"  # a string, not a list
    bad["volumes"]["media"] = ["not", "a", "volume"]
    errors = schema_errors(bad, schema, schema)
    assert any("/services/jaring/helthcheck: not allowed" in e for e in errors), errors
    assert any(e.startswith("/services/redis/ports") for e in errors), errors
    assert any(e.startswith("/volumes/media") for e in errors), errors
    # compose refuses to start without a required variable, and so does the interpolation.
    env = sample_env()
    del env["POSTGRES_PASSWORD"]
    with pytest.raises(ValueError, match="POSTGRES_PASSWORD"):
        compose(env)


def test_compose_has_what_jaring_needs():
    c = compose()
    services = c["services"]
    assert set(services) == SERVICES
    for name, s in services.items():
        if "build" in s:  # built here from deploy/Dockerfile (its own base image is pinned)
            assert s["image"] == "jaring:local"
        else:
            assert PINNED.match(s["image"]) and ":" in s["image"], (
                f"{name}: {s['image']} not pinned"
            )
            assert not s["image"].endswith(":latest")
        assert s.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        assert s.get("restart") == "unless-stopped", name
        for v in s.get("volumes", []):
            source = v.split(":", 1)[0]
            if source.startswith("."):
                continue  # a bind mount next to compose.yaml
            assert source in c["volumes"], f"{name}: volume {source} is not declared"
    assert {"pgdata", "media", "caddy_data"} <= set(c["volumes"])

    jaring = services["jaring"]
    assert (ROOT / jaring["build"]["dockerfile"]).is_file()
    assert jaring["env_file"] == [".env"]
    assert "ports" not in jaring, "Jaring is reached through Caddy only"
    assert any(v.endswith(":/data/media") for v in jaring["volumes"])
    assert jaring["environment"]["JARING_MEDIA_DIR"] == "/data/media"
    assert "healthz" in " ".join(jaring["healthcheck"]["test"])
    assert jaring["read_only"] is True and jaring["cap_drop"] == ["ALL"]
    # Jaring trusts X-Forwarded-For from Caddy alone, at the address Caddy has.
    caddy = services["caddy"]
    assert (
        jaring["environment"]["JARING_TRUSTED_PROXIES"]
        == (caddy["networks"]["default"]["ipv4_address"])
    )
    assert jaring["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://jaring:")
    assert "@postgres:5432/jaring" in jaring["environment"]["DATABASE_URL"]
    assert jaring["environment"]["JARING_REDIS_URL"] == "redis://redis:6379/0"
    for dep in ("postgres", "redis"):
        assert jaring["depends_on"][dep]["condition"] == "service_healthy"

    assert {"80:80", "443:443"} <= set(caddy["ports"])
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert any(v.startswith("caddy_data:") for v in caddy["volumes"])
    assert any(v.startswith("pgdata:") for v in services["postgres"]["volumes"])
    for name in ("postgres", "redis"):
        assert "ports" not in services[name], f"{name} must not be published"
    # pg_dump in the image must be the server's major version or newer (bot.py backup).
    pg_major = services["postgres"]["image"].split(":")[1].split(".")[0]
    assert f"postgresql-client-{pg_major}" in (DEPLOY / "Dockerfile").read_text()


def test_every_setting_named_in_deploy_exists_and_the_needed_ones_are_there():
    known = settings_names()
    example = (DEPLOY / ".env.example").read_text()
    named = set(re.findall(r"^#?\s?([A-Z][A-Z0-9_]+)=", example, flags=re.M))
    assert not named - known - DEPLOY_ONLY, f"not settings: {named - known - DEPLOY_ONLY}"
    assert MUST <= named
    env = compose()["services"]["jaring"]["environment"]
    assert not set(env) - known - DEPLOY_ONLY, set(env) - known - DEPLOY_ONLY
    for unit in ("systemd/jaring.service", "backup.service"):
        text = (DEPLOY / unit).read_text()
        assert "EnvironmentFile=/etc/jaring/jaring.env" in text
    # Every setting is explained for operators, in .env.example or in docs/deploy.md.
    guide = (ROOT / "docs" / "deploy.md").read_text()
    undocumented = {n for n in known - NOT_FOR_PRODUCTION if n not in named and n not in guide}
    assert not undocumented, (
        f"settings missing from .env.example and docs/deploy.md: {undocumented}"
    )


# --- Dockerfile ------------------------------------------------------------------------------------


def dockerfile() -> str:
    return (DEPLOY / "Dockerfile").read_text()


def test_dockerfile_is_pinned_non_root_and_locked():
    text = dockerfile()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, flags=re.M))
    froms = re.findall(r"^FROM (\S+)", text, flags=re.M)
    assert froms
    for ref in froms:
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], ref)
        assert PINNED.match(image) and re.search(r":\d+\.\d+\.\d+|@sha256:", image), image
        assert "slim" in image
    users = re.findall(r"^USER (\S+)", text, flags=re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "--require-hashes" in text and "requirements/runtime.txt" in text
    assert "python -m tools.i18n --compile-only" in text
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, flags=re.M)
    assert 'ENTRYPOINT ["/app/deploy/entrypoint.sh"]' in text and 'CMD ["run"]' in text
    for src in re.findall(r"^COPY (?!--from)(?:--\S+ )*(\S+) ", text, flags=re.M):
        assert (ROOT / src).exists(), f"COPY {src}: no such path"
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    for pattern in (".env", ".git", ".venv", "locales/**/*.mo", "data/*.db"):
        assert pattern in ignore


def test_entrypoint_migrates_before_run_and_passes_other_commands(tmp_path):
    """The entrypoint with a recording `python`: `run` migrates then runs; backup does not migrate."""
    log = tmp_path / "calls"
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python").write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    (fake / "python").chmod(0o755)
    script = (DEPLOY / "entrypoint.sh").read_text().replace("cd /app", f"cd {ROOT}")
    (tmp_path / "entrypoint.sh").write_text(script)
    env = {"PATH": f"{fake}:/usr/bin:/bin"}
    for argv in (["run"], ["backup", "/backups"]):
        subprocess.run(["sh", str(tmp_path / "entrypoint.sh"), *argv], env=env, check=True)
    subprocess.run(
        ["sh", str(tmp_path / "entrypoint.sh"), "run"],
        env={**env, "JARING_MIGRATE_ON_START": "0"},
        check=True,
    )
    assert log.read_text().splitlines() == [
        "bot.py migrate",
        "bot.py run",
        "bot.py backup /backups",
        "bot.py run",
    ]


# --- systemd ---------------------------------------------------------------------------------------


def unit(name: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in (DEPLOY / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def bot_args(command: str) -> list[str]:
    argv = command.split()
    assert argv[0] == "/opt/jaring/.venv/bin/python" and argv[1] == "bot.py", command
    return argv[2:]


def test_units_are_hardened_and_run_real_commands():
    svc = unit("systemd/jaring.service")
    assert svc["User"] == ["jaring"] and svc["Group"] == ["jaring"]
    assert svc["Restart"] == ["on-failure"] and svc["RestartPreventExitStatus"] == ["2"]
    from cli.run import STOP_DEADLINE

    assert float(svc["TimeoutStopSec"][0].rstrip("s")) > STOP_DEADLINE
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
        "UMask": "0077",
    }.items():
        assert svc[key] == [value], key
    assert [bot_args(c) for c in svc["ExecStartPre"]] == [["migrate"]]
    assert [bot_args(c) for c in svc["ExecStart"]] == [["run"]]
    backup = unit("backup.service")
    assert backup["Type"] == ["oneshot"] and backup["User"] == ["jaring"]
    [cmd] = [bot_args(c) for c in backup["ExecStart"]]
    args = cli.parse(cmd)  # bot.py's own parser: the unit's options exist
    assert args.cmd == "backup" and (args.keep_daily, args.keep_weekly, args.keep_monthly) == (
        7,
        4,
        12,
    )
    assert str(args.dir) in backup["ReadWritePaths"][0]
    timer = unit("backup.timer")
    assert timer["OnCalendar"] and timer["Persistent"][0] in ("yes", "true")
    assert timer["Unit"] == ["jaring-backup.service"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_verify(tmp_path):
    """`systemd-analyze verify` on the units, with this checkout standing in for /opt/jaring."""
    env_file_path = tmp_path / "settings.env"
    env_file_path.write_text("JARING_HASH_KEY=x\n")
    for name, installed in (
        ("systemd/jaring.service", "jaring.service"),
        ("backup.service", "jaring-backup.service"),
        ("backup.timer", "jaring-backup.timer"),
    ):
        text = (
            (DEPLOY / name)
            .read_text()
            .replace("/opt/jaring/.venv/bin/python", sys.executable)
            .replace("/opt/jaring", str(ROOT))
            .replace("/etc/jaring/jaring.env", str(env_file_path))
        )
        (tmp_path / installed).write_text(text)
    p = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            "--man=no",
            *(str(p) for p in sorted(tmp_path.glob("jaring*.*"))),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    # Lines about the host's own units (this machine may run without systemd) are not ours.
    ours = [line for line in (p.stdout + p.stderr).splitlines() if "jaring" in line]
    assert p.returncode == 0 and not ours, p.stdout + p.stderr


# --- proxies ---------------------------------------------------------------------------------------


def test_proxies_serve_both_webhooks_and_the_dashboard_and_hide_metrics():
    # The channels' own paths, read from their source (importing aiogram takes seconds).
    def path_of(channel: str) -> str:
        text = (ROOT / "handlers" / channel / "channel.py").read_text()
        return re.search(r'^WEBHOOK_PATH = "([^"]+)"$', text, flags=re.M).group(1)

    TG, WA = path_of("telegram"), path_of("whatsapp")
    assert (TG, WA) == ("/tg/webhook", "/wa/webhook")

    for name in ("Caddyfile", "caddy/Caddyfile.host", "nginx/jaring.conf"):
        text = (DEPLOY / name).read_text()
        assert TG in text and WA in text, name
        assert "/metrics" in text and "/readyz" in text, name
        assert "Strict-Transport-Security" in text, name
    assert "reverse_proxy jaring:8080" in (DEPLOY / "Caddyfile").read_text()
    assert "X-Forwarded-For $remote_addr" in (DEPLOY / "nginx/jaring.conf").read_text()


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed")
@pytest.mark.parametrize("name", ["Caddyfile", "caddy/Caddyfile.host"])
def test_caddy_validate(name, tmp_path):
    env = {**os.environ, "JARING_DOMAIN": "jaring.example.org", "ACME_EMAIL": "it@example.org"}
    env["XDG_DATA_HOME"] = env["XDG_CONFIG_HOME"] = str(tmp_path)

    def validate(path: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["caddy", "validate", "--config", str(path), "--adapter", "caddyfile"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )

    p = validate(DEPLOY / name)
    assert p.returncode == 0, p.stderr
    broken = tmp_path / "Caddyfile"
    broken.write_text((DEPLOY / name).read_text().replace("max_size 1MB", "max_size lots"))
    assert validate(broken).returncode != 0  # the check can fail


@pytest.mark.skipif(
    shutil.which("nginx") is None or shutil.which("openssl") is None,
    reason="nginx (or openssl) is not installed",
)
def test_nginx_config_test(tmp_path):
    """`nginx -t` on the site inside a minimal nginx.conf, with a throwaway certificate."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=jaring.example.org", "-keyout", str(key), "-out", str(cert)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    site = (DEPLOY / "nginx" / "jaring.conf").read_text()
    site = site.replace(
        "/etc/letsencrypt/live/jaring.dinsos.example.go.id/fullchain.pem", str(cert)
    ).replace("/etc/letsencrypt/live/jaring.dinsos.example.go.id/privkey.pem", str(key))
    site = re.sub(r"\n\s*listen \[::\]:.*;", "", site)  # IPv4 only, on ports anyone may bind
    site = site.replace("listen 80;", "listen 127.0.0.1:18080;")
    site = site.replace("listen 443 ssl", "listen 127.0.0.1:18443 ssl")
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        "events {}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {tmp_path};\n"
        f"  include {tmp_path}/site.conf;\n}}\n"
    )
    p = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr


def test_env_example_reads_the_same_in_systemd_compose_and_a_shell():
    """No value with spaces, quotes or `$`: systemd's EnvironmentFile=, compose's env_file and
    `set -a; . FILE` (docs/deploy.md runs the service by hand that way) all read it alike."""
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name), line
            assert re.fullmatch(r"[^\s'\"$`\\]*", value), line
