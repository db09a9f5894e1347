"""Generates the 50-service compose stack used by the tests and benchmarks/bench_compose.py:
anchors, merge keys, 20 env files, a production overlay, and five planted problems whose
file and line are recorded as the file is written."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SERVICES = 50
ENV_FILES = 20


@dataclass
class BigStack:
    root: Path
    base: Path
    overlay: Path
    #: (rule, file name, line, service, variable) of each planted problem.
    expected: set[tuple[str, str, int, str, str | None]] = field(default_factory=set)
    #: every literal value written to a compose or env file that must never be printed.
    canaries: list[str] = field(default_factory=list)


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, text: str) -> int:
        self.lines.append(text)
        return len(self.lines)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def write_big_stack(
    root: Path, *, services: int = SERVICES, env_files: int = ENV_FILES
) -> BigStack:
    root.mkdir(parents=True, exist_ok=True)
    (root / "env").mkdir(exist_ok=True)
    stack = BigStack(root, root / "compose.yml", root / "compose.production.yml")
    for i in range(env_files):
        lines = [f"# settings of svc-{i:02d}"]
        for j in range(12):
            lines.append(f"SVC{i:02d}_OPTION_{j}=value-{i}-{j}")
        secret = f"cAnArY-envfile-{i:02d}-k3Jq9Vx2Lp"
        stack.canaries.append(secret)
        lines.append(f"SVC{i:02d}_API_TOKEN={secret}")
        (root / "env" / f"svc-{i:02d}.env").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / ".env").write_text(
        "".join(f"SVC{i:02d}_TAG=1.{i}.0\n" for i in range(services))
        + "REGISTRY=ghcr.io/example\n",
        encoding="utf-8",
    )

    w = _Writer()
    w.add("name: lab")
    w.add("x-logging: &default-logging")
    w.add("  driver: json-file")
    w.add("  options: {max-size: 10m, max-file: '3'}")
    w.add("x-common-env: &common-env")
    w.add("  TZ: Europe/Berlin")
    w.add("  LOG_FORMAT: json")
    w.add("  OTEL_EXPORTER_OTLP_ENDPOINT: http://otel:4317")
    w.add("x-healthcheck: &healthcheck")
    w.add("  interval: 30s")
    w.add("  timeout: 5s")
    w.add("  retries: 3")
    w.add("x-service: &service")
    w.add("  restart: unless-stopped")
    w.add("  logging: *default-logging")
    w.add("  networks: [lab]")
    w.add("services:")
    for i in range(services):
        name = f"svc-{i:02d}"
        w.add(f"  {name}:")
        w.add("    <<: *service")
        w.add(f"    image: ${{REGISTRY}}/{name}:${{SVC{i:02d}_TAG:-latest}}")
        w.add("    healthcheck:")
        w.add("      <<: *healthcheck")
        w.add(f"      test: [CMD, curl, -f, http://localhost:{8000 + i}/health]")
        w.add(f"    ports: ['{10000 + i}:{8000 + i}']")
        if i < env_files:
            w.add("    env_file:")
            w.add(f"      - env/svc-{i:02d}.env")
        if i == 33:
            w.add("    env_file:")
            line = w.add("      - path: env/missing.env")
            w.add("        required: true")
            stack.expected.add(("missing-env-file", "compose.yml", line, name, None))
        w.add("    environment:")
        w.add("      <<: *common-env")
        w.add(f"      SERVICE_NAME: {name}")
        w.add(f"      PORT: {8000 + i}")
        w.add(f"      DATABASE__PASSWORD: ${{SVC{i:02d}_DB_PASSWORD:-}}")
        w.add(f"      UPSTREAM: http://svc-{(i + 1) % services:02d}:{8000 + (i + 1) % services}")
        if i == 7:
            secret = "cAnArY-smtp-Wd83nQx0Tr5y"
            stack.canaries.append(secret)
            line = w.add(f"      SMTP_PASSWORD: {secret}")
            stack.expected.add(("hardcoded-secret", "compose.yml", line, name, "SMTP_PASSWORD"))
        if i == 21:
            line = w.add("      PYTHONHTTPSVERIFY: '0'")
            stack.expected.add(
                ("tls-verify-disabled", "compose.yml", line, name, "PYTHONHTTPSVERIFY")
            )
        if i == 42:
            line = w.add("      FEATURE_FLAGS_URL: ${FLAGS_URL}")
            stack.expected.add(("undefined-variable", "compose.yml", line, name, "FLAGS_URL"))
        w.add("    labels:")
        w.add(f"      lab.team: team-{i % 5}")
        w.add("    volumes:")
        w.add(f"      - {name}-data:/data")
        if i == 13:
            line = w.add("      - /var/run/docker.sock:/var/run/docker.sock")
            stack.expected.add(("docker-socket", "compose.yml", line, name, None))
    w.add("networks:")
    w.add("  lab: {}")
    w.add("volumes:")
    for i in range(services):
        w.add(f"  svc-{i:02d}-data: {{}}")
    stack.base.write_text(w.text(), encoding="utf-8")

    o = _Writer()
    o.add("services:")
    for i in range(0, services, 5):
        o.add(f"  svc-{i:02d}:")
        o.add("    environment:")
        o.add("      LOG_FORMAT: json")
        o.add(f"      REPLICA_COUNT: {2 + i % 3}")
    stack.overlay.write_text(o.text(), encoding="utf-8")
    return stack
