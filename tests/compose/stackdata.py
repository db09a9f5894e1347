"""The realistic shop stack (base + production overlay) and its clean twin, copied into a
temp dir with their encrypted env files made by the real codec for a fresh age key."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from secretsafe.sops import encrypt_values

DATA = Path(__file__).parent / "data"

# Values that live in the stack's files; none may ever appear in any output.
API_ENV = {
    "REDIS__PASSWORD": "cAnArY-redis-Hn27fKw0aQp4",
    "AUTH__ACCESS_TOKEN_TTL": "900",
}
SECRETS_ENV = {
    "POSTGRES_PASSWORD": "cAnArY-pg-R9t2mWq7Lk3xVb",
    "JWT_SECRET_KEY": "cAnArY-jwt-Zq8v3N1xW5t7Kp0Lr2Ys4Uh6Jb9",
    "ADMIN_PASSWORD": "cAnArY-admin2-Pq0Zr7Ys4LmN",
}
ADMIN_LITERAL = "cAnArY-admin-Xq81vZ0pLm"
OPENSEARCH_LITERAL = "StrongDevPassword123!@#"  # the seed stack's hardcoded search password
CANARIES = [
    ADMIN_LITERAL,
    OPENSEARCH_LITERAL,
    *(v for v in API_ENV.values() if v.startswith("cAnArY")),
    *SECRETS_ENV.values(),
]
DOTENV = "# compose interpolation defaults (no secrets here)\nAPI_TAG=1.4.2\n"


@dataclass
class Stack:
    root: Path
    base: Path
    overlay: Path
    secrets: Path  # secrets.env.enc: what `secretsafe run -f` would export


def make_stack(name: str, tmp_path: Path, recipient: str) -> Stack:
    root = tmp_path / name
    shutil.copytree(DATA / name, root)
    (root / ".env").write_text(DOTENV, encoding="utf-8")
    encrypt_values(API_ENV, root / ".env.api.enc", recipients=[recipient])
    encrypt_values(SECRETS_ENV, root / "secrets.env.enc", recipients=[recipient])
    return Stack(
        root,
        root / "docker-compose.yml",
        root / "docker-compose.production.yml",
        root / "secrets.env.enc",
    )
