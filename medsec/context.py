"""The typed context every command receives (no untyped dicts)."""

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from medsec import atrest, audit, clock, config
from medsec.errors import EnvironmentFailure
from medsec.store.api import Backend, Record, StoreLocation, Writer, locate_store, open_store

if TYPE_CHECKING:
    from medsec.plugins import MedsecPluginManager
    from medsec.security.principal import Principal


@dataclass
class AppContext:
    """Who runs which command on which data directory; the store, the
    practice's time zone and the plugins, each set up on first use."""

    data_dir: str
    user: str
    debug: bool = False
    command: str = ""
    store_url: str | None = None  # --store / $MEDSEC_STORE: a PostgreSQL store
    named_user: str | None = None  # who --user or $MEDSEC_USER names (None: the login was taken)
    token_file: str | None = None  # --token-file: a service token (medsec.security.tokens)
    principal: "Principal | None" = None  # who acts, once the gate let the command run (medsec.security)
    break_glass: str | None = None  # --break-glass: why a restricted chart is opened (medsec.records.patients)
    broke_glass_for: set[str] = field(default_factory=set)  # the patients it opened (audited once each)
    _store: Backend | None = field(default=None, repr=False)
    _tz: tzinfo | None = field(default=None, repr=False)
    _plugins: "MedsecPluginManager | None" = field(default=None, repr=False)
    _location: StoreLocation | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        atrest.forget()  # a data key opened by an earlier command in this process is not this one's

    @property
    def location(self) -> StoreLocation:
        """Where the store is: the data directory, or the PostgreSQL database that --store,
        $MEDSEC_STORE or the data directory's pointer file names (InvalidInput when two differ)."""
        if self._location is None:
            self._location = locate_store(self.data_dir, self.store_url)
        return self._location

    @property
    def initialized(self) -> bool:
        return self.location.url is not None or os.path.exists(os.path.join(self.data_dir, "medsec.yaml"))

    @property
    def store(self) -> Backend:
        """The practice's store; exit 3 with a hint when it is not set up."""
        if self._store is None:
            where = self.location
            if where.url is None:
                self._check_data_dir()
            store = open_store(self.data_dir, where.url, where.password_env)
            if where.url:
                config.kept_in_store(self.data_dir, store.document)
            store.actor = self._actor  # every commit is audited as begun before it is made
            self._store = store  # a refusal below is still audited there, if it can be
            self._probe_audit(store)
        return self._store

    def _check_data_dir(self) -> None:
        if not os.path.isdir(self.data_dir):
            raise EnvironmentFailure(
                f"no data directory at {self.data_dir}",
                hint="run 'medsec init' or set --data-dir / MEDSEC_HOME",
            )
        if not self.initialized:
            raise EnvironmentFailure(
                f"{self.data_dir} is not a medsec data directory (no medsec.yaml)",
                hint="run 'medsec init' there first",
            )
        config.load(self.data_dir, "medsec.yaml")  # refuses another schema version (exit 3)

    @staticmethod
    def _probe_audit(store: Backend) -> None:
        """Refuse (exit 3) any command on a store whose audit log cannot be appended to:
        nothing may be read or changed unaudited. A full disk shows only on a write:
        the commit (see Store.commit) and `audit` below refuse then."""
        try:
            # In UTC: the practice's zone needs practice.yaml, which `config check` must
            # be able to report on (near a month's end this may touch the next month's file).
            store.probe_audit(clock.now())
        except OSError as e:
            raise EnvironmentFailure(f"the audit log cannot be written: {_reason(e)}: refused, nothing was "
                                     "read or changed", hint="make audit/ a writable folder") from e

    def _actor(self) -> tuple[str, str, datetime]:
        """Who commits, with which command, now (the store's audit of a commit)."""
        return self.user, self.command or "?", clock.now(self.tz)

    def config(self, name: str) -> Any:
        """The data of configuration document `name` (parsed YAML, checked)."""
        return self.store.document(name)

    @property
    def tz(self) -> tzinfo:
        """The practice's time zone (practice.yaml), UTC until one is set."""
        if self._tz is None:
            practice = self.config("practice.yaml") if self.initialized else None
            name = practice.get("time_zone") if practice else None
            self._tz = clock._zone(name) if name else UTC
            clock.use_practice(practice)  # its date order and office hours, for the dates typed in its zone
        return self._tz

    def now(self) -> datetime:
        return clock.now(self.tz)

    def today(self) -> date:
        return self.now().date()

    def parse_date(self, text: str, field: str = "date") -> date:
        return clock.parse_date(text, self.tz, field)

    @property
    def plugins(self) -> "MedsecPluginManager":
        """The plugin manager, built on first use (discovery costs start-up)."""
        if self._plugins is None:
            from medsec.plugins import get_plugin_manager  # pluggy: commands without plugins do not pay

            self._plugins = get_plugin_manager()
        return self._plugins

    def after_commit(self, txn: Writer, hook: str, records: list[Record], arg: str, **extra: object) -> None:
        """Fire event `hook` once per record (as argument `arg`) after `txn` commits.

        The plugin manager is built now, inside the transaction, so a plugin
        that fails to load stops the command before anything is written; it
        is not built when only plugins that implement no event would load.
        """
        from medsec.plugin_discovery import events_may_be_heard

        if self._plugins is None and not events_may_be_heard():
            return
        from medsec.plugins import fire  # pluggy: only when a plugin may listen

        pm = self.plugins

        def run() -> None:
            for record in records:
                fire(pm, hook, **{arg: record}, app=self, **extra)

        txn.after_commit.append(run)

    def audit(self, action: str, ids: Iterable[str] = (), outcome: str = "ok") -> None:
        """Append what this command did to the audit log.

        After a commit the entry names it (its "begun" entry was written before
        the commit was made). If it cannot be written after a commit that was
        made, the change stands, audited as begun, and a warning says so.
        Otherwise (a read, a refusal) the command fails with exit 3 before it
        shows anything: patient data is never read unaudited.
        """
        store = self._store
        commit_id = store.commit_id if store is not None else None
        extra = {"commit": commit_id} if commit_id else {}
        try:
            self.store.audit(audit.entry(user=self.user, command=self.command, action=action,
                                         ids=ids, outcome=outcome, at=clock.now(self.tz), **extra))
        except OSError as e:
            reason = f"the audit log cannot be written: {_reason(e)}"
            if store is None or not store.committed:
                raise EnvironmentFailure(f"{reason}: refused, as patient data is not shown unaudited",
                                         hint="make audit/ writable or free space") from e
            self._audited_as_begun(reason)
        except EnvironmentFailure as e:  # a database store that went away: its own one-line reason
            if store is None or not store.committed:
                raise
            self._audited_as_begun(f"the audit log cannot be written: {e.message}")

    def _audited_as_begun(self, reason: str) -> None:
        """Say that a change made stands, audited only by its "begun" entry."""
        commit_id = self._store.commit_id if self._store is not None else None
        print(f"medsec: warning: {reason}; the change was made and is audited as begun "
              f"(commit {commit_id})", file=sys.stderr)


def _reason(e: OSError) -> str:
    """An OSError as a lowercase phrase (the audit log's path is implied)."""
    reason = str(e.strerror or e)
    return reason[:1].lower() + reason[1:]
