"""``secretsafe audit [PATH]``: secrets hygiene of a repository."""

from __future__ import annotations

import click

__all__ = ["audit"]


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif"]),
    default="text",
    show_default=True,
    help="SARIF 2.1.0 for code scanning (GitHub, GitLab)",
)
@click.option("--output", "-o", default=None, metavar="FILE", help="write the report here")
@click.option("--fix", is_flag=True, help="chmod 600 env and key files others can read")
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "note", "never"]),
    default="warning",
    show_default=True,
    help="exit 5 when a finding has this severity or a higher one",
)
@click.option("--no-history", is_flag=True, help="skip the scan of the git history")
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="leave out paths matching GLOB (relative to PATH, e.g. 'tests/fixtures/*'); repeatable",
)
def audit(  # noqa: PLR0917 - click passes options positionally
    paths: tuple[str, ...],
    fmt: str,
    output: str | None,
    fix: bool,
    fail_on: str,
    no_history: bool,
    exclude: tuple[str, ...],
) -> None:
    """Check a directory (default: .) for plaintext env files in git or its history, env and
    key files readable by others, secrets / disabled TLS / the Docker socket in compose files,
    and encrypted files with recipients not in .sops.yaml. Exit 0 when clean, 5 with
    findings. Values are never printed.

    Given files instead (as pre-commit passes them): each env file among them must be
    encrypted."""
    import os

    from secretsafe.audit import audit as run_audit
    from secretsafe.audit import check_files
    from secretsafe.audit import report as render
    from secretsafe.cli.check import write_output
    from secretsafe.errors import AuditFailed, UsageError

    dirs = [p for p in paths if os.path.isdir(p)]
    if dirs and len(paths) > 1:
        raise UsageError("pass one directory, or files only", hint="for example: audit .")
    if not paths or dirs:
        result = run_audit(
            paths[0] if paths else ".", fix=fix, history=not no_history, exclude=exclude
        )
    else:
        result = check_files(paths, fix=fix)
    failing = result.failing(fail_on)
    counts = result.counts()
    if fmt == "json":
        text = render.to_json(result.to_dict(fail_on=fail_on))
    elif fmt == "sarif":
        text = render.to_sarif(result.findings)
    else:
        summary = (
            f"{'failed' if failing else 'ok'}: {result.files_scanned} files, "
            f"{counts['error']} errors, {counts['warning']} warnings, {counts['note']} notes"
            + (f", {counts['fixed']} fixed" if counts["fixed"] else "")
        )
        text = render.to_text(result.findings, notes=result.notes, summary=summary)
    write_output(text, output)
    if failing:
        noun = "finding" if len(failing) == 1 else "findings"
        raise AuditFailed(
            f"audit: {len(failing)} {noun} at or above {fail_on}",
            hint="fix them, mark a compose line '# secretsafe: ignore[rule]', or choose --fail-on",
        )
