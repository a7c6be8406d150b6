"""Stories: near-duplicates and story clusters across outlets, scripts and time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from monitor.stories.cluster import StoryClusterer, StoryParams
from monitor.stories.doc import StoryDoc
from monitor.stories.entities import entities, word_stems
from monitor.stories.features import cross_likeness, features, heads_keys
from monitor.stories.fingerprint import signature, similarity
from monitor.stories.near import NearIndex
from monitor.stories.roundup import is_explainer, is_roundup

T0 = datetime(2026, 2, 17, 8, 0, tzinfo=UTC)
EN = (
    "US envoy Steve Witkoff met Russian President Vladimir Putin in Moscow on Tuesday, "
    "the Kremlin said, as talks on the 28-point peace plan went on for five hours. "
    "Jared Kushner and Kirill Dmitriev also took part, Yuri Ushakov told reporters."
)
UK = (
    "Спецпосланець США Стів Віткофф зустрівся з президентом Росії Володимиром Путіним "
    "у Москві у вівторок, повідомили у Кремлі; переговори про мирний план з 28 пунктів "
    "тривали п'ять годин. У зустрічі взяли участь Джаред Кушнер і Кирило Дмитрієв."
)

RU = (
    "Спецпосланник США Стив Уиткофф встретился с президентом России Владимиром Путиным "
    "в Москве во вторник, сообщили в Кремле; переговоры о мирном плане из 28 пунктов "
    "длились пять часов. Во встрече участвовали Джаред Кушнер и Кирилл Дмитриев."
)


def doc(i: int, title: str, text: str, hours: float = 0.0, link: str | None = None) -> StoryDoc:
    return StoryDoc(i, f"outlet{i}", None, title, text, link, T0 + timedelta(hours=hours))


def test_curly_and_straight_apostrophes_give_one_signature() -> None:
    text = "Trump’s envoy said “the talks” went well — both sides agreed on the plan " * 3
    straight = text.replace("’", "'").replace("“", '"').replace("”", '"').replace("—", "-")
    a, b = signature(text), signature(straight)
    assert a is not None and b is not None
    assert similarity(a, b) == 1.0


def test_a_bare_headline_has_no_signature() -> None:
    assert signature("Witkoff meets Putin") is None


def test_syndicated_copy_with_footer_is_a_near_duplicate() -> None:
    clusterer = StoryClusterer()
    clusterer.assign(doc(1, "Witkoff meets Putin in Moscow", EN))
    copy = f"{EN}\n\nSubscribe to our Telegram channel for the latest news."
    got = clusterer.assign(doc(2, "Witkoff meets Putin in Moscow | Wire", copy, hours=1))
    assert (got.story_id, got.reason, got.via) == (1, "near_duplicate", 1)


def test_uk_and_ru_editions_of_one_report_are_one_story() -> None:
    clusterer = StoryClusterer()
    clusterer.assign(doc(1, "Віткофф зустрівся з Путіним у Москві", UK))
    got = clusterer.assign(doc(2, "Уиткофф встретился с Путиным в Москве", RU, hours=2))
    assert got.story_id == 1 and got.reason == "same_story"


def test_same_people_at_another_meeting_start_a_new_story() -> None:
    """Witkoff and Putin again, days later, another place and agenda: not the same story."""
    clusterer = StoryClusterer()
    clusterer.assign(doc(1, "Witkoff meets Putin in Moscow for five hours", EN))
    other = (
        "Steve Witkoff will travel to Abu Dhabi for a trilateral round with Ukrainian and "
        "Russian negotiators, the White House said; Rustem Umerov leads Kyiv's team."
    )
    got = clusterer.assign(doc(2, "Witkoff heads to Abu Dhabi for new round", other, hours=60))
    assert got.reason == "new" and got.story_id == 2


def test_same_canonical_link_joins_the_story() -> None:
    clusterer = StoryClusterer()
    clusterer.assign(doc(1, "A", EN, link="https://example.com/a"))
    got = clusterer.assign(doc(2, "B", "other words entirely", link="https://example.com/a"))
    assert (got.story_id, got.reason) == (1, "same_link")


def test_articles_older_than_the_window_are_forgotten() -> None:
    clusterer = StoryClusterer()
    clusterer.assign(doc(1, "Witkoff meets Putin in Moscow", EN))
    got = clusterer.assign(doc(2, "Witkoff meets Putin in Moscow", EN, hours=80))
    assert got.reason == "new" and len(clusterer) == 1


def test_near_index_evicts_and_finds_only_within_the_window() -> None:
    index = NearIndex(window=timedelta(hours=72))
    sig = signature(EN)
    assert sig is not None
    index.add(1, sig, T0)
    assert [h.doc_id for h in index.query(sig)] == [1]
    index.evict(T0 + timedelta(hours=73))
    assert index.query(sig) == [] and len(index) == 0


def test_names_meet_across_scripts() -> None:
    en = set().union(*entities("", EN))
    uk = set().union(*entities("", UK))
    assert {"vitkof", "putin", "kushner"} <= en & uk


def test_a_hostile_huge_article_is_bounded() -> None:
    """A 10 MB text and a 1 MB headline cost their heads only (well under a second)."""
    clusterer = StoryClusterer()
    huge = ("Віткофф " + "x" * 200 + " ") * 50_000
    started = time.perf_counter()
    got = clusterer.assign(doc(1, "Віткофф Путін " * 80_000, huge))
    assert got.reason == "new"
    assert time.perf_counter() - started < 1.0


FOOTER = (
    "This article was produced by our newsroom. All rights reserved. Reproduction in whole "
    "or in part without written permission is prohibited. Download our app for alerts."
)


def test_short_summary_with_a_footer_is_a_copy_when_the_headline_agrees() -> None:
    summary = "Austria filed terrorism charges against a man over a plot to attack Taylor Swift's Vienna concerts."
    clusterer = StoryClusterer()
    clusterer.assign(doc(1, "Austria files terror charges in Taylor Swift plot", summary))
    got = clusterer.assign(
        doc(2, "Austria files terror charges in Taylor Swift plot", f"{summary}\n{FOOTER}", 1)
    )
    assert (got.story_id, got.reason) == (1, "near_duplicate")


def test_one_outlets_footer_on_two_stories_is_no_copy() -> None:
    clusterer = StoryClusterer()
    clusterer.assign(
        doc(
            1,
            "Shein faces EU investigation",
            f"The European Commission opened a probe into Shein.\n{FOOTER}",
        )
    )
    got = clusterer.assign(
        doc(
            2,
            "Peru ousts interim president",
            f"Peru's Congress removed José Jerí on Tuesday.\n{FOOTER}",
            1,
        )
    )
    assert got.reason == "new"


def test_an_article_linking_to_another_joins_its_story() -> None:
    clusterer = StoryClusterer()
    clusterer.assign(doc(1, "Witkoff meets Putin", EN, link="https://example.com/a"))
    linking = StoryDoc(
        2, "other", "en", "Analysis", "What the talks mean.", None, T0, ("https://example.com/a",)
    )
    got = clusterer.assign(linking)
    assert (got.story_id, got.reason) == (1, "linked")


def test_a_restored_window_keeps_stored_stories() -> None:
    """After a restart the stored articles are replayed with their story ids: a new copy
    joins the stored story, not one the replay would have chosen."""
    clusterer = StoryClusterer()
    clusterer.restore(doc(7, "Witkoff meets Putin in Moscow", EN), story_id=3)
    got = clusterer.assign(doc(8, "Witkoff meets Putin in Moscow", EN, hours=1))
    assert (got.story_id, got.reason, got.via) == (3, "near_duplicate", 7)


def test_restoring_an_article_older_than_the_window_skips_it() -> None:
    clusterer = StoryClusterer()
    clusterer.restore(doc(1, "Later", EN, hours=100), story_id=1)
    clusterer.restore(doc(2, "Witkoff meets Putin in Moscow", EN), story_id=2)
    assert len(clusterer) == 1


def test_a_forgotten_article_leaves_no_trace_and_its_id_can_be_reused() -> None:
    """An article assigned in a transaction that failed is forgotten; the id SQLite gives
    the next article is a fresh start, and the old expiry does not drop the new one."""
    clusterer = StoryClusterer()
    first = clusterer.assign(doc(1, "Witkoff meets Putin in Moscow", EN))
    assert first.reason == "new"
    clusterer.forget(1)
    assert len(clusterer) == 0
    # the same id, another story, published later: not joined to the ghost
    other = "Floods in Bavaria: rivers rise after two days of rain, towns evacuated. " * 3
    reused = clusterer.assign(doc(1, "Floods in Bavaria", other, hours=60))
    assert (reused.story_id, reused.reason) == (1, "new")
    # the ghost's expiry (72 h after T0) passes; the new article stays in the window
    clusterer.assign(doc(2, "Bavarian floods: towns evacuated", other, hours=80))
    assert len(clusterer) == 2
    assert clusterer.assign(doc(3, "Floods in Bavaria", other, hours=81)).story_id == 1


ROUNDUP = (
    "Morning briefing: Witkoff to Moscow, Umerov to Miami, storms in Asia",
    "Good morning. US envoy Steve Witkoff flies to Moscow today to meet Vladimir Putin in the "
    "Kremlin. Rustem Umerov heads to Miami, where Jared Kushner and Witkoff's team will host "
    "Ukraine's delegation. Typhoon Mawar hit the Philippines overnight; Manila closed schools. "
    "Oil rose 2 percent.",
)


def test_a_round_up_is_not_the_story_of_the_events_it_lists() -> None:
    clusterer = StoryClusterer()
    clusterer.assign(StoryDoc(1, "A", "en", *ROUNDUP, None, T0))
    miami = (
        "Zelensky sends Umerov to Miami to meet Witkoff and Kushner",
        "Volodymyr Zelensky said Rustem Umerov and Andriy Hnatov would fly to Miami to work on "
        "the security guarantees annex with Steve Witkoff and Jared Kushner later this week.",
    )
    got = clusterer.assign(StoryDoc(2, "B", "en", *miami, None, T0 + timedelta(hours=4)))
    assert got.reason == "new"


def test_two_events_a_round_up_lists_stay_two_stories_and_its_copy_joins_it() -> None:
    # The round-up came first: the Moscow meeting and the Miami talks each start a story
    # (both joining through the round-up would make them one story and one alert).
    clusterer = StoryClusterer()
    clusterer.assign(StoryDoc(1, "A", "en", *ROUNDUP, None, T0))
    moscow = StoryDoc(
        2, "B", "en", "Witkoff meets Putin in Moscow", EN, None, T0 + timedelta(hours=5)
    )
    assert clusterer.assign(moscow).reason == "new"
    copy = StoryDoc(
        3, "C", "en", ROUNDUP[0], f"{ROUNDUP[1]}\n\n{FOOTER}", None, T0 + timedelta(hours=1)
    )
    got = clusterer.assign(copy)
    assert (got.story_id, got.reason) == (1, "near_duplicate")


@pytest.mark.parametrize(
    ("title", "roundup"),
    [
        ("Russia-Ukraine war: List of key events, day 1,455", True),
        ("Russia-Ukraine war latest: what we know on day 214 of the invasion", True),
        (
            "Заява Умєрова про мобілізацію та Орбан проти України в ЄС та НАТО. СУСПІЛЬНЕ | ДАЙДЖЕСТ",
            True,
        ),
        ("Хроника коронавируса в Украине и мире – LIVE", True),
        ("2026 Winter Olympics opening ceremony — as it happened", True),
        ("Morning briefing: Witkoff to Moscow, Umerov to Miami, storms in Asia", True),
        ("‘Journey of hell’: Migrants in Libya endure torture, rape, forced labour", False),
        ("Watch Fed Chair Jerome Powell testify live before House budget panel", False),
        ("Witkoff meets Putin in Moscow: talks on the peace plan", False),
        ("Головне за день", True),
        ("Iran shuts the Strait of Hormuz. And, Russia and Ukraine swap 300 prisoners", True),
        ("Five things to know on Thursday", True),
        ("Thursday's news: Iran, Ukraine, Greenland", True),
        ("Evening Update: Hormuz closed, a prisoner swap and a Greenland vote", True),
        ("U.S. and Iran wrap up second round of nuclear talks", False),
    ],
)
def test_round_ups_are_told_by_their_headlines(title: str, roundup: bool) -> None:
    assert is_roundup(title) is roundup


def test_the_same_people_meeting_again_two_days_later_is_another_story() -> None:
    first = (
        "Witkoff meets Umerov in Miami to discuss peace framework",
        "US envoy Steve Witkoff met Ukraine's security council secretary Rustem Umerov in "
        "Miami on Sunday to discuss the framework of a peace agreement, officials said.",
    )
    again = (
        "Witkoff and Umerov meet again in Miami, discuss security guarantees",
        "US envoy Steve Witkoff and Rustem Umerov met again in Miami on Tuesday to discuss "
        "security guarantees for Ukraine under a peace agreement, officials said.",
    )
    clusterer = StoryClusterer()
    clusterer.assign(StoryDoc(1, "A", "en", *first, None, T0))
    same_day = clusterer.assign(StoryDoc(2, "B", "en", *again, None, T0 + timedelta(hours=3)))
    assert same_day.reason == "same_story"  # alike enough to be one event the same day
    clusterer = StoryClusterer()
    clusterer.assign(StoryDoc(1, "A", "en", *first, None, T0))
    later = clusterer.assign(StoryDoc(2, "B", "en", *again, None, T0 + timedelta(hours=48)))
    assert later.reason == "new"


def test_one_outlets_long_footer_under_two_of_its_own_entries_is_no_copy() -> None:
    promo = (
        "Смотрите новые выпуски каждую пятницу на нашем канале. Подписывайтесь, ставьте лайки "
        "и пишите комментарии: лучшие попадут в эфир. Все сезоны шоу доступны бесплатно в "
        "приложении для телефонов и телевизоров, а также на сайте без рекламы и регистрации."
    )
    clusterer = StoryClusterer()
    one = StoryDoc(
        1, "rutube", "ru", "Однажды в России: больничный апокалипсис", f"Врачи.\n{promo}", None, T0
    )
    two = StoryDoc(2, "rutube", "ru", "Однажды в России: мэр в отпуске", f"Мэр.\n{promo}", None, T0)
    clusterer.assign(one)
    assert clusterer.assign(two).reason == "new"
    copy = StoryDoc(3, "rutube", "ru", one.title, one.text, None, T0 + timedelta(hours=1))
    assert clusterer.assign(copy).reason == "near_duplicate"  # its own re-upload still is


def test_an_article_with_many_names_of_its_own_still_finds_its_story() -> None:
    # Each new name has keys no article of the window has: they must not take the
    # places of the rare keys it does share (Kordofan, El-Obeid) when finding candidates.
    clusterer = StoryClusterer()
    first = (
        "A drone strike hit a market in Kordofan near El-Obeid, killing 28 people, "
        "a rights group said on Monday."
    )
    clusterer.assign(doc(1, "Drone strike on Kordofan market near El-Obeid kills 28", first))
    for i in range(2, 40):  # a window of other stories
        clusterer.assign(doc(i, f"Story {i}", f"Officials in Town{i} and Region{i} met.", 0.1))
    second = (
        "A drone attack on a crowded market in Kordofan near El-Obeid killed 28 people, "
        "the Sudan Doctors Network reported, as Abbas, Burhan, Dagalo, Hemedti, Idris, "
        "Jaber, Kamal, Lamin, Musa and Nur met."
    )
    got = clusterer.assign(doc(50, "Drone attack on Kordofan market kills 28", second, 9))
    assert (got.story_id, got.reason) == (1, "same_story")


def test_news_words_meet_across_languages() -> None:
    en = word_stems("Talks in January", "The envoy met at the palace on Thursday: sanctions.")
    uk = word_stems("Переговори у січні", "Спецпредставник у палаці в четвер 7 січня: санкції.")
    ru = word_stems("Переговоры в январе", "Спецпредставитель во дворце в четверг: санкции.")
    shared = {"@talks", "@envoy", "@palace", "@thursday", "@sanctions"}
    assert shared <= en and shared <= uk and shared <= ru
    assert "@january" in uk and "@january" in word_stems("", "7 января")


def test_headlines_in_two_languages_are_alike_by_their_words_keys() -> None:
    en = features(doc(1, "Trump's envoy Witkoff leaves Élysée Palace during coalition meeting", ""))
    uk = features(doc(2, "Спецпредставник Віткофф залишив Єлисейський палац під час засідання", ""))
    other = features(doc(3, "Drone attack on Sudan market kills 28 people", ""))
    assert cross_likeness(en.heads, frozenset(heads_keys(uk.heads)), len(uk.heads)) >= 0.5
    assert cross_likeness(en.heads, frozenset(heads_keys(other.heads)), len(other.heads)) == 0.0


def test_two_bare_headlines_sharing_one_name_stay_apart() -> None:
    # Fewer than two shared names are enough only for articles with text to compare.
    clusterer = StoryClusterer()
    clusterer.assign(doc(1, "Witkoff meets the coalition", "Witkoff and the coalition"))
    got = clusterer.assign(doc(2, "Witkoff and the coalition", "Witkoff and the coalition", 1))
    assert got.reason == "new"


HORMUZ_REPORT = (
    "Iran's Revolutionary Guards hold naval drills in the Strait of Hormuz",
    "Iran's Revolutionary Guards began naval drills in the Strait of Hormuz on Monday, "
    "state media said, as tanker traffic through the narrow waterway slowed and Washington "
    "warned Tehran against closing the route that carries a fifth of the world's oil.",
)
HORMUZ_EXPLAINER = (
    "Why is the Strait of Hormuz so crucial?",
    "The Strait of Hormuz, the narrow waterway between Iran and Oman, carries a fifth of the "
    "world's oil. Iran's Revolutionary Guards have threatened to close it before; tanker "
    "traffic and oil prices react to every naval drill there.",
)


@pytest.mark.parametrize("explainer_first", [False, True])
def test_an_explainer_of_the_topic_is_not_joined_to_the_days_report(
    explainer_first: bool,
) -> None:
    """The topic's explainer in another outlet shares the report's rare words (Hormuz,
    Revolutionary Guards, tanker, drills): without the explainer's higher bar they join
    (one alert for the drills and a background piece), in either order."""
    first, second = (
        (HORMUZ_EXPLAINER, HORMUZ_REPORT) if explainer_first else (HORMUZ_REPORT, HORMUZ_EXPLAINER)
    )
    for params, joined in ((StoryParams(explainer_extra=0.0), True), (StoryParams(), False)):
        clusterer = StoryClusterer(params)
        clusterer.assign(StoryDoc(1, "A", "en", *first, None, T0))
        got = clusterer.assign(StoryDoc(2, "B", "en", *second, None, T0 + timedelta(hours=3)))
        assert (got.reason == "same_story") is joined, params


def test_an_explainers_syndicated_copy_still_joins_it() -> None:
    clusterer = StoryClusterer()
    clusterer.assign(StoryDoc(1, "A", "en", *HORMUZ_EXPLAINER, None, T0))
    title, text = HORMUZ_EXPLAINER
    copy = StoryDoc(2, "B", "en", title, f"{text}\n\n{FOOTER}", None, T0 + timedelta(hours=1))
    got = clusterer.assign(copy)
    assert (got.story_id, got.reason) == (1, "near_duplicate")


def test_a_report_labelled_what_you_need_to_know_still_joins_a_report_much_alike() -> None:
    """The explainer's bar is higher, not closed: another outlet's report of the same
    result, worded alike, joins it."""
    report = (
        "Japan's Takaichi wins snap election by a landslide",
        "Prime Minister Sanae Takaichi's Liberal Democratic Party won a landslide in Sunday's "
        "snap election, taking a two-thirds majority in the lower house, official results "
        "showed, a mandate she said she would use to raise defence spending.",
    )
    labelled = (
        "Takaichi Wins Japan's Snap Election by Landslide: What You Need to Know",
        "Sanae Takaichi's Liberal Democratic Party won a landslide in Japan's snap election on "
        "Sunday, taking a two-thirds majority in the lower house, results showed; the prime "
        "minister said she would use the mandate to raise defence spending.",
    )
    assert is_explainer(labelled[0])
    clusterer = StoryClusterer()
    clusterer.assign(StoryDoc(1, "A", "en", *report, None, T0))
    got = clusterer.assign(StoryDoc(2, "B", "en", *labelled, None, T0 + timedelta(hours=2)))
    assert (got.story_id, got.reason) == (1, "same_story")


@pytest.mark.parametrize(
    ("title", "explainer"),
    [
        ("Why is the Strait of Hormuz off Iran so crucial?", True),
        ("2026 Winter Olympics: What you need to know", True),
        ("Your Guide to the Milan 2026 Olympics Opening Ceremony", True),
        ("10 Fun Facts About Milan and Cortina, the Host Cities of the 2026 Olympics", True),
        ("How Are Russian and Belarusian Athletes Competing in the 2026 Winter Olympics?", True),
        ("Analysis-US envoys juggle two crisis talks, raising questions", True),
        ("From Wind Farms to Stolen Elections: Fact-Checking Donald Trump's Speech", True),
        ("The Five Ways Europe Could Respond to Trump's Greenland Threat", True),
        ("Вибухи на Хмельниччині 22 грудня: що відомо", True),
        ("Блумберг вступил в гонку. Как это меняет расклад сил?", True),
        ("Чому Україна переходить на зимовий час", True),
        # reports: a quoted question, the agency WHO, an event's gallery, a plain report
        ("«Как доказать, что я не брала взятки?» Начальник управления выступила в суде", False),
        ("'Where is the aid?' asks Zelensky as winter nears", False),
        ("WHO declares end of the Ebola outbreak in Congo", False),
        ("Jesse Jackson: A life in pictures", False),
        ("Iran Holds Exercises in Strait of Hormuz After Trump Threatens Military Action", False),
        ("U.S. and Iran wrap up second round of nuclear talks", False),
        ("However the vote goes, Orban's party keeps its majority", False),
    ],
)
def test_explainers_are_told_by_their_headlines(title: str, explainer: bool) -> None:
    assert is_explainer(title) is explainer
