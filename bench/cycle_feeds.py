"""Deterministic feeds, rules and planted matches for ``bench/cycle.py``.

Everything here is a pure function of (feed index, epoch): the server process, the
parser-ceiling contenders and the harness's correctness checks compute the same bytes and
the same expected counts without talking to each other.

- ``feed_body(i, epoch)``: an RSS 2.0 document of ``ENTRIES`` entries in one language
  (uk, ru or en by ``i % 3``), each with a headline, a ~2 KB HTML description (paragraphs,
  a link, bold and an escaped ampersand) built from news-like sentence templates with
  names, places, numbers and dates, so no two entries are alike; dates are the last
  ``ENTRIES`` minutes of the hours before ``epoch`` (inside the daemon's backlog).
- ``rules(n)``: ``n`` rules on made-up surnames (``Brodavek``), in four shapes (a name, a
  phrase, ``AND`` with an ``OR`` group of real words, ``NEAR/5``); every rule also names a
  word the text uses often (so the matcher does real work), and only the planted rules can
  fire: ``planted(n_feeds, n_rules)`` lists which entry carries which rule's names.
- ``host_of(i, hosts)``: the loopback address that serves feed ``i`` (127.0.0.2 ...).
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import lru_cache
from xml.sax.saxutils import escape

ENTRIES = 50
LANGS = ("uk", "ru", "en")

_PEOPLE = {
    "en": ["Zelensky", "Putin", "Trump", "Macron", "Merz", "Rubio", "Sybiha", "Rutte", "Starmer"],
    "uk": ["Зеленський", "Путін", "Трамп", "Макрон", "Мерц", "Рубіо", "Сибіга", "Рютте", "Стармер"],
    "ru": ["Зеленский", "Путин", "Трамп", "Макрон", "Мерц", "Рубио", "Сибига", "Рютте", "Стармер"],
}
_PLACES = {
    "en": ["Kyiv", "Kharkiv", "Odesa", "Brussels", "Geneva", "Warsaw", "Paris", "Lviv", "Dnipro"],
    "uk": [
        "Києві",
        "Харкові",
        "Одесі",
        "Брюсселі",
        "Женеві",
        "Варшаві",
        "Парижі",
        "Львові",
        "Дніпрі",
    ],
    "ru": [
        "Киеве",
        "Харькове",
        "Одессе",
        "Брюсселе",
        "Женеве",
        "Варшаве",
        "Париже",
        "Львове",
        "Днепре",
    ],
}
_TOPICS = {
    "en": [
        "energy security",
        "air defence",
        "grain exports",
        "the reconstruction fund",
        "sanctions",
        "the budget",
        "prisoner exchanges",
        "the ceasefire talks",
        "drone production",
    ],
    "uk": [
        "енергетичної безпеки",
        "протиповітряної оборони",
        "експорту зерна",
        "фонду відбудови",
        "санкцій",
        "бюджету",
        "обміну полоненими",
        "переговорів про перемир'я",
        "виробництва дронів",
    ],
    "ru": [
        "энергетической безопасности",
        "противовоздушной обороны",
        "экспорта зерна",
        "фонда восстановления",
        "санкций",
        "бюджета",
        "обмена пленными",
        "переговоров о перемирии",
        "производства дронов",
    ],
}
_SENTENCES = {
    "en": [
        "{p} said in {c} on Tuesday that talks on {t} would resume within {n} days.",
        "Officials in {c} confirmed that {n} people had been evacuated overnight.",
        "According to the ministry, spending on {t} rose by {n} per cent this year.",
        "{p} met {q} in {c} to discuss {t} and the schedule of the next meeting.",
        "The government expects a decision on {t} before the end of the month, {p} told reporters.",
        "Analysts said the agreement on {t} could be signed as early as next week.",
        "More than {n} volunteers joined the effort in {c}, the city council said.",
        "\u201cWe will not accept any deal without Ukraine,\u201d {p} said after the talks.",
        "The report, published on Monday, lists {n} projects related to {t}.",
        "Journalists in {c} were shown the damage caused by the latest attack.",
        "A spokesperson for {q} declined to comment on the plan for {t}.",
        "The parliament is due to vote on the bill on {t} on Thursday, with {n} amendments pending.",
    ],
    "uk": [
        "{p} заявив у {c}, що переговори щодо {t} відновляться протягом {n} днів.",
        "У {c} підтвердили, що вночі евакуювали {n} людей.",
        "За даними міністерства, видатки на потреби {t} зросли на {n} відсотків.",
        "{p} зустрівся з {q} у {c}, щоб обговорити питання {t}.",
        "Уряд очікує рішення щодо {t} до кінця місяця, сказав {p} журналістам.",
        "Аналітики вважають, що угоду щодо {t} можуть підписати вже наступного тижня.",
        "Понад {n} волонтерів долучилися до роботи у {c}, повідомила міська рада.",
        "\u00abМи не погодимося на жодну угоду без України\u00bb, \u2014 сказав {p} після переговорів.",
        "У звіті, оприлюдненому в понеділок, перелічено {n} проєктів щодо {t}.",
        "Журналістам у {c} показали руйнування після останньої атаки.",
        "Речник {q} відмовився коментувати план щодо {t}.",
        "Парламент має проголосувати за законопроєкт щодо {t} у четвер, на розгляді {n} поправок.",
    ],
    "ru": [
        "{p} заявил в {c}, что переговоры относительно {t} возобновятся в течение {n} дней.",
        "В {c} подтвердили, что ночью эвакуировали {n} человек.",
        "По данным министерства, расходы на нужды {t} выросли на {n} процентов.",
        "{p} встретился с {q} в {c}, чтобы обсудить вопросы {t}.",
        "Правительство ожидает решения относительно {t} до конца месяца, сказал {p} журналистам.",
        "Аналитики считают, что соглашение относительно {t} могут подписать уже на следующей неделе.",
        "Более {n} волонтеров присоединились к работе в {c}, сообщил городской совет.",
        "\u00abМы не согласимся ни на одно соглашение без Украины\u00bb, \u2014 сказал {p} после переговоров.",
        "В отчете, опубликованном в понедельник, перечислено {n} проектов относительно {t}.",
        "Журналистам в {c} показали разрушения после последней атаки.",
        "Представитель {q} отказался комментировать план относительно {t}.",
        "Парламент должен проголосовать за законопроект относительно {t} в четверг, на рассмотрении {n} поправок.",
    ],
}
_HEADLINES = {
    "en": [
        "{p} and {q} discuss {t} in {c}",
        "{c}: {n} projects on {t} approved",
        "Talks on {t} resume, {p} says",
        "{p} visits {c} ahead of vote on {t}",
    ],
    "uk": [
        "{p} і {q} обговорили питання {t} у {c}",
        "У {c} схвалили {n} проєктів щодо {t}",
        "Переговори щодо {t} відновлюються, заявив {p}",
        "{p} відвідав {c} перед голосуванням",
    ],
    "ru": [
        "{p} и {q} обсудили вопросы {t} в {c}",
        "В {c} одобрили {n} проектов относительно {t}",
        "Переговоры относительно {t} возобновляются, заявил {p}",
        "{p} посетил {c} перед голосованием",
    ],
}
# Planted matches: the words each rule also needs (all three forms occur in the texts anyway).
_UKRAINE = {"en": "Ukraine", "uk": "Україна", "ru": "Украина"}
DESCRIPTION_BYTES = 1500  # UTF-8 bytes of the HTML; escaped, with the rest: ~2 KB an entry


def lang_of(i: int) -> str:
    return LANGS[i % 3]


def host_of(i: int, hosts: int) -> str:
    """The loopback address serving feed ``i``: 127.0.0.2 ... 127.0.0.(hosts+1)."""
    return f"127.0.0.{2 + i % hosts}"


def feed_path(i: int) -> str:
    return f"/feeds/{i}.xml"


def feed_url(i: int, hosts: int, port: int) -> str:
    return f"http://{host_of(i, hosts)}:{port}{feed_path(i)}"


# ---------------------------------------------------------------- rules and planted matches


def _name(rng: random.Random) -> str:
    onset = [
        "b",
        "br",
        "d",
        "dr",
        "g",
        "k",
        "kr",
        "l",
        "m",
        "n",
        "p",
        "pr",
        "s",
        "st",
        "t",
        "tr",
        "v",
        "z",
    ]
    vowel = ["a", "e", "i", "o", "u"]
    coda = ["k", "n", "r", "s", "t", "v", "l", "m"]
    word = "".join(rng.choice(onset) + rng.choice(vowel) for _ in range(3)) + rng.choice(coda)
    return word.capitalize()


@lru_cache(maxsize=4)
def rule_names(n_rules: int) -> tuple[tuple[str, str], ...]:
    """Two made-up surnames per rule, at least 3 edits apart (no fuzzy match between any two)."""
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    rng = random.Random(1515)
    names: list[str] = []
    lows: list[str] = []
    while len(names) < 2 * n_rules:
        candidate = _name(rng)
        low = candidate.lower()
        if process.extractOne(low, lows, scorer=Levenshtein.distance, score_cutoff=2) is None:
            names.append(candidate)
            lows.append(low)
    return tuple((names[2 * k], names[2 * k + 1]) for k in range(n_rules))


def rule_query(k: int, n_rules: int) -> str:
    a, b = rule_names(n_rules)[k]
    common = ["Zelensky", "sanctions", "Київ", "переговоры"][k % 4]
    shape = k % 4
    if shape == 0:
        return f"{a} AND ({common} OR {b})"
    if shape == 1:
        return f'"{a} {b}" OR ({common} AND {a})'
    if shape == 2:
        return f"{a} AND (Ukraine OR Україна OR Украина OR {common})"
    return f"{a} NEAR/5 {b} OR ({b} AND {common} AND {a})"


def planted(n_feeds: int, n_rules: int) -> dict[tuple[int, int], int]:
    """(feed, entry) -> the rule whose names that entry carries: one entry per feed (in a
    different position each time), for the first ``min(n_feeds, n_rules // 2)`` rules; so
    at N = 200 and R = 1,000 there are 200 planted matches and 800 rules never fire."""
    count = min(n_feeds, n_rules // 2)
    return {(i, (i * 7) % ENTRIES): i for i in range(count)}


def expected_alerts(n_feeds: int, n_rules: int) -> int:
    return len(planted(n_feeds, n_rules))


# ---------------------------------------------------------------- feed documents


def _fill(rng: random.Random, lang: str, template: str) -> str:
    p, q = rng.sample(_PEOPLE[lang], 2)
    return template.format(
        p=p,
        q=q,
        c=rng.choice(_PLACES[lang]),
        t=rng.choice(_TOPICS[lang]),
        n=rng.randint(2, 9999),
    )


def entry_fields(i: int, j: int, epoch: float, n_rules: int, n_feeds: int) -> dict[str, str]:
    """Entry ``j`` of feed ``i``: title, link, guid, date and its HTML description."""
    lang = lang_of(i)
    rng = random.Random(i * 1_000_003 + j)
    title = _fill(rng, lang, rng.choice(_HEADLINES[lang])) + f" ({i}-{j})"
    paragraphs: list[str] = []
    size = 0
    while size < DESCRIPTION_BYTES:
        sentences = [_fill(rng, lang, rng.choice(_SENTENCES[lang])) for _ in range(2)]
        paragraph = " ".join(escape(s) for s in sentences)
        paragraphs.append(paragraph)
        size += len(paragraph.encode()) + 7
    rule = planted(n_feeds, n_rules).get((i, j))
    if rule is not None:
        a, b = rule_names(n_rules)[rule]
        paragraphs.insert(1, escape(f"{a} {b} met officials of {_UKRAINE[lang]} on Friday."))
    paragraphs[0] = paragraphs[0].replace(" ", " <b>", 1).replace(".", ".</b>", 1)
    paragraphs.append(f'<a href="https://news.example/{lang}/{i}/{j}">Read more</a> &amp; share')
    description = "".join(f"<p>{p}</p>" for p in paragraphs)
    when = datetime.fromtimestamp(epoch, UTC) - timedelta(minutes=j * 3 + (i % 60))
    host = f"outlet{i % 97}.example"
    return {
        "title": title,
        "link": f"https://{host}/{lang}/news/{i}/{j}.html",
        "guid": f"https://{host}/{lang}/news/{i}/{j}.html",
        "date": format_datetime(when),
        "description": description,
        "lang": lang,
    }


def feed_body(i: int, epoch: float, n_rules: int, n_feeds: int) -> bytes:
    """The RSS 2.0 document of feed ``i`` (deterministic given the arguments)."""
    lang = lang_of(i)
    items = []
    for j in range(ENTRIES):
        e = entry_fields(i, j, epoch, n_rules, n_feeds)
        items.append(
            "<item>"
            f"<title>{escape(e['title'])}</title>"
            f"<link>{e['link']}</link>"
            f'<guid isPermaLink="true">{e["guid"]}</guid>'
            f"<pubDate>{e['date']}</pubDate>"
            f"<category>news</category>"
            f"<description>{escape(e['description'])}</description>"
            "</item>"
        )
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0"><channel>'
        f"<title>Bench outlet {i} ({lang})</title>"
        f"<link>https://outlet{i % 97}.example/</link>"
        f"<description>Deterministic feed {i}</description><language>{lang}</language>"
        + "".join(items)
        + "</channel></rss>"
    )
    return doc.encode("utf-8")


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
