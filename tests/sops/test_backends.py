"""One contract for both sops backends: the native codec and the real sops binary subclass
the same test class, so they read, write and refuse the same things."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pyrage
import pytest

from secretsafe.errors import DecryptionError, FormatError, IntegrityError
from secretsafe.keys import Identity
from secretsafe.sops import native
from secretsafe.sops.backends import BinaryBackend, NativeBackend, SopsBackend, backend_named
from secretsafe.sops.model import Comment, Entry, Item, Rules
from tests.conftest import AgeKey

CANARY = "canary-backend-contract-41c7"
ITEMS: list[Item] = [
    Comment(" database"),
    Entry("DB_PASSWORD", CANARY),
    Entry("MULTILINE", "line1\nline2"),
    Entry("SPACES", "  padded  "),
    Entry("EMPTY", ""),
    Comment(""),
    Entry("has space", "odd name"),
    Entry("PORT_unencrypted", "5432"),
]


def _me(key: AgeKey) -> list[Identity]:
    return [Identity(key.identity, source="test")]


def _sops(sops_bin: Path, env: dict[str, str], *args: str, stdin: bytes = b"") -> bytes:
    proc = subprocess.run(
        [str(sops_bin), *args], input=stdin, capture_output=True, env=env, timeout=60, check=False
    )
    assert proc.returncode == 0, (args, proc.returncode)
    return proc.stdout


class BackendContract:
    backend: SopsBackend

    def test_round_trip_keeps_items_and_comments(self, age_key: AgeKey) -> None:
        text = self.backend.encrypt(
            ITEMS, key_groups=[[age_key.recipient]], shamir_threshold=None, rules=Rules()
        )
        assert CANARY not in text
        assert "PORT_unencrypted=5432\n" in text
        doc = self.backend.decrypt(text, _me(age_key))
        assert list(doc.items) == ITEMS
        assert doc.metadata.recipients == (age_key.recipient,)

    def test_reads_what_sops_writes(
        self, age_key: AgeKey, sops_bin: Path, sops_env: dict[str, str]
    ) -> None:
        values = {"A": "lit\\nx", "B": "x\ny", "C": CANARY, "N": 1.5, "T": True, "I": 7}
        text = _sops(
            sops_bin,
            sops_env,
            *("encrypt", "--age", age_key.recipient, "--input-type", "json"),
            *("--output-type", "dotenv", "/dev/stdin"),
            stdin=json.dumps(values).encode(),
        ).decode()
        got = self.backend.decrypt(text, _me(age_key)).values.reveal()
        # sops reads JSON numbers as float64: it prints the int 7 as 7.0
        expected = {"A": "lit\\nx", "B": "x\ny", "C": CANARY, "N": "1.5", "T": "true"}
        assert got == {**expected, "I": "7.0"}

    def test_sops_reads_what_it_writes(
        self, age_key: AgeKey, sops_bin: Path, sops_env: dict[str, str]
    ) -> None:
        text = self.backend.encrypt(
            ITEMS, key_groups=[[age_key.recipient]], shamir_threshold=None, rules=Rules()
        )
        out = _sops(
            sops_bin,
            sops_env,
            *("decrypt", "--input-type", "dotenv", "--output-type", "json", "/dev/stdin"),
            stdin=text.encode(),
        )
        assert json.loads(out) == {i.key: i.value for i in ITEMS if isinstance(i, Entry)}

    @pytest.mark.parametrize(
        "rules",
        [Rules(encrypted_regex="^DB_"), Rules(unencrypted_suffix="_unencrypted"), Rules()],
        ids=["encrypted_regex", "suffix", "default"],
    )
    def test_rules_decide_what_is_encrypted(self, age_key: AgeKey, rules: Rules) -> None:
        text = self.backend.encrypt(
            ITEMS, key_groups=[[age_key.recipient]], shamir_threshold=None, rules=rules
        )
        native.verify_encrypted(text, items=ITEMS, rules=rules)
        assert CANARY not in text
        assert native.parse_metadata(text).rules == native._normalized(rules)

    def test_key_groups_with_shamir(self, tmp_path: Path) -> None:
        keys = [pyrage.x25519.Identity.generate() for _ in range(3)]
        groups = [[str(k.to_public())] for k in keys]
        text = self.backend.encrypt(ITEMS, key_groups=groups, shamir_threshold=2, rules=Rules())
        two = [Identity(str(k), source="test") for k in keys[1:]]
        assert list(self.backend.decrypt(text, two).items) == ITEMS
        with pytest.raises(DecryptionError):
            self.backend.decrypt(text, two[:1])

    def test_wrong_identity_is_a_decryption_error(
        self, age_key: AgeKey, other_age_key: AgeKey
    ) -> None:
        text = self.backend.encrypt(
            ITEMS, key_groups=[[age_key.recipient]], shamir_threshold=None, rules=Rules()
        )
        with pytest.raises(DecryptionError) as info:
            self.backend.decrypt(text, _me(other_age_key))
        assert CANARY not in str(info.value)

    def test_changed_value_is_an_integrity_error(self, age_key: AgeKey) -> None:
        text = self.backend.encrypt(
            ITEMS, key_groups=[[age_key.recipient]], shamir_threshold=None, rules=Rules()
        )
        tampered = text.replace("PORT_unencrypted=5432", "PORT_unencrypted=5433")
        with pytest.raises(IntegrityError):
            self.backend.decrypt(tampered, _me(age_key))

    def test_reserved_key_is_refused(self, age_key: AgeKey) -> None:
        with pytest.raises(FormatError):
            self.backend.encrypt(
                [Entry("sops_mac", "x")],
                key_groups=[[age_key.recipient]],
                shamir_threshold=None,
                rules=Rules(),
            )


class TestNativeBackend(BackendContract):
    backend = NativeBackend()


class TestBinaryBackend(BackendContract):
    backend = BinaryBackend()


def test_backends_by_name() -> None:
    assert isinstance(backend_named("native"), NativeBackend)
    assert isinstance(backend_named("sops"), BinaryBackend)
