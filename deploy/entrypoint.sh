#!/bin/sh
# The image's entrypoint (deploy/Dockerfile). `run` (the default) migrates the database first,
# then starts the service; `exec` makes Python the container's main process, so the SIGTERM of
# `docker stop` reaches it directly (cli/run.py stops within 8.5 s). Any other command goes to
# bot.py as it is: backup, restore, staff add, import-dtsen, ...
# JARING_MIGRATE_ON_START=0 skips the migration (several replicas: migrate once, by hand).
set -eu
cd /app
if [ "${1:-run}" = "run" ] && [ "${JARING_MIGRATE_ON_START:-1}" = "1" ]; then
    python bot.py migrate
fi
exec python bot.py "$@"
