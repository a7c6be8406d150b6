"""A database filled by ``monitor run --once`` from local uk/ru/en feed files, for the
history tests (search, backtest, export): what each test reads is in :data:`ENTRIES`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from monitor.cli import main

UK_PARIS = (
    "Радник та спецпосланець президента Дональда Трампа Стів Віткофф після зустрічі "
    '"коаліції рішучих" у Парижі заявив, що 7 січня американська делегація продовжить '
    "переговори із українською делегацією."
)
UK_WEATHER = (
    "У Києві завтра очікується сніг і мороз до мінус десяти градусів, повідомив Укргідрометцентр."
)
UK_SANCTIONS = "Євросоюз погодив новий пакет санкцій проти Росії, повідомив прем'єр-міністр."
RU_PARIS = (
    "Советник и спецпосланник президента Дональда Трампа Стив Уиткофф после встречи "
    '"коалиции решительных" в Париже заявил, что 7 января американская делегация продолжит '
    "переговоры с украинской делегацией."
)
RU_SPORT = "Сборная сыграла вничью в товарищеском матче в Белграде."
EN_MOSCOW = (
    "US envoy Steve Witkoff met Russian President Vladimir Putin in Moscow on Tuesday, "
    "the Kremlin said, as talks on the 28-point peace plan went on for five hours."
)
EN_FINLAND = (
    "Witkoff praised Finland's mediation offer in an interview with Helsingin Sanomat, "
    "saying Alexander Stubb had been 'a steady voice' as Nordic leaders met in Oslo."
)
EN_MARKETS = "Stocks rose in early trading as investors weighed the central bank's decision."

# (feed, hours before now, link, title, text)
ENTRIES = [
    (
        "uk",
        30,
        "https://uk.example/paris",
        "Віткофф після зустрічі «коаліції рішучих» у Парижі",
        UK_PARIS,
    ),
    ("uk", 20, "https://uk.example/weather", "Сніг і мороз: прогноз на завтра", UK_WEATHER),
    ("uk", 10, "https://uk.example/sanctions", "ЄС погодив новий пакет санкцій", UK_SANCTIONS),
    (
        "ru",
        29,
        "https://ru.example/paris",
        "Уиткофф после встречи «коалиции решительных» в Париже",
        RU_PARIS,
    ),
    ("ru", 5, "https://ru.example/sport", "Ничья в Белграде", RU_SPORT),
    ("en", 50, "https://en.example/moscow", "Witkoff meets Putin in Moscow", EN_MOSCOW),
    ("en", 3, "https://en.example/finland", "Witkoff praises Finland's mediation", EN_FINLAND),
    ("en", 1, "https://en.example/markets", "Stocks rise, bank decision weighed", EN_MARKETS),
]


def rss(entries: list[tuple[str, int, str, str, str]], now: datetime) -> str:
    items = "".join(
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<guid>{escape(link)}</guid>"
        f"<pubDate>{format_datetime(now - timedelta(hours=h))}</pubDate>"
        f"<description>{escape(text)}</description></item>"
        for _feed, h, link, title, text in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>f</title>'
        f"{items}</channel></rss>"
    )


def filled_database(tmp_path: Path, entries=ENTRIES, extra: str = "") -> Path:  # type: ignore[no-untyped-def]
    """Write the feeds and a config, run ``monitor run --once``; the config's path."""
    now = datetime.now(UTC).replace(microsecond=0)
    for feed in ("uk", "ru", "en"):
        mine = [e for e in entries if e[0] == feed]
        (tmp_path / f"{feed}.xml").write_text(rss(mine, now), encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[monitor]
database = "sqlite:///{tmp_path}/monitor.db"
timezone = "Europe/Kyiv"

[channels]
console = "console://"

[terms]
coalition = ["coalition of the willing", "коаліція рішучих", "коалиция решительных"]

[[feeds]]
url = "uk.xml"
name = "Ukrainska"
language = "uk"
backlog = "3650d"

[[feeds]]
url = "ru.xml"
name = "Russkaya"
language = "ru"
backlog = "3650d"

[[feeds]]
url = "en.xml"
name = "English Wire"
language = "en"
backlog = "3650d"

[[rules]]
name = "putin"
query = "Putin"
channels = ["console"]
{extra}""",
        encoding="utf-8",
    )
    code = main(["--config", str(config), "run", "--once"])
    assert code == 0
    return config
