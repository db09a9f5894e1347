"""The editable install that scripts/_bootstrap.sh (./scripts/test, ./scripts/demo) and
scripts/test-compat make: setuptools prints no deprecation banner (issue 18), and the install
is a plain path entry, not an import hook that loads pathlib at every interpreter start (which
would hide pathlib from the import guard of tests/test_public_api.py and slow every start).

The install runs pip as the scripts do, with build isolation (pip reads the machine's own
configuration: its cache and local wheel directories, else PyPI), into a venv without pip of
its own, from a copy of the project files, so the checkout is left untouched."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ("scripts/_bootstrap.sh", "scripts/test-compat")


def test_scripts_use_the_default_editable_mode() -> None:
    # The mode tested below; "compat" is the one setuptools announces as transitional.
    for script in SCRIPTS:
        text = (ROOT / script).read_text(encoding="utf-8")
        assert "pip install -q -e" in text, script
        assert "editable_mode" not in text, script


def test_editable_install_is_a_plain_path_entry_without_banner(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, project / name)
    shutil.copytree(
        ROOT / "secretsafe", project / "secretsafe", ignore=shutil.ignore_patterns("__pycache__")
    )
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check"]
    result = subprocess.run(
        [*pip, "install", "--no-deps", "-e", str(project)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for banner in ("transitional", "BuildBackendWarning", "SetuptoolsDeprecationWarning"):
        assert banner not in output
    (site,) = (env_dir / "lib").glob("python3.*/site-packages")
    (pth,) = site.glob("__editable__.secretsafe-*.pth")
    assert pth.read_text(encoding="utf-8").splitlines() == [str(project)]
    assert not list(site.glob("__editable__*finder*"))
    probe = (
        "import sys; start = set(sys.modules); import secretsafe; "
        "print('pathlib' in start, secretsafe.__file__)"
    )
    shown = subprocess.run(
        [str(python), "-c", probe],
        cwd=tmp_path,  # not the checkout: -c puts the current directory first on sys.path
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert shown == ["False", str(project / "secretsafe" / "__init__.py")]
