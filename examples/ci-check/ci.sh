#!/usr/bin/env bash
# CI gate: the production compose configuration of the app must match its settings schema,
# and the repository must be clean of plaintext secrets. Needs the age identity that can
# decrypt secrets.env.enc in SOPS_AGE_KEY (a CI secret) or SOPS_AGE_KEY_FILE.
#   exit 3: the compose check found problems (each printed with its file and line)
#   exit 5: the audit found problems (also written to secretsafe.sarif for code scanning)
set -euo pipefail
cd "$(dirname "$0")"

secretsafe check \
  --compose docker-compose.yml \
  --compose docker-compose.production.yml \
  --service app \
  --schema settings:Settings \
  --env-file secrets.env.enc

# Every labelled service (app and worker), each against its own secretsafe.schema label.
secretsafe check \
  --compose docker-compose.yml \
  --compose docker-compose.production.yml \
  --all \
  --env-file secrets.env.enc \
  --format json > secretsafe-check.json

secretsafe audit "${AUDIT_PATH:-.}" --format sarif --output secretsafe.sarif
