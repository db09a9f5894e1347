"""A small app whose startup validates its environment before doing anything else.

Run: ``python app.py`` next to an encrypted ``.env.enc`` (see README.md).
"""

import sys

from settings import AppSettings

import secretsafe


def main() -> int:
    try:
        settings = secretsafe.load(AppSettings, env_files=[".env.enc"])
    except secretsafe.SecretsafeError as err:
        # Every problem at once, by variable name; never a value.
        print(f"refusing to start: {err}", file=sys.stderr)
        return err.exit_code
    print(
        f"started in {settings.environment}: database {settings.database.host}, "
        f"JWT key {settings.auth.jwt_secret_key}"
    )  # SecretStr prints masked
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
