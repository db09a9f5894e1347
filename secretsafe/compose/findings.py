"""Findings about compose stacks (and, through :mod:`secretsafe.audit`, repositories).

A :class:`Finding` names a rule, a severity, the file and line, the service and variable, a
message and a hint. It never holds a value: at most a fingerprint
(:func:`secretsafe.secret.fingerprint`). Compose rules:

=========================  ========  ======================================================
rule                       severity  what
=========================  ========  ======================================================
``hardcoded-secret``       error     a secret-looking variable with a literal value, or a
                                     value shaped like a known token, key or a URL with a
                                     password
``required-variable``      error     ``${VAR:?message}`` / ``${VAR?message}`` not satisfied
``undefined-variable``     warning   ``${VAR}`` / ``$VAR`` with no default and no source
                                     (not in ``.env``, the env files given, nor the
                                     environment): compose substitutes an empty string
``missing-env-file``       error     a required ``env_file`` that does not exist
``conflicting-value``      note      overlays set the same variable to different values
                                     (the message says which file wins); not run by
                                     default: an overlay replacing a value is what overlays
                                     are for (:attr:`ComposeReport.overrides` counts them)
``tls-verify-disabled``    error     an environment variable turns TLS verification off
``docker-socket``          warning   the Docker (or Podman) socket is mounted into a
                                     container: root on the host
``schema.<kind>``          per kind  the service's environment fails the schema (H4's
                                     kinds: ``missing``, ``unknown``, ``too_short``, ...)
=========================  ========  ======================================================

A finding on a compose line is suppressed by a comment on that line:
``# secretsafe: ignore`` (every rule) or ``# secretsafe: ignore[docker-socket]`` (listed rules,
comma-separated).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from secretsafe.compose.interpolate import Ref
from secretsafe.compose.loader import Loc, Project, Service, Setting
from secretsafe.compose.service import EnvFileCache, ServiceEnvironment, service_environment
from secretsafe.secret import is_secret_name

__all__ = [
    "RULES",
    "SEVERITIES",
    "ComposeReport",
    "Finding",
    "Rule",
    "check_compose",
    "compose_findings",
    "is_docker_socket",
    "is_secret_name",
    "literal_secret_reason",
    "namespace_services",
    "overrides",
    "schema_label",
    "tls_disabled",
]

Severity = Literal["error", "warning", "note"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "note")
SCHEMA_LABEL = "secretsafe.schema"
ENVIRONMENT_LABEL = "secretsafe.environment"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    severity: Severity
    summary: str
    help: str


_RULE_LIST = (
    Rule(
        "hardcoded-secret",
        "error",
        "Secret written in a compose file",
        "Reference it as ${VAR} and keep the value in an encrypted env file "
        "(secretsafe encrypt .env; secretsafe run -f .env.enc -- docker compose up).",
    ),
    Rule(
        "required-variable",
        "error",
        "Required variable not set",
        "Set the variable in .env, an encrypted env file passed with -f, or the environment.",
    ),
    Rule(
        "undefined-variable",
        "warning",
        "Variable referenced but never set",
        "Set it, or give a default (${VAR:-default}) or make it required (${VAR:?message}).",
    ),
    Rule(
        "missing-env-file",
        "error",
        "env_file does not exist",
        "Create the file, fix the path (relative to the first compose file), or mark the "
        "entry required: false.",
    ),
    Rule(
        "conflicting-value",
        "note",
        "Overlays set a variable to different values",
        "Keep one definition, or confirm that the overlay is meant to win.",
    ),
    Rule(
        "tls-verify-disabled",
        "error",
        "TLS certificate verification disabled",
        "Remove the variable; trust a private CA with SSL_CERT_FILE / NODE_EXTRA_CA_CERTS.",
    ),
    Rule(
        "docker-socket",
        "warning",
        "Docker socket mounted into a container",
        "Access to the socket is root on the host, even read-only; use a socket proxy "
        "that allows only the calls needed, or mark the line # secretsafe: ignore[docker-socket].",
    ),
    Rule(
        "schema",
        "error",
        "Environment does not match the schema",
        "Fix the variable named; see secretsafe schema --schema SPEC --format names.",
    ),
    # Repository audit rules (secretsafe.audit).
    Rule(
        "env-tracked",
        "error",
        "Plaintext env file tracked by git",
        "git rm --cached the file, add it to .gitignore, commit an encrypted copy "
        "(secretsafe encrypt), and rotate the secrets it held.",
    ),
    Rule(
        "env-plaintext",
        "error",
        "Env file is not encrypted",
        "Encrypt it (secretsafe encrypt FILE) and commit FILE.enc instead; keep the "
        "plaintext out of git.",
    ),
    Rule(
        "env-partly-plaintext",
        "error",
        "Encrypted env file holds plaintext where its own rules say encrypted",
        "Re-encrypt it (secretsafe decrypt FILE | secretsafe encrypt - ... or sops) and rotate "
        "the values named: they were in the clear.",
    ),
    Rule(
        "env-not-ignored",
        "error",
        "Plaintext env file not covered by .gitignore",
        "Add the file (or a pattern such as .env*, !*.enc, !.env.example) to .gitignore.",
    ),
    Rule(
        "env-in-history",
        "error",
        "Plaintext env file in git history",
        "Rotate every secret it held; then rewrite history (git filter-repo) if required.",
    ),
    Rule(
        "insecure-permissions",
        "error",
        "Env or key file readable by group or others",
        "chmod 600 the file (secretsafe audit --fix does it).",
    ),
    Rule(
        "unknown-recipient",
        "error",
        "Encrypted file has a recipient not in .sops.yaml",
        "Run secretsafe rotate / recipients remove so that the file's recipients match "
        ".sops.yaml, or add the key to .sops.yaml if it belongs.",
    ),
    Rule(
        "sops-recipient-drift",
        "warning",
        "Encrypted file's recipients differ from its .sops.yaml rule",
        "Run secretsafe updatekeys: it gives every file the recipients of its rule (a removed "
        "member also means a new data key).",
    ),
)
RULES: dict[str, Rule] = {r.id: r for r in _RULE_LIST}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem, located. Holds names, never values."""

    rule: str
    severity: Severity
    message: str
    file: str | None = None
    line: int | None = None
    hint: str | None = None
    variable: str | None = None
    service: str | None = None
    fingerprint: str | None = None
    suggestions: tuple[str, ...] = ()
    fixed: bool = False

    @property
    def where(self) -> str:
        if self.file is None:
            return "<project>"
        return f"{self.file}:{self.line}" if self.line else self.file

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "service": self.service,
            "variable": self.variable,
            "message": self.message,
            "hint": self.hint,
            "suggestions": list(self.suggestions),
            "fingerprint": self.fingerprint,
            "fixed": self.fixed,
        }

    def sort_key(self) -> tuple[str, int, str, str, str]:
        return (self.file or "", self.line or 0, self.rule, self.service or "", self.variable or "")


# ----------------------------------------------------------------------------- heuristics
_BOOLEANS = {"true", "false", "yes", "no", "on", "off", "y", "n", "0", "1", "none", "null"}
_REFERENCE = re.compile(
    r"^(?:vault|bao|op|sm|aws-sm|awssm|gcp-sm|azure-kv|file|env|secret)://|^vault:"
)
_KNOWN_TOKENS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("an age secret key", re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]{20,}")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    (
        "a GitHub token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})"),
    ),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("a Stripe live key", re.compile(r"\b[sr]k_live_[A-Za-z0-9]{16,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("an OpenAI-style API key", re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}")),
    ("a Vault/OpenBao token", re.compile(r"\b(?:hvs|hvb|s)\.[A-Za-z0-9_-]{24,}")),
    ("a JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")),
)
_URL_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@:\s]*:([^/?#@\s]+)@")


def literal_secret_reason(name: str, raw: str, *, templated: bool) -> str | None:
    """Why ``name`` set to the compose text ``raw`` is a hardcoded secret, or ``None``.

    ``templated``: the text had ``${...}`` references (a reference is never a finding, but
    a URL with a literal password around one still is). ``raw`` is only inspected, never
    returned or quoted.
    """
    text = raw.strip()
    if not text:
        return None
    for what, pattern in _KNOWN_TOKENS:
        if pattern.search(text):
            return f"its value looks like {what}"
    m = _URL_PASSWORD.match(text)
    if m and "$" not in m.group(1):
        return "its value is a URL with a password in it"
    if templated or "$" in text:
        return None  # ${VAR} (or escaped $$ text passed on literally: not a credential)
    if not is_secret_name(name):
        return None
    low = text.lower()
    if low in _BOOLEANS or (text.isdigit() and len(text) <= 5):
        return None
    if _REFERENCE.match(low) or text.startswith("/run/secrets/"):
        return None
    return "it is a secret-looking variable with a literal value"


def tls_disabled(name: str, value: str) -> bool:
    """True when ``name=value`` in an environment turns off TLS certificate verification."""
    n = name.upper()
    v = value.strip().lower()
    off = v in ("0", "false", "no", "off", "n", "f", "none", "disable", "disabled")
    on = v in ("1", "true", "yes", "on", "y", "t")
    if n in ("NODE_TLS_REJECT_UNAUTHORIZED", "PYTHONHTTPSVERIFY"):
        return v == "0"
    if n in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        # An empty bundle switched verification off in requests before 2.32.
        return v == ""
    if n in ("GIT_SSL_NO_VERIFY", "CURL_INSECURE"):
        return bool(v) and not off
    if n in ("NPM_CONFIG_STRICT_SSL", "YARN_STRICT_SSL", "PIP_TRUSTED_HOST_ALL"):
        return off
    if n.endswith(
        (
            "SKIP_VERIFY",
            "SKIP_TLS_VERIFY",
            "SKIP_SSL_VERIFY",
            "TLS_SKIP_VERIFY",
            "SSL_NO_VERIFY",
            "TLS_NO_VERIFY",
            "TLS_INSECURE",
            "SSL_INSECURE",
            "INSECURE_TLS",
            "INSECURE_SSL",
            "DISABLE_SSL_VERIFY",
            "DISABLE_TLS_VERIFY",
        )
    ) or n in ("TLS_INSECURE", "SSL_INSECURE"):
        return on
    if n.endswith(
        (
            "SSL_VERIFY",
            "TLS_VERIFY",
            "VERIFY_SSL",
            "VERIFY_TLS",
            "VERIFY_CERTS",
            "VERIFY_CERT",
            "VERIFY_CERTIFICATE",
            "VERIFY_CERTIFICATES",
            "SSL_VERIFICATION",
            "TLS_VERIFICATION",
            "CERT_VERIFY",
            "SSL_CERT_REQS",
            "SSL_VERIFICATIONMODE",
            "SSL_VERIFICATION_MODE",
            "HTTPS_VERIFY",
        )
    ):
        return off
    return False


_SOCKET = re.compile(r"(?:^|/)(?:docker|podman)\.sock$")


def is_docker_socket(source: str | None) -> bool:
    return bool(source) and bool(_SOCKET.search(str(source).rstrip("/")))


# ----------------------------------------------------------------------------- compose checks
_IGNORE = re.compile(r"#\s*secretsafe:\s*ignore(?:\[([A-Za-z0-9_.,\s-]+)\])?")


def _suppressed(project: Project, finding: Finding) -> bool:
    if finding.file is None or finding.line is None:
        return False
    cf = project.file(finding.file)
    if cf is None:
        return False
    m = _IGNORE.search(cf.line_text(finding.line))
    if m is None:
        return False
    if m.group(1) is None:
        return True
    listed = {r.strip() for r in m.group(1).split(",")}
    return finding.rule in listed or finding.rule.split(".")[0] in listed


def _at(loc: Loc) -> dict[str, Any]:
    return {"file": loc.file, "line": loc.line}


def compose_findings(
    project: Project,
    *,
    services: Sequence[str] | None = None,
    decrypt: bool = False,
    rules: Iterable[str] | None = None,
    cache: EnvFileCache | None = None,
) -> list[Finding]:
    """Every compose finding of ``project`` (for ``services``, default all), sorted, with
    ``# secretsafe: ignore`` comments applied. ``rules`` limits the rules run (default: all
    but ``conflicting-value``)."""
    wanted = set(rules) if rules is not None else set(RULES) - {"conflicting-value"}
    names = list(services) if services is not None else list(project.services)
    files = cache if cache is not None else EnvFileCache(decrypt=decrypt)
    out: list[Finding] = []
    if wanted & {"undefined-variable", "required-variable"}:
        # References outside any service (x- blocks never merged, top-level keys) count;
        # those inside other services than the ones checked do not.
        chosen = set(names)
        out.extend(
            f
            for f in _interpolation_findings(project, wanted)
            if f.service is None or f.service in chosen
        )
    for name in names:
        env = service_environment(project, name, decrypt=decrypt, cache=files)
        out.extend(_service_findings(project, env, wanted))
        for loc, ref in env.env_file_refs:
            out.extend(_ref_findings(project, loc, ref, name, wanted))
    kept = {f for f in out if not _suppressed(project, f)}
    return sorted(kept, key=Finding.sort_key)


def _interpolation_findings(project: Project, wanted: set[str]) -> list[Finding]:
    out: list[Finding] = []
    for cf in project.files:
        for usage in cf.usages:
            service = _service_of(usage.path)
            for ref in usage.refs:
                out.extend(_ref_findings(project, usage.loc, ref, service, wanted))
    for loc, ref in project.dotenv_refs:
        out.extend(_ref_findings(project, loc, ref, None, wanted))
    return out


def _ref_findings(
    project: Project, loc: Loc, ref: Ref, service: str | None, wanted: set[str]
) -> list[Finding]:
    """The finding for one ``${VAR}`` reference met while interpolating (a compose file, the
    project ``.env`` or an env file), if it is one: names and the template's operator only."""
    env_hint = "set it in {}, in an env file passed with -f, or in the environment".format(
        project.dotenv_path or ".env"
    )
    if ref.failed and "required-variable" in wanted:
        return [
            Finding(
                "required-variable",
                "error",
                f"${{{ref.name}{ref.op}...}} requires {ref.name}, which is "
                f"{'empty' if ref.found else 'not set'}: compose refuses to start",
                **_at(loc),
                hint=env_hint,
                variable=ref.name,
                service=service,
            )
        ]
    if ref.undefined and "undefined-variable" in wanted:
        return [
            Finding(
                "undefined-variable",
                "warning",
                f"${{{ref.name}}} has no default and is not set anywhere: "
                "compose substitutes an empty string",
                **_at(loc),
                hint=f"{env_hint}, or write ${{{ref.name}:-default}}",
                variable=ref.name,
                service=service,
            )
        ]
    return []


def _service_of(path: tuple[str, ...]) -> str | None:
    return path[1] if len(path) > 1 and path[0] == "services" else None


def _service_findings(project: Project, env: ServiceEnvironment, wanted: set[str]) -> list[Finding]:
    svc = env.service
    out: list[Finding] = []
    if "missing-env-file" in wanted:
        for ref in env.missing_files:
            if ref.required:
                out.append(
                    Finding(
                        "missing-env-file",
                        "error",
                        f"env_file {ref.shown} does not exist (looked for {ref.display})",
                        **_at(ref.loc),
                        hint=RULES["missing-env-file"].help,
                        service=svc.name,
                    )
                )
    for name, setting in svc.environment.items():
        if "hardcoded-secret" in wanted and setting.raw is not None:
            out.extend(
                _hardcoded(
                    name,
                    setting,
                    svc.name,
                    how="secretsafe encrypt; secretsafe run -f .env.enc -- docker compose up",
                )
            )
            # Earlier overlays' literals too: they stay in the repository.
            for prev in setting.previous:
                out.extend(_hardcoded(name, prev, svc.name))
        if "conflicting-value" in wanted and setting.previous:
            for prev in setting.previous:
                if prev.loc.file != setting.loc.file and prev.raw != setting.raw:
                    out.append(
                        Finding(
                            "conflicting-value",
                            "note",
                            f"{name} is set to different values in {prev.loc} and "
                            f"{setting.loc}; {setting.loc.file} wins (the later file)",
                            **_at(setting.loc),
                            hint=RULES["conflicting-value"].help,
                            variable=name,
                            service=svc.name,
                        )
                    )
    if "tls-verify-disabled" in wanted:
        for var in env.variables.values():
            if tls_disabled(var.name, var.value):
                out.append(
                    Finding(
                        "tls-verify-disabled",
                        "error",
                        f"{var.name} turns TLS certificate verification off for service {svc.name}",
                        **_at(var.loc),
                        hint=RULES["tls-verify-disabled"].help,
                        variable=var.name,
                        service=svc.name,
                    )
                )
    if "docker-socket" in wanted:
        for mount in svc.volumes:
            if is_docker_socket(mount.source):
                ro = (
                    " (read-only does not help: the API is still writable)"
                    if mount.read_only
                    else ""
                )
                out.append(
                    Finding(
                        "docker-socket",
                        "warning",
                        f"service {svc.name} mounts the Docker socket {mount.shown_source}{ro}: "
                        "whoever controls the container controls the host",
                        **_at(mount.loc),
                        hint=RULES["docker-socket"].help,
                        service=svc.name,
                    )
                )
    return out


def _hardcoded(name: str, setting: Setting, service: str, *, how: str = "") -> list[Finding]:
    """A ``hardcoded-secret`` finding for ``setting`` when it holds a literal secret."""
    if setting.raw is None:
        return []
    reason = literal_secret_reason(name, setting.raw, templated=setting.templated)
    if not reason:
        return []
    return [
        Finding(
            "hardcoded-secret",
            "error",
            f"{name} is hardcoded in the compose file: {reason}",
            **_at(setting.loc),
            hint=f"write {name}: ${{{name}}} and keep the value in an encrypted env file"
            + (f" ({how})" if how else ""),
            variable=name,
            service=service,
        )
    ]


# ----------------------------------------------------------------------------- schema check
def _interpolated_labels(service: Service, names: Sequence[str]) -> bool:
    """Whether any of the labels ``names`` got its value from interpolation (then neither
    the value nor an error about it may be quoted)."""
    return any((s := service.labels.get(n)) is not None and s.templated for n in names)


def schema_label(service: Service) -> tuple[str | None, str | None]:
    """The ``secretsafe.schema`` (and ``secretsafe.environment``) labels of a service."""
    spec = service.labels.get(SCHEMA_LABEL)
    envname = service.labels.get(ENVIRONMENT_LABEL)
    return (
        spec.value if spec is not None and spec.value else None,
        envname.value if envname is not None and envname.value else None,
    )


class Override(NamedTuple):
    """An overlay file replacing a value set by an earlier file: ordinary, not a finding."""

    service: str
    variable: str
    file: str


def overrides(project: Project) -> list[Override]:
    """Every variable of every service whose value a later compose file replaces."""
    out: list[Override] = []
    for svc in project.services.values():
        for name, setting in svc.environment.items():
            if any(
                p.loc.file != setting.loc.file and p.raw != setting.raw for p in setting.previous
            ):
                out.append(Override(svc.name, name, setting.loc.file))
    return out


@dataclass
class ComposeReport:
    """The outcome of ``secretsafe check --compose``: findings (for every service of the
    stack), the services whose environment was checked against a schema, and the overlay
    overrides (counted, not findings)."""

    files: tuple[str, ...]
    services: tuple[str, ...]
    findings: list[Finding] = field(default_factory=list)
    schemas: dict[str, str] = field(default_factory=dict)
    overrides: list[Override] = field(default_factory=list)
    #: Services left out because their profiles are not enabled.
    disabled: tuple[str, ...] = ()

    def overrides_line(self) -> str | None:
        """One line for the overlay overrides, or ``None`` when there are none."""
        if not self.overrides:
            return None
        by_file: dict[str, int] = {}
        for o in self.overrides:
            by_file[o.file] = by_file.get(o.file, 0) + 1
        services = len({o.service for o in self.overrides})
        files = ", ".join(f"{n} by {f}" for f, n in by_file.items())
        noun = "service" if services == 1 else "services"
        return (
            f"overlays: {len(self.overrides)} values of {services} {noun} overridden ({files}); "
            "ordinary overrides, not findings"
        )

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        counts = {s: sum(1 for f in self.findings if f.severity == s) for s in SEVERITIES}
        return {
            "version": 1,
            "ok": self.ok,
            "files": list(self.files),
            "services": [{"name": s, "schema": self.schemas.get(s)} for s in self.services],
            "counts": counts,
            "findings": [f.to_dict() for f in self.findings],
            "overrides": [o._asdict() for o in self.overrides],
            "disabled_services": list(self.disabled),
        }


def check_compose(
    project: Project,
    *,
    services: Sequence[str],
    spec: str | type[Any] | None = None,
    environment: str | None = None,
    unknown: Literal["error", "warning", "off"] = "error",
    decrypt: bool = True,
) -> ComposeReport:
    """Compose findings for every service of the stack (a pre-deploy check gives the whole
    picture) plus, for each of ``services``, the schema check of its resulting environment:
    ``spec``, else the service's ``secretsafe.schema`` label (a service with neither gets
    compose findings only)."""
    from secretsafe.errors import SecretsafeError
    from secretsafe.schemas import check

    cache = EnvFileCache(decrypt=decrypt)
    findings = compose_findings(project, decrypt=decrypt, cache=cache)
    schemas: dict[str, str] = {}
    for name in services:
        env = service_environment(project, name, decrypt=decrypt, cache=cache)
        label_spec, label_env = schema_label(env.service)
        use = spec if spec is not None else label_spec
        if use is None:
            continue
        labels = [SCHEMA_LABEL] * (spec is None) + [ENVIRONMENT_LABEL] * (environment is None)
        labels = [n for n in labels if n in env.service.labels]
        tainted = _interpolated_labels(env.service, labels)
        if spec is None and _interpolated_labels(env.service, [SCHEMA_LABEL]):
            schemas[name] = env.service.labels[SCHEMA_LABEL].raw or ""
        else:
            schemas[name] = use if isinstance(use, str) else getattr(use, "__name__", str(use))
        failed: SecretsafeError | None = None
        try:
            report = check(
                use,
                env.values(),
                environment=environment if environment is not None else label_env,
                unknown=unknown,
                sources=env.sources(),
                read_files=False,  # NAME_FILE paths are inside the container
            )
        except SecretsafeError as exc:
            if not tainted:
                raise
            failed = exc
        if failed is not None:
            # The error may quote the interpolated spec or environment (or parts of them):
            # name the labels instead, raised outside the except block so that the original
            # is not even its __context__.
            raise type(failed)(
                f"{env.service.loc}: service {name}: the schema {schemas[name]} cannot be "
                f"checked with the label(s) {', '.join(labels)} ({type(failed).__name__})",
                hint="the labels come from ${...} interpolation: check the variables they use, "
                "or pass --service NAME --schema SPEC (and --environment)",
            )
        for p in report.problems:
            var = env.variables.get(p.variable) if p.variable else None
            loc = var.loc if var is not None else env.service.locs[-1]
            hint = p.hint
            if var is not None and var.kind == "env_file":
                where = f"set in {var.loc}"
                hint = f"{hint}; {where}" if hint else where
            findings.append(
                Finding(
                    f"schema.{p.kind}",
                    "warning" if p.severity == "warning" else "error",
                    f"{p.variable or p.field or env.service.name}: {p.message}",
                    **_at(loc),
                    hint=hint,
                    variable=p.variable or p.field,
                    service=name,
                    suggestions=tuple(p.suggestions),
                )
            )
    findings = [f for f in findings if not _suppressed(project, f)]
    findings.sort(key=Finding.sort_key)
    return ComposeReport(
        files=tuple(f.path for f in project.files),
        services=tuple(services),
        findings=findings,
        schemas=schemas,
        overrides=overrides(project),
        disabled=tuple(project.disabled),
    )


def namespace_services(project: Project, spec: str | type[Any]) -> list[str]:
    """The services that set a variable of ``spec``'s namespace: one under one of its
    sections (``DATABASE__HOST`` for a ``database`` section), or, for a schema without
    sections, one it declares. Compared case-insensitively, as pydantic-settings compares.
    A shared top-level name alone (``ENVIRONMENT``, ``DEBUG``) does not pull a service in."""
    from secretsafe.schemas.generate import variable_names
    from secretsafe.schemas.spec import load_spec

    model = load_spec(spec) if isinstance(spec, str) else spec
    names = {str(v["variable"]).upper() for v in variable_names(model)}
    sections = tuple({n.split("__", 1)[0] + "__" for n in names if "__" in n})
    out = []
    cache = EnvFileCache(decrypt=False)
    for name in project.services:
        env = service_environment(project, name, decrypt=False, cache=cache)
        upper = [v.upper() for v in env.variables]
        if any(v.startswith(sections) for v in upper) if sections else names.intersection(upper):
            out.append(name)
    return out
