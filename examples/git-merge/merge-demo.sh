#!/bin/sh
# Two branches change different variables of one encrypted .env.enc; git merges them by
# variable name with secretsafe's merge driver, and `git log -p` shows names and keyed
# fingerprints instead of ciphertext (or plaintext). Everything happens in a throwaway
# directory with its own HOME and git config; your own keys and git config are not used.
set -eu

SECRETSAFE=${SECRETSAFE:-secretsafe}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config"
export GIT_CONFIG_GLOBAL="$work/gitconfig" GIT_CONFIG_NOSYSTEM=1 GIT_PAGER=cat PAGER=cat
unset SOPS_AGE_KEY_FILE SOPS_AGE_KEY SOPS_AGE_KEY_CMD 2>/dev/null || true
mkdir -p "$HOME"
: >"$GIT_CONFIG_GLOBAL"

say() { printf '\n== %s\n' "$*"; }

say "an age key (throwaway) and a repository set up by secretsafe init"
$SECRETSAFE keys generate --store file >/dev/null 2>&1
git init -q -b main "$work/repo"
cd "$work/repo"
git config user.name demo
git config user.email demo@example.com
$SECRETSAFE init .

say "one encrypted .env.enc on main"
printf 'DB_HOST=db\nDB_PASSWORD=example-not-a-real-password\nAPI_TOKEN=example-token-1\n' >.env
$SECRETSAFE encrypt .env -o .env.enc >/dev/null
rm .env
git add -A
git commit -qm "encrypted env file"

say "branch feature: a new API_TOKEN"
git checkout -q -b feature
printf 'example-token-2' | $SECRETSAFE set .env.enc API_TOKEN
git commit -qam "rotate the API token"

say "branch main: a new DB_PASSWORD and a new variable"
git checkout -q main
printf 'example-password-2' | $SECRETSAFE set .env.enc DB_PASSWORD
printf '8080' | $SECRETSAFE set .env.enc PORT
git commit -qam "new database password, a port"

say "git merge feature (the driver merges by variable)"
git merge --no-edit feature

say "what the merge changed on main: git diff HEAD^1 HEAD"
git diff HEAD^1 HEAD

say "git log -p (names and fingerprints, never a value)"
git log -p --format='commit %h %s' -3 -- .env.enc

say "the merged file has both changes"
$SECRETSAFE run -f .env.enc -- sh -c \
    'test "$API_TOKEN" = example-token-2 && test "$DB_PASSWORD" = example-password-2 && echo "both changes are in (${#API_TOKEN} + ${#DB_PASSWORD} characters)"'
