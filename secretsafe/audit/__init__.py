"""Repository secrets hygiene: ``secretsafe audit``.

:func:`audit` scans a directory (git-aware at the top of a repository) and returns an
:class:`AuditReport` of :class:`~secretsafe.compose.findings.Finding`; :mod:`.report` renders
findings as text, JSON or SARIF 2.1.0. See :mod:`secretsafe.audit.scan` for the rules.
"""

from __future__ import annotations

from secretsafe.audit.scan import AuditReport, audit, check_files

__all__ = ["AuditReport", "audit", "check_files"]
