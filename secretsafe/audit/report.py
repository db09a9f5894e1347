"""Findings as text, JSON or SARIF 2.1.0 (for ``secretsafe audit`` and ``check --compose``).

JSON (version 1; new keys may be added, existing keys keep their meaning)::

    {
      "version": 1,
      "tool": "secretsafe audit",        # or "secretsafe check"
      "ok": false,                       # no finding at or above fail_on (audit) /
                                         # no error (check)
      "counts": {"error": 3, "warning": 1, "note": 0, "fixed": 0},
      "findings": [
        {
          "rule": "hardcoded-secret",    # see secretsafe.compose.findings.RULES;
                                         # schema problems are "schema.<kind>"
          "severity": "error",           # "error" | "warning" | "note"
          "file": "docker-compose.yml",  # relative to the audited directory (audit)
          "line": 12,                    # 1-based, or null for a whole file
          "service": "api",              # compose service, or null
          "variable": "ADMIN_PASSWORD",  # or null
          "message": "...", "hint": "...",
          "suggestions": [],             # did-you-mean names (schema.unknown)
          "fingerprint": null,           # never a value; at most a fingerprint
          "fixed": false                 # audit --fix repaired it
        }
      ],
      ...                                # audit: root, git, fail_on, notes;
                                         # check: files, services
    }

SARIF: one run; ``tool.driver.rules`` lists every rule that has a result, results carry
``ruleId``/``ruleIndex``/``level``/``message`` and a ``physicalLocation`` with an
``artifactLocation.uri`` relative to ``%SRCROOT%`` and a ``region.startLine`` when the line is
known. GitHub code scanning accepts it as is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from secretsafe.compose.findings import RULES, Finding, Rule

__all__ = ["SARIF_SCHEMA", "to_json", "to_sarif", "to_text"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def to_text(findings: Sequence[Finding], *, notes: Iterable[str] = (), summary: str = "") -> str:
    lines: list[str] = []
    for f in findings:
        who = ""
        if f.service:
            who += f" [service {f.service}]"
        fixed = " (fixed)" if f.fixed else ""
        lines.append(f"{f.where}: {f.severity}{fixed}: {f.rule}:{who} {f.message}")
        if f.suggestions:
            lines.append(f"    did you mean: {', '.join(f.suggestions)}?")
        if f.hint:
            lines.append(f"    hint: {f.hint}")
    for n in notes:
        lines.append(f"note: {n}")
    if summary:
        lines.append(summary)
    return "\n".join(lines) + ("\n" if lines else "")


def to_json(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def _rule_for(rule_id: str) -> Rule:
    if rule_id in RULES:
        return RULES[rule_id]
    base = RULES.get(rule_id.split(".", maxsplit=1)[0], RULES["schema"])
    kind = rule_id.partition(".")[2] or rule_id
    return Rule(rule_id, base.severity, f"{base.summary}: {kind.replace('_', ' ')}", base.help)


def _uri(path: str) -> str:
    return quote(path.replace("\\", "/"), safe="/-._~")


def to_sarif(findings: Sequence[Finding], *, version: str | None = None) -> str:
    """A SARIF 2.1.0 log with one run."""
    if version is None:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as _version

        try:
            version = _version("secretsafe")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            version = "0"
    rule_ids = sorted({f.rule for f in findings})
    index = {r: i for i, r in enumerate(rule_ids)}
    rules = []
    for rid in rule_ids:
        rule = _rule_for(rid)
        rules.append(
            {
                "id": rid,
                "name": "".join(p.capitalize() for p in rid.replace(".", "-").split("-")),
                "shortDescription": {"text": rule.summary},
                "fullDescription": {"text": rule.summary},
                "help": {"text": rule.help},
                "defaultConfiguration": {"level": rule.severity},
                "properties": {"tags": ["security", "secrets"]},
            }
        )
    results = []
    for f in findings:
        if f.fixed:
            continue
        text = f.message + (f" ({f.hint})" if f.hint else "")
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": f.severity,
            "message": {"text": text},
        }
        if f.file:
            physical: dict[str, Any] = {
                "artifactLocation": {"uri": _uri(f.file), "uriBaseId": "%SRCROOT%"}
            }
            if f.line:
                physical["region"] = {"startLine": f.line}
            result["locations"] = [{"physicalLocation": physical}]
        props = {k: v for k, v in (("service", f.service), ("variable", f.variable)) if v}
        if props:
            result["properties"] = props
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "secretsafe",
                        "version": version,
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
