"""A small uk/ru/en lexicon of frequent news words, so that parallels in different
languages share word keys: ``переговори``, ``переговоры`` and ``talks`` are one key
(``@talks``), as are ``7 січня``'s, ``7 января``'s and ``January 7``'s months. No I/O.

A hand list (no offline uk/ru/en dictionary is installed): the nouns and verbs of the
events the press monitor reports (meetings, talks, sanctions, strikes, elections), the
months and the days of the week. Each word is listed in the forms its feeds write; it
is matched by its transliterated 6-letter stem (:func:`monitor.stories.entities.word_stems`),
so the inflected forms sharing that stem need no entry of their own. A word whose stem
is one of an unrelated word is left out: a false key is worse than a missing one.
"""

from __future__ import annotations

from anyascii import anyascii

from monitor.match.tokens import fold_text

STEM = 6  # letters of a word's transliterated stem

CONCEPTS: dict[str, tuple[str, ...]] = {
    "talks": ("talks", "negotiations", "negotiators", "переговори", "переговоры", "перемовини"),
    "meeting": (
        *("meeting", "meetings", "зустріч", "зустрічі", "встреча", "встрече", "встречи"),
        *("засідання", "заседание", "заседании"),
    ),
    "summit": ("summit", "саміт", "саміті", "саммит", "саммите"),
    "sanctions": ("sanctions", "санкції", "санкцій", "санкции", "санкций"),
    "ceasefire": ("ceasefire", "truce", "перемир'я", "перемирие", "перемирия"),
    "envoy": ("envoy", "спецпредставник", "спецпредставитель", "спецпосланник", "emissary"),
    "palace": ("palace", "палац", "палаці", "дворец", "дворце"),
    "coalition": ("coalition", "коаліція", "коаліції", "коалиция", "коалиции"),
    "president": ("president", "президент", "президента", "президенту"),
    "minister": ("minister", "міністр", "міністра", "министр", "министра"),
    "war": ("війна", "війни", "війні", "война", "войны", "войне"),
    "drone": ("drone", "drones", "дрон", "дрони", "дроны", "безпілотник", "беспилотник"),
    "missile": ("missile", "missiles", "ракета", "ракети", "ракеты", "ракет"),
    "killed": ("killed", "kills", "загинули", "погибли", "загиблих", "погибших"),
    "elections": ("election", "elections", "вибори", "виборах", "выборы", "выборах"),
    "parliament": ("parliament", "парламент", "парламенту", "парламента"),
    "agreement": ("agreement", "угода", "угоду", "соглашение", "соглашения"),
    "guarantees": ("guarantees", "гарантії", "гарантій", "гарантии", "гарантий"),
    "troops": ("troops", "війська", "військ", "войска", "войск"),
    "weapons": ("weapons", "зброя", "зброї", "оружие", "оружия"),
    "exchange": ("exchange", "обмін", "обміну", "обмен", "обмена"),
    "prisoners": ("prisoners", "полонених", "полонені", "пленных", "пленные"),
    "visit": ("visit", "візит", "візиту", "визит", "визита"),
    "explosion": ("explosion", "explosions", "вибух", "вибухи", "взрыв", "взрывы"),
    "investigation": ("investigation", "розслідування", "расследование", "расследования"),
    "earthquake": ("earthquake", "землетрус", "землетрясение"),
    "leaves": ("leaves", "залишив", "залишила", "покинул", "покинула"),
    "winter": ("winter", "зимовий", "зимнее", "зимний"),
    "january": ("january", "січня", "січень", "января", "январь"),
    "february": ("february", "лютого", "лютий", "февраля", "февраль"),
    "march": ("березня", "березень", "марта", "март"),
    "april": ("april", "квітня", "квітень", "апреля", "апрель"),
    "may": ("травня", "травень", "мая"),
    "june": ("june", "червня", "червень", "июня", "июнь"),
    "july": ("july", "липня", "липень", "июля", "июль"),
    "august": ("august", "серпня", "серпень", "августа", "август"),
    "september": ("september", "вересня", "вересень", "сентября", "сентябрь"),
    "october": ("october", "жовтня", "жовтень", "октября", "октябрь"),
    "november": ("november", "листопада", "листопад", "ноября", "ноябрь"),
    "december": ("december", "грудня", "грудень", "декабря", "декабрь"),
    "monday": ("monday", "понеділок", "понеділка", "понедельник"),
    "tuesday": ("tuesday", "вівторок", "вівторка", "вторник"),
    "wednesday": ("wednesday", "середу", "середа", "среду", "среда"),
    "thursday": ("thursday", "четвер", "четверга", "четверг"),
    "friday": ("friday", "п'ятницю", "п'ятниця", "пятницу", "пятница"),
    "saturday": ("saturday", "суботу", "субота", "субботу", "суббота"),
    "sunday": ("sunday", "неділю", "неділя", "воскресенье"),
}


def stem(word: str) -> str:
    """The transliterated stem of a folded word (what :data:`CONCEPTS` is keyed by)."""
    return anyascii(word)[:STEM]


def _by_stem() -> dict[str, str]:
    found: dict[str, str] = {}
    for concept, words in CONCEPTS.items():
        for word in words:
            key = stem(fold_text(word))
            held = found.setdefault(key, concept)
            if held != concept:
                raise ValueError(f"lexicon: {word!r} stems as {held!r}'s words")
    return found


BY_STEM: dict[str, str] = _by_stem()


def concept_key(word_stem: str) -> str:
    """``@concept`` for a stem the lexicon knows, else the stem itself."""
    concept = BY_STEM.get(word_stem)
    return word_stem if concept is None else f"@{concept}"
