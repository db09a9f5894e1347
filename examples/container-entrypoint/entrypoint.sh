#!/bin/sh
# Container entrypoint: decrypt .env.enc in memory and exec the app with its values.
# No plaintext file is written; secretsafe execs the app, so it is PID 1's direct replacement
# and receives SIGTERM from `docker stop` itself.
set -eu
cd "$(dirname "$0")"
exec secretsafe run -f "${SECRETSAFE_FILE:-.env.enc}" -- "$@"
