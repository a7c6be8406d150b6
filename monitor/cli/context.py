"""What every CLI handler gets: the parsed arguments plus lazily loaded config and database."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from monitor.config import Config, load_config, resolve_config_path
from monitor.store import db

if TYPE_CHECKING:
    from sqlalchemy import Engine


_DELIVERING = frozenset({"run", "check-config", "notify", None})


class Context:
    """Loads the config and opens the (migrated) database on first use."""

    def __init__(self, args: argparse.Namespace, environ: dict[str, str] | None = None) -> None:
        self.args = args
        self.environ = dict(os.environ if environ is None else environ)
        self._config: Config | None = None
        self._engine: Engine | None = None

    @property
    def config_path(self) -> str:
        return str(resolve_config_path(getattr(self.args, "config", None), self.environ))

    def config(self) -> Config:
        """The validated config (raises ConfigError: exit 2). The commands that never
        deliver read it without the channels' secrets (a ``${VAR}`` of a channel URL
        may be unset): only ``run``, ``check-config`` and ``notify`` need them."""
        if self._config is None:
            lenient = getattr(self.args, "command", None) not in _DELIVERING
            self._config = load_config(self.config_path, self.environ, unset_channel_env=lenient)
        return self._config

    def engine(self) -> Engine:
        """The existing database, at the current schema. Commands never create or migrate
        it (``monitor run`` and ``monitor db upgrade`` do): a missing file or a stale
        schema is a one-line error."""
        if self._engine is None:
            maintains = getattr(self.args, "db_command", None) in ("optimize", "prune")
            engine = db.make_engine(
                self.config().monitor.database,
                create=False,
                read_only_if_unwritable=not maintains,  # those must say they cannot write
            )
            db.check_schema(engine)
            self._engine = engine
        return self._engine

    def session_factory(self) -> db.SessionFactory:
        """Sessions on the migrated database."""
        return db.make_session_factory(self.engine())
