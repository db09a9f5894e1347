"""Read an application's values from Vault at startup.

With secretsafe::

    settings = secretsafe.load(Settings, env_files=[".env.enc"],
                               vault=VaultSource(path="apps/api/prod"))

``secretsafe.load`` documents how the Vault values combine with env files and the process
environment. With plain pydantic-settings, add the source in ``settings_customise_sources``::

    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__")

        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                       dotenv_settings, file_secret_settings):
            vault = VaultSource(path="apps/api/prod").settings_source(settings_cls)
            # the environment wins over Vault, Vault over .env files
            return init_settings, env_settings, vault, dotenv_settings, file_secret_settings

Values are variable names as in the env file (``DATABASE__HOST``) and go through the same
``__`` nesting as environment variables. One request for the flat layout (one per section for
``sections``). Connection options are those of :func:`secretsafe.vault.client.connect`; by
default everything comes from ``VAULT_ADDR`` (one address or a comma-separated node list) /
``VAULT_TOKEN`` / AppRole variables. Reads go through a
:class:`~secretsafe.vault.reader.Session`, which renews a renewable token and logs in again
with AppRole when the token expired (``docs/vault-lifetimes.md``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from secretsafe.vault.client import DEFAULT_RETRIES, DEFAULT_TIMEOUT, AppRole

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings, EnvSettingsSource

    from secretsafe.vault.client import VaultClient
    from secretsafe.vault.reader import Session
    from secretsafe.vault.sync import Layout

__all__ = ["VaultSource"]


@dataclass(frozen=True)
class VaultSource:
    """Where an application's values live in Vault, and how to connect.

    ``client``: an open :class:`VaultClient` to reuse (then the connection options are
    ignored). ``version``: pin an older KV version (flat layout).
    """

    path: str
    mount: str = "secret"
    layout: Layout | None = None
    version: int | None = None
    addr: str | None = None
    token: str | None = field(default=None, repr=False)
    namespace: str | None = None
    ca_cert: str | os.PathLike[str] | None = None
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    approle: AppRole | None = None
    client: VaultClient | None = field(default=None, repr=False, compare=False)
    _session: Session | None = field(default=None, init=False, repr=False, compare=False)

    def read(self) -> Mapping[str, str]:
        """The values at :attr:`path` by variable name (a masked mapping).

        Without ``client``, reads go through one :meth:`session`, kept between reads: an app
        that reads again later gets its token renewed, or a new AppRole login once it expired
        (``docs/vault-lifetimes.md``)."""
        from secretsafe.vault.sync import pull

        if self.client is not None:
            return pull(
                self.client,
                path=self.path,
                mount=self.mount,
                layout=self.layout,
                version=self.version,
            )
        session = self.session()
        try:
            return session.call(
                lambda c: pull(
                    c, path=self.path, mount=self.mount, layout=self.layout, version=self.version
                )
            )
        finally:
            # No idle connection is kept open between reads (the token state is kept).
            session.client(check=False).transport.close()

    def session(self) -> Session:
        """The :class:`~secretsafe.vault.reader.Session` this source reads through: ``addr``
        (or ``VAULT_ADDR``) may list several nodes, comma-separated. Opened on first use."""
        session = self._session
        if session is None:
            from secretsafe.vault.reader import Session

            session = Session(
                addr=self.addr,
                token=self.token,
                approle=self.approle,
                namespace=self.namespace,
                ca_cert=self.ca_cert,
                timeout=self.timeout,
                retries=self.retries,
            )
            # A frozen dataclass: the session is cached state, not part of its value.
            object.__setattr__(self, "_session", session)
        return session

    def settings_source(self, settings_cls: type[BaseSettings]) -> EnvSettingsSource:
        """A pydantic-settings source reading these values (once, when settings are built)."""
        source: EnvSettingsSource = _settings_source_class()(settings_cls, self)
        return source


_CLASS: Any = None


def _settings_source_class() -> Any:
    # Built on first use so that importing this module does not import pydantic.
    global _CLASS  # noqa: PLW0603 - a lazily built class, cached
    if _CLASS is not None:
        return _CLASS
    from pydantic_settings import EnvSettingsSource

    class VaultSettingsSource(EnvSettingsSource):
        """Environment-variable semantics (prefix, ``__`` nesting, case rules of the model's
        config) over the values read from Vault instead of ``os.environ``."""

        def __init__(self, settings_cls: type[BaseSettings], vault: VaultSource) -> None:
            self._vault = vault
            super().__init__(settings_cls)

        def _load_env_vars(self) -> Mapping[str, str | None]:
            values = self._vault.read()
            if self.case_sensitive:
                return dict(values.items())
            return {k.lower(): v for k, v in values.items()}

        def __repr__(self) -> str:
            return f"VaultSettingsSource(path={self._vault.path!r}, mount={self._vault.mount!r})"

    _CLASS = VaultSettingsSource
    return _CLASS
