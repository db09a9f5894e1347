#!/usr/bin/env bash
# A team of three shares encrypted files in one repository; a fourth member joins, then one
# leaves. Each member has their own age key (their own HOME); nobody's secret key is shared.
#
#   bash team.sh [WORKDIR]      (needs secretsafe and git on PATH)
set -euo pipefail

work=${1:-$(mktemp -d)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
repo="$work/repo"

# Run secretsafe as a member: their own key file, no key from the caller's environment.
as() {
    local who=$1
    shift
    env -u SOPS_AGE_KEY_FILE -u SOPS_AGE_KEY -u SOPS_AGE_KEY_CMD \
        HOME="$work/people/$who" XDG_CONFIG_HOME="$work/people/$who/.config" \
        PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring \
        secretsafe "$@"
}

rule() { # the .sops.yaml creation rule: every file, for the members named
    local recipients=()
    for who in "$@"; do recipients+=("${key[$who]}"); done
    local IFS=,
    printf 'creation_rules:\n  - path_regex: .*\n    age: %s\n' "${recipients[*]}" >"$repo/.sops.yaml"
}

declare -A key
for who in alice bob carol dave; do
    mkdir -p "$work/people/$who"
    key[$who]=$(as "$who" keys generate --store file 2>/dev/null)
done

mkdir -p "$repo"
cd "$repo"
git init -q -b main
git config user.email team@example.com
git config user.name Team
rule alice bob carol

echo "== alice creates five encrypted files from nothing (dotenv, YAML, JSON)"
as alice generate --into .env.enc API_TOKEN
as alice generate --into services/api/.env.enc DB_PASSWORD JWT_SECRET SESSION_KEY
as alice generate --format password --into config/search.enc.yaml OPENSEARCH__ADMIN_PASSWORD
printf %s "db.internal" | as alice set --create config/db.enc.yaml DATABASE__HOST
as alice generate --into services/web/secrets.enc.json COOKIE__SECRET
git add -A && git commit -q -m "team secrets"

echo "== names and whether each is encrypted, without any key"
as nobody ls services/api/.env.enc

echo "== dave joins: .sops.yaml first; audit reports the drift until updatekeys"
rule alice bob carol dave
if as alice audit . --fail-on warning >"$work/audit.txt" 2>&1; then
    echo "audit should report drift" >&2
    exit 1
fi
grep -c "sops-recipient-drift" "$work/audit.txt" | sed 's/^/drift findings: /'
as alice updatekeys --dry-run
as alice updatekeys
git diff --stat -- . ':!.sops.yaml'
as dave run -f services/api/.env.enc -- true && echo "dave decrypts services/api/.env.enc"
as alice audit . --fail-on warning >/dev/null && echo "audit: no drift"
git commit -q -am "dave joins"

echo "== bob leaves: every file gets a new data key"
rule alice carol dave
as alice updatekeys
if as bob run -f .env.enc -- true 2>/dev/null; then
    echo "bob can still decrypt" >&2
    exit 1
fi
echo "bob decrypts nothing any more (rotate the values too: he knew them)"
as carol generate --into services/api/.env.enc DB_PASSWORD JWT_SECRET SESSION_KEY
git commit -q -am "bob leaves"
echo "done"
