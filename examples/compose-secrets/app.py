"""Start-up of the app: validate the settings, then use them (here: say what it would do)."""

from __future__ import annotations

from settings import Settings

import secretsafe

settings = secretsafe.load(Settings)
db = settings.database
print(
    f"connecting to {db.host}:{db.port} as {db.user} "
    f"(password: {len(db.password.get_secret_value())} characters)"
)
