"""Install like a user: `python -m build` (sdist, then the wheel from the sdist, in build's
isolated environment) on a copy of the checkout, `pip install` of the wheel into a fresh venv
(no editable mode, no dev extras), then `secretsafe --help` and the README Quickstart's
commands there, run from a directory outside the checkout with a HOME of its own.

pip reads the machine's own configuration (its cache and local wheel directories, else PyPI).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300
PASSWORD = "wheel-install-Pa55word-0123456789abcdef"  # test data, not a real secret

SETTINGS = """\
from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Database(BaseModel):
    host: str
    password: SecretStr


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__")
    database: Database
"""

# Stands in for `docker compose up -d` / `gunicorn app:wsgi`: the child sees the values.
CHILD = "import os, sys; sys.exit(0 if os.environ.get('DATABASE__PASSWORD') == sys.argv[1] else 3)"


def quickstart_commands() -> list[str]:
    """The shell lines of the README's Quickstart block (comments removed), pip excluded."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Quickstart\n", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the Quickstart has no ```sh block"
    lines = []
    for raw in block.group(1).splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith(("#", "pip ", "python -m pip ")):
            lines.append(line)
    return lines


def sh(argv: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    # The working tree as it is (not only what is committed), without bytecode or build output.
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "secretsafe",
        src / "secretsafe",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert len(list(out.glob("secretsafe-*.tar.gz"))) == 1
    (whl,) = out.glob("secretsafe-*-py3-none-any.whl")
    return whl


def test_wheel_installs_and_quickstart_runs(wheel: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(fresh)
    bin_dir = fresh / "bin"
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "project"
    work.mkdir()
    keep = ("PIP_", "LANG", "LC_", "TMPDIR", "SSL_CERT", "REQUESTS_CA")
    env = {k: v for k, v in os.environ.items() if k.startswith(keep)}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_RUNTIME_DIR=str(home),  # no session bus: keys go to the key file
    )
    # pip's cache of the real user (HOME is a temp dir in tests) keeps repeated runs fast.
    import pwd

    cache = os.environ.get("PIP_CACHE_DIR") or os.path.join(
        pwd.getpwuid(os.getuid()).pw_dir, ".cache", "pip"
    )
    pip = sh(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", f"{wheel}[vault,keyring]"],
        cwd=work,
        env={**env, "PIP_CACHE_DIR": cache},
    )
    assert pip.returncode == 0, pip.stderr[-3000:]

    where = sh(
        [
            str(bin_dir / "python"),
            "-c",
            "import secretsafe, hvac, keyring; print(secretsafe.__file__)",
        ],
        cwd=work,
        env=env,
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(fresh), "not the installed copy"
    dev_only = sh([str(bin_dir / "python"), "-c", "import pytest"], cwd=work, env=env)
    assert dev_only.returncode != 0, "dev extras leaked into the fresh venv"

    helped = sh(["secretsafe", "--help"], cwd=work, env=env)
    assert helped.returncode == 0, helped.stderr
    assert "encrypt" in helped.stdout
    assert "run" in helped.stdout

    (work / ".env").write_text(f"DATABASE__HOST=db\nDATABASE__PASSWORD={PASSWORD}\n")
    (work / "app").mkdir()
    (work / "app" / "__init__.py").write_text("")
    (work / "app" / "settings.py").write_text(SETTINGS)
    commands = quickstart_commands()
    seen = set()
    for line in commands:
        argv = shlex.split(line)
        if argv[:1] == ["secretsafe"] and "--" in argv:
            # The child (docker compose, gunicorn) is replaced by one that checks the value.
            argv = [*argv[: argv.index("--") + 1], "python", "-c", CHILD, PASSWORD]
        proc = sh(argv, cwd=work, env=env)
        assert proc.returncode == 0, f"{line}: {proc.returncode} {proc.stderr[-2000:]}"
        seen.add(" ".join(argv[:2]))
        if argv[:2] == ["secretsafe", "decrypt"]:
            assert f"DATABASE__PASSWORD={PASSWORD}" in proc.stdout.replace("'", "")
        if argv[:2] == ["secretsafe", "encrypt"]:
            assert PASSWORD not in (work / ".env.enc").read_text()
    assert {"secretsafe keys", "secretsafe encrypt", "secretsafe decrypt", "secretsafe run"} <= seen
    assert any("--schema" in c for c in commands), "the Quickstart's --schema line is gone"
    assert not (work / ".env").exists()
