"""Shell completion as docs/shell-completion.md documents it, with the installed console
script: each `_SECRETSAFE_COMPLETE=<shell>_source secretsafe` prints a script, the bash one
completes in a real bash, and the zsh and fish scripts' call-backs answer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
SECRETSAFE = str(BIN / "secretsafe")


def complete(value: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "_SECRETSAFE_COMPLETE": value, **env}
    return subprocess.run(
        [SECRETSAFE], env=full, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_source_command_prints_a_completion_script(shell: str) -> None:
    result = complete(f"{shell}_source")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    # The script calls secretsafe back with the matching <shell>_complete instruction.
    assert f"_SECRETSAFE_COMPLETE={shell}_complete" in result.stdout
    assert "_secretsafe_completion" in result.stdout


def bash_complete(script: Path, words: list[str]) -> list[str]:
    """Candidates the generated bash function offers for ``words`` (the last one is being
    typed), run in a real bash as `complete -F` would."""
    bash = shutil.which("bash")
    assert bash is not None
    array = " ".join(f"'{w}'" for w in words)
    program = (
        f'source "{script}"\n'
        f"COMP_WORDS=({array}); COMP_CWORD={len(words) - 1}\n"
        "_secretsafe_completion secretsafe\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [bash, "--norc", "--noprofile", "-c", program],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_bash_script_completes_commands_and_choices(tmp_path: Path) -> None:
    script = tmp_path / "secretsafe-complete.bash"
    script.write_text(complete("bash_source").stdout, encoding="utf-8")
    assert bash_complete(script, ["secretsafe", "ch"]) == ["check"]
    assert "vault" in bash_complete(script, ["secretsafe", ""])
    assert bash_complete(script, ["secretsafe", "check", "--format", ""]) == [
        "text",
        "json",
        "sarif",
    ]
    assert bash_complete(script, ["secretsafe", "vault", "bo"]) == ["bootstrap"]


def test_zsh_and_fish_call_backs_answer() -> None:
    zsh = complete("zsh_complete", COMP_WORDS="secretsafe ch", COMP_CWORD="1")
    assert zsh.returncode == 0, zsh.stderr
    assert zsh.stdout.splitlines()[:2] == ["plain", "check"]
    fish = complete("fish_complete", COMP_WORDS="secretsafe ch", COMP_CWORD="ch")
    assert fish.returncode == 0, fish.stderr
    assert fish.stdout.splitlines()[0].startswith("plain,check")
