"""The database under faults and contention, through the real CLI and real SQLite files.

- A corrupted, truncated or foreign file, a folder, a read-only file system and a full
  disk: every command says ``database error: <path>: <what>; <what to do>`` on one line
  and exits 1, never a traceback; ``run`` and ``run --once`` refuse a corrupted file
  at start (``PRAGMA quick_check``) instead of working on it or exiting 0.
- One daemon per SQLite database (a ``flock`` on ``<db>.lock``), and a ``run --once``
  beside it never re-queues the alert the daemon is sending (the claim lease).
- What the store creates is private: folders 0700, the database, its ``-wal``/``-shm``,
  the lock files and backups 0600, whatever the umask.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.errors import DatabaseError
from monitor.store import db, housekeeping, outbox
from monitor.store.db import acquire_database_lock, make_engine, session_scope, upgrade
from monitor.store.schema import AlertRow
from tests.support import ROOT, LocalServer, cli_env, run_monitor
from tests.test_daemon import start, wait_until
from tests.test_delivery_support import add_alert, alert_row
from tests.test_pipeline import make_config, rss

# Runs each command line in one child process through monitor.cli.main, the console
# script's entry point, and reports its exit code and stderr (or the traceback it let
# out). One child per fault instead of one per command keeps the test fast.
# argv[2], when not empty, caps the database at that many pages on every connection:
# SQLite's own "database or disk is full" (SQLITE_FULL), as from a full disk.
CHILD = r"""
import contextlib, io, json, sys, traceback
pages = int(sys.argv[2] or 0)
if pages:
    from sqlalchemy import Engine, event
    event.listen(Engine, "connect", lambda c, _r: c.execute(f"PRAGMA max_page_count = {pages}"))
from monitor.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except BaseException as exc:
            code = "traceback"
            err.write("".join(traceback.format_exception(exc)))
    results.append([argv, code, err.getvalue()])
print(json.dumps(results))
"""
LOOKING = (
    ["status"],
    ["status", "--json"],
    ["feeds", "--json"],
    ["alerts"],
)
WRITING_READERS = (["alerts", "retry", "--dead"], ["db", "optimize"])
READERS = (*LOOKING, *WRITING_READERS)


def run_commands(
    cfg: Path, commands: list[list[str]], max_pages: int = 0
) -> list[tuple[list[str], object, str]]:
    full = [["--config", str(cfg), "--log-level", "error", *c] for c in commands]
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(full), str(max_pages or "")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=cli_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return [(argv[4:], code, err) for argv, code, err in json.loads(proc.stdout)]


def assert_one_database_error(results: list[tuple[list[str], object, str]], *words: str) -> None:
    """Every command exited 1 with exactly one line: ``database error: ...`` + words."""
    for argv, code, err in results:
        lines = err.splitlines()
        assert code == 1 and len(lines) == 1, f"{argv}: exit {code}\n{err}"
        assert lines[0].startswith("database error: "), f"{argv}: {lines[0]}"
        for word in words:
            assert word in lines[0], f"{argv}: {lines[0]}"


@pytest.fixture(scope="module")
def schema_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty database file to copy."""
    path = tmp_path_factory.mktemp("template") / "monitor.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def hook(http_server: LocalServer) -> LocalServer:
    http_server.static("/hook", b"{}", {"Content-Type": "application/json"})
    return http_server


def _garbage(path: Path, template: Path) -> None:
    path.write_bytes(os.urandom(64 * 1024))


def _text(path: Path, template: Path) -> None:
    path.write_text("name,url\nexample,https://example.org/rss\n" * 100)


def _truncated(path: Path, template: Path) -> None:
    path.write_bytes(template.read_bytes()[: template.stat().st_size // 2])


def _damaged_pages(path: Path, template: Path) -> None:
    """A file whose header is fine but whose table pages are noise (a bad disk)."""
    data = bytearray(template.read_bytes())
    data[4 * 4096 : 12 * 4096] = os.urandom(8 * 4096)
    path.write_bytes(bytes(data))


def _folder(path: Path, template: Path) -> None:
    path.mkdir()


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (_garbage, "not a SQLite database; restore a backup"),
        (_text, "not a SQLite database"),
        (_truncated, "the file is corrupted"),
        (_damaged_pages, "the file is corrupted"),
        (_folder, "is a folder, not a database file"),
    ],
)
def test_a_broken_database_file_is_one_line_from_every_command(
    tmp_path: Path, hook: LocalServer, schema_db: Path, make, words: str
) -> None:  # type: ignore[no-untyped-def]
    """``run`` (the daemon refuses to start), ``run --once``, ``db upgrade`` and the
    readers: one ``database error`` line naming the file, exit 1."""
    cfg = make_config(tmp_path, hook, [])
    path = tmp_path / "monitor.db"
    make(path, schema_db)
    before = path.read_bytes() if path.is_file() else None
    commands = [["run"], ["run", "--once"], ["db", "upgrade"], *READERS]
    results = run_commands(cfg, commands)
    if make is _damaged_pages:  # readers that touch no damaged page answer from the rest
        writers, readers = results[:3], results[3:]
        assert_one_database_error([r for r in readers if r[1] != 0], f"{path}: ", words)
        results = writers
    assert_one_database_error(results, f"{path}: ", words)
    if before is not None:
        assert path.read_bytes() == before  # refused before anything wrote to it


def test_damaged_pages_are_noticed_by_run_once_even_when_no_query_reads_them(
    tmp_path: Path, hook: LocalServer, schema_db: Path
) -> None:
    """Damage in a table the cycle does not read (the outbox with nothing due): the
    quick_check at open finds it, so ``run --once`` does not exit 0 on a bad file."""
    cfg = make_config(tmp_path, hook, [])
    path = tmp_path / "monitor.db"
    shutil.copy(schema_db, path)
    with sqlite3.connect(path) as conn:
        page = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'operator_notices'"
        ).fetchone()[0]
    data = bytearray(path.read_bytes())
    data[(page - 1) * 4096 : page * 4096] = os.urandom(4096)
    path.write_bytes(bytes(data))
    [(_, code, err)] = run_commands(cfg, [["run", "--once"]])
    assert code == 1 and err.startswith(f"database error: {path}: the file is corrupted"), err


def test_an_unreachable_postgresql_server_is_one_line_without_the_password(
    tmp_path: Path, hook: LocalServer
) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = make_config(tmp_path, hook, [])
    url = f"postgresql+psycopg://monitor:hunter2@127.0.0.1:{port}/press"
    cfg.write_text(cfg.read_text().replace(f"sqlite:///{tmp_path}/monitor.db", url))
    results = run_commands(cfg, [["run", "--once"], ["db", "upgrade"], *READERS[:4]])
    assert_one_database_error(
        results, f"monitor:***@127.0.0.1:{port}/press: ", "check that the server is running"
    )
    assert not any("hunter2" in err for _, _, err in results)


def big_feed(tmp_path: Path, items: int = 600) -> str:
    path = tmp_path / "big.xml"
    path.write_bytes(
        rss(
            *(
                (f"g{i}", f"https://big.example/{i}", f"Story {i} " + "word " * 80)
                for i in range(items)
            )
        )
    )
    return str(path)


def test_a_full_disk_mid_cycle_is_one_line_and_loses_nothing_committed(
    tmp_path: Path, hook: LocalServer, schema_db: Path
) -> None:
    """The database may grow by 30 pages (120 kB) and one poll brings about 300 kB:
    ``run --once`` stops with one line and exit 1, not a traceback and not exit 0;
    the file is intact and the next run, with room, stores everything."""
    cfg = make_config(tmp_path, hook, [big_feed(tmp_path)])
    path = tmp_path / "monitor.db"
    shutil.copy(schema_db, path)
    with sqlite3.connect(path) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    results = run_commands(cfg, [["run", "--once"]], max_pages=pages + 30)
    assert_one_database_error(results, f"{path}: the disk is full; free space")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 0
    [(_, code, err)] = run_commands(cfg, [["run", "--once"]])
    assert code == 0, err
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 600


@contextlib.contextmanager
def tmpfs(where: Path, *options: str, size: str = "1m") -> Iterator[Path]:
    """A small tmpfs mounted at ``where`` (root only; skips the test otherwise)."""
    where.mkdir()
    opts = ",".join((f"size={size}", *options))
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {proc.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a filesystem needs root")
def test_a_real_full_filesystem_is_one_line(
    tmp_path: Path, hook: LocalServer, schema_db: Path
) -> None:
    """The same on a 256 kB tmpfs: SQLite's write fails with ENOSPC, for real."""
    with tmpfs(tmp_path / "state", size="256k") as state:
        cfg = make_config(tmp_path, hook, [big_feed(tmp_path)])
        cfg.write_text(cfg.read_text().replace(f"{tmp_path}/monitor.db", f"{state}/monitor.db"))
        shutil.copy(schema_db, state / "monitor.db")
        results = run_commands(cfg, [["run", "--once"]])
        assert_one_database_error(results, f"{state}/monitor.db: the disk is full")


def test_a_read_only_database_is_one_line_from_every_command(
    tmp_path: Path, hook: LocalServer, schema_db: Path
) -> None:
    """A read-only filesystem (root: a tmpfs remounted read-only) or a read-only file
    and folder (anyone else: root ignores modes)."""
    state = tmp_path / "state"
    with contextlib.ExitStack() as stack:
        if os.geteuid() == 0:
            stack.enter_context(tmpfs(state))
            shutil.copy(schema_db, state / "monitor.db")
            remount = ["mount", "-o", "remount,ro", str(state)]
            subprocess.run(remount, check=True, capture_output=True)
            words = "is mounted read-only"
        else:
            state.mkdir()
            shutil.copy(schema_db, state / "monitor.db")
            (state / "monitor.db").chmod(0o400)
            state.chmod(0o500)
            stack.callback(state.chmod, 0o700)
            words = "writable by"
        cfg = make_config(tmp_path, hook, [])
        cfg.write_text(cfg.read_text().replace(f"{tmp_path}/monitor.db", f"{state}/monitor.db"))
        writers = [["run"], ["run", "--once"], ["db", "upgrade"], *WRITING_READERS]
        results = run_commands(cfg, writers + [list(c) for c in LOOKING])
        assert_one_database_error(results[: len(writers)], f"{state}/monitor.db: ")
        for argv, _code, err in results[:3]:  # the daemon and the upgrade name the cause
            assert words in err, f"{argv}: {err}"
        # the commands that only look open it read-only and work (an analyst reading
        # the service's directory, review): no database error, no traceback
        for argv, code, err in results[len(writers) :]:
            assert code in (0, 3) and "database error" not in err, f"{argv}: exit {code}\n{err}"
            assert "Traceback" not in err, f"{argv}: {err}"


def test_backup_to_a_folder_it_cannot_write_is_one_line(tmp_path: Path, schema_db: Path) -> None:
    engine = make_engine(f"sqlite:///{schema_db}", create=False)
    if os.geteuid() == 0:
        with tmpfs(tmp_path / "dest", "ro"), pytest.raises(DatabaseError, match="read-only"):
            housekeeping.backup(engine, tmp_path / "dest" / "b.db")
    else:
        (tmp_path / "dest").mkdir(mode=0o500)
        with pytest.raises(DatabaseError, match="writable by"):
            housekeeping.backup(engine, tmp_path / "dest" / "b.db")
    engine.dispose()


# -- one daemon per database -------------------------------------------------------------
def test_the_database_lock_is_held_once_and_names_its_holder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state/monitor.db"
    with acquire_database_lock(url):
        with pytest.raises(DatabaseError) as info, acquire_database_lock(url):
            pass
        message = str(info.value)
        assert message.startswith(f"{tmp_path}/state/monitor.db: another 'monitor run'")
        assert f"(pid {os.getpid()})" in message and "--once" in message
    with acquire_database_lock(url):  # released with the block
        pass


def test_the_lock_of_a_killed_daemon_is_free_at_once(tmp_path: Path) -> None:
    """SIGKILL leaves no stale lock: the kernel drops a flock with its holder."""
    url = f"sqlite:///{tmp_path}/monitor.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom monitor.store.db import acquire_database_lock\n"
            "with acquire_database_lock(sys.argv[1]):\n    print('held', flush=True)\n"
            "    time.sleep(60)\n",
            url,
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=cli_env(),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(DatabaseError, match=f"pid {holder.pid}"), acquire_database_lock(url):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    with acquire_database_lock(url):
        pass


LOCK_LOOP = """
import sys
from pathlib import Path
from monitor.store import db
lock, counter = Path(sys.argv[1]), Path(sys.argv[2])
for _ in range(int(sys.argv[3])):
    fd = db._take_lock(lock, blocking=True)
    n = int(counter.read_text() or 0)
    counter.write_text(str(n + 1))
    db._drop_lock(fd, lock)
"""


def test_lock_files_removed_on_release_still_exclude_each_other(tmp_path: Path) -> None:
    """Four processes take and let go of one lock file 300 times each; each removes the
    file as it lets go. A taker that locked a file just removed must not go on (it
    re-checks the inode): no increment of the counter it guards is lost, and no lock
    file is left."""
    lock, counter = tmp_path / "monitor.db.migrate-lock", tmp_path / "counter"
    counter.write_text("0")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", LOCK_LOOP, str(lock), str(counter), "300"],
            cwd=ROOT,
            env=cli_env(),
        )
        for _ in range(4)
    ]
    assert [p.wait(120) for p in procs] == [0, 0, 0, 0]
    assert counter.read_text() == "1200" and not lock.exists()


def test_postgresql_is_not_locked() -> None:
    url = "postgresql+psycopg://u:p@127.0.0.1:9/x"
    with acquire_database_lock(url), acquire_database_lock(url):
        pass  # several workers on one PostgreSQL database are a later issue


def test_a_second_daemon_refuses_to_start_and_run_once_works_beside_the_first(
    tmp_path: Path, hook: LocalServer
) -> None:
    feed = hook.static("/a.xml", rss(("a1", "https://a.example/1", "Story")))
    cfg = make_config(tmp_path, hook, [feed])
    log = tmp_path / "stderr.log"
    daemon = start(cfg, tmp_path)
    try:
        assert wait_until(lambda: "daemon.started" in log.read_text()), log.read_text()
        second = run_monitor(cfg, "run")
        assert second.returncode == 1
        assert second.stderr.splitlines() == [
            f"database error: {tmp_path}/monitor.db: another 'monitor run' (pid {daemon.pid}) "
            "is using this database; stop it first, or give this one its own "
            "[monitor].database ('monitor run --once' may run beside it)"
        ]
        once = run_monitor(cfg, "run", "--once")
        assert once.returncode == 0, once.stderr
        assert daemon.poll() is None
        # run --once found the lock held and left it alone: still held, still the file
        assert (tmp_path / "monitor.db.lock").read_text() == f"{daemon.pid}\n"
        assert run_monitor(cfg, "run").returncode == 1
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
    assert sorted(p.name for p in tmp_path.glob("*lock")) == []  # removed at exit (issue 13)
    with acquire_database_lock(f"sqlite:///{tmp_path}/monitor.db"):  # released at exit
        pass


# -- the claim lease ---------------------------------------------------------------------
def test_a_claim_younger_than_the_lease_is_never_requeued(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    upgrade(engine)
    factory = db.make_session_factory(engine)
    alert_id = add_alert(factory)
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    with session_scope(factory) as s:
        assert outbox.claim(s, [alert_id], now) == [alert_id]
    lease = outbox.SENDING_LEASE_S
    with session_scope(factory) as s:
        assert outbox.requeue_stale(s, now + timedelta(seconds=lease - 1), lease, 8) == 0
    assert alert_row(factory, alert_id).status == "sending"
    with session_scope(factory) as s:
        assert outbox.requeue_stale(s, now + timedelta(seconds=lease + 1), lease, 8) == 1
    assert alert_row(factory, alert_id).status == "pending"
    engine.dispose()


def test_run_once_beside_a_daemon_leaves_its_send_in_flight_alone(
    tmp_path: Path, hook: LocalServer
) -> None:
    """Two rows in ``sending``: one claimed a second ago (the daemon is sending it now),
    one claimed ten minutes ago (a process killed mid-send). ``run --once`` re-sends
    only the second: the first is neither re-queued nor sent twice."""
    cfg = make_config(tmp_path, hook, [])
    engine = make_engine(f"sqlite:///{tmp_path}/monitor.db")
    upgrade(engine)
    factory = db.make_session_factory(engine)
    now = datetime.now(UTC)
    ids = {}
    for name, claimed in (
        ("in flight", now - timedelta(seconds=1)),
        ("orphan", now - timedelta(minutes=10)),
    ):
        ids[name] = add_alert(
            factory, channel="hook", rule="witkoff-coalition", title=name, created_at=claimed
        )
        with session_scope(factory) as s:
            row = s.get(AlertRow, ids[name])
            row.status, row.claimed_at, row.attempts = "sending", claimed, 1
    with db.acquire_database_lock(f"sqlite:///{tmp_path}/monitor.db"):  # the daemon's lock
        proc = run_monitor(cfg, "run", "--once")
    assert proc.returncode == 0, proc.stderr
    sent = [json.loads(r.body)["title"] for r in hook.hits("/hook")]
    assert len(sent) == 1 and "orphan" in sent[0]
    assert alert_row(factory, ids["in flight"]).status == "sending"
    assert alert_row(factory, ids["in flight"]).attempts == 1
    assert alert_row(factory, ids["orphan"]).status == "sent"
    engine.dispose()


# -- private files -----------------------------------------------------------------------
def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """umask 000: what the store creates is private by its own modes, not the umask's."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_what_the_store_creates_is_private_whatever_the_umask(
    tmp_path: Path, open_umask: None
) -> None:
    """State folders 0700, database, -wal, -shm, lock files and backup 0600; a folder
    the user made (tmp_path) keeps its mode."""
    user_mode = mode(tmp_path)
    path = tmp_path / "state" / "sub" / "monitor.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    with acquire_database_lock(url), engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
        conn.commit()
        files = ["monitor.db", "monitor.db-wal", "monitor.db-shm", "monitor.db.lock"]
        # the migration's lock file (same code as monitor.db.lock) is gone once done
        assert not (path.parent / "monitor.db.migrate-lock").exists()
        assert {name: oct(mode(path.parent / name)) for name in files} == dict.fromkeys(
            files, "0o600"
        )
    assert (mode(tmp_path / "state"), mode(tmp_path / "state" / "sub")) == (0o700, 0o700)
    assert mode(tmp_path) == user_mode
    backup = housekeeping.backup(engine, tmp_path / "backup.db")
    assert mode(backup) == 0o600
    backup = housekeeping.backup(engine, tmp_path / "backup.db", overwrite=True)
    assert mode(backup) == 0o600
    engine.dispose()


def test_an_existing_database_keeps_the_mode_its_owner_gave_it(
    tmp_path: Path, schema_db: Path
) -> None:
    """The store sets modes on what it creates; a database the user made readable for a
    group on purpose is not changed behind their back."""
    path = tmp_path / "monitor.db"
    shutil.copy(schema_db, path)
    path.chmod(0o640)
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    assert mode(path) == 0o640


def test_run_once_with_no_daemon_resends_every_orphaned_claim(
    tmp_path: Path, hook: LocalServer
) -> None:
    """No daemon holds the database's lock, so a row claimed a second ago was a killed
    process's send: ``run --once`` sends it now, not after the five-minute lease."""
    cfg = make_config(tmp_path, hook, [])
    engine = make_engine(f"sqlite:///{tmp_path}/monitor.db")
    upgrade(engine)
    factory = db.make_session_factory(engine)
    claimed = datetime.now(UTC) - timedelta(seconds=1)
    alert_id = add_alert(
        factory, channel="hook", rule="witkoff-coalition", title="killed", created_at=claimed
    )
    with session_scope(factory) as s:
        row = s.get(AlertRow, alert_id)
        row.status, row.claimed_at, row.attempts = "sending", claimed, 1
    proc = run_monitor(cfg, "run", "--once")
    assert proc.returncode == 0, proc.stderr
    sent = [json.loads(r.body)["title"] for r in hook.hits("/hook")]
    assert len(sent) == 1 and "killed" in sent[0]
    assert alert_row(factory, alert_id).status == "sent"
    engine.dispose()
