"""Renderings by spelling rules: how Ukrainian and Russian editors write a name from a
language whose letters do not sound as in English. No I/O.

The CMU dictionary (:mod:`monitor.match.sound`) knows English pronunciations; an English
name it lacks is read by English spelling rules (``Hegseth`` -> «Гегсет»), and a French,
Dutch, German, Italian, Spanish, Portuguese, Polish, Turkish, Hungarian or romanised
Arabic name is transcribed by
its own language's reading rules, which the press follows (the practical transcription
of each language into Ukrainian and Russian): French ``Lecornu`` -> «Лекорню»,
``Barrot`` -> «Барро» (silent endings), ``Bayrou`` -> «Байру»; Dutch ``Rutte`` ->
«Рютте»; German ``Steinmeier`` -> «Штайнмаєр», ``Baerbock`` -> «Бербок»; Portuguese
``Guterres`` -> «Гутерреш»; Spanish ``Sánchez`` -> «Санчес»; Polish ``Nawrocki`` ->
«Навроцький». The name's language is unknown, so every language's reading is produced;
the matcher compares their phonetic keys with Cyrillic words only, exactly.

Each language is an ordered list of (grapheme pattern, Cyrillic options): at each
position the first pattern that matches there is taken, else the letter's common
reading. No maintained library does this mapping (epitran gives IPA for some of these
languages and needs panphon's tables; it was measured against the CMU route in
:mod:`monitor.match.sound`); the tables follow the published practical transcriptions.
"""

from __future__ import annotations

import functools
import re
from itertools import islice, product

MAX_PER_LANGUAGE = 16  # renderings of one name in one language's reading, at most
_V = "aeiouyáàâäéèêëíìîïóòôöőúùûüű"  # vowel letters, for contexts

# A letter's common reading, when no rule of the language applies.
_LETTERS: dict[str, tuple[str, ...]] = {
    "a": ("а",),
    "b": ("б",),
    "c": ("к",),
    "d": ("д",),
    "e": ("е",),
    "f": ("ф",),
    "g": ("г",),
    "h": ("х",),
    "i": ("і",),
    "j": ("й",),
    "k": ("к",),
    "l": ("л",),
    "m": ("м",),
    "n": ("н",),
    "o": ("о",),
    "p": ("п",),
    "q": ("к",),
    "r": ("р",),
    "s": ("с",),
    "t": ("т",),
    "u": ("у",),
    "v": ("в",),
    "w": ("в",),
    "x": ("кс",),
    "y": ("і",),
    "z": ("з",),
    "á": ("а",),
    "à": ("а",),
    "â": ("а",),
    "ä": ("е",),
    "ã": ("а",),
    "å": ("о",),
    "æ": ("е",),
    "é": ("е",),
    "è": ("е",),
    "ê": ("е",),
    "ë": ("е",),
    "í": ("і",),
    "ì": ("і",),
    "î": ("і",),
    "ï": ("і",),
    "ı": ("и",),
    "ó": ("о",),
    "ò": ("о",),
    "ô": ("о",),
    "õ": ("о",),
    "ö": ("е",),
    "ő": ("е",),
    "ø": ("е",),
    "ú": ("у",),
    "ù": ("у",),
    "û": ("у",),
    "ü": ("ю",),
    "ű": ("ю",),
    "ý": ("і",),
    "ç": ("с",),
    "ñ": ("нь",),
    "ß": ("с",),
    "ł": ("л", "в"),
    "ś": ("сь",),
    "ć": ("ць",),
    "ń": ("нь",),
    "ż": ("ж",),
    "ź": ("зь",),
    "ą": ("он",),
    "ę": ("ен",),
    "ğ": ("",),
    "ş": ("ш",),
    "š": ("ш",),
    "č": ("ч",),
    "ž": ("ж",),
    "ř": ("рж",),
    "'": ("",),
    "-": ("-",),
}

Rule = tuple[re.Pattern[str], tuple[str, ...]]


def _rules(*pairs: tuple[str, tuple[str, ...]]) -> tuple[Rule, ...]:
    return tuple((re.compile(pattern.replace("V", _V)), options) for pattern, options in pairs)


_ENGLISH = _rules(  # names the CMU dictionary lacks (Hegseth «Гегсет»)
    (r"th", ("т", "с")),
    (r"sh", ("ш",)),
    (r"tch|ch", ("ч",)),
    (r"ph", ("ф",)),
    (r"ck", ("к",)),
    (r"ee|ea", ("і",)),
    (r"oo", ("у",)),
    (r"wh|w", ("в", "у")),
    (r"j", ("дж",)),
    (r"g(?=[eiy])", ("дж", "г")),
    (r"c(?=[eiy])", ("с",)),
    (r"h", ("г", "х")),
    (r"y$", ("і",)),
)
_FRENCH = _rules(
    (r"eaux?$|aux?$", ("о",)),
    (r"ean(?![Vnm])", ("ан",)),  # Jean «Жан»
    (r"eau|au", ("о",)),
    (r"ou", ("у",)),
    (r"oi", ("уа",)),
    (r"[ae]y(?=[V])", ("ей",)),
    (r"ay", ("ай", "е")),
    (r"a[iî]|e[iî]", ("е",)),
    (r"(?:ain|ein|in|yn|im)(?![Vnm])", ("ен",)),
    (r"(?:an|am|en|em)(?![Vnm])", ("ан", "ен")),
    (r"o[nm](?![Vnm])", ("он",)),
    (r"un(?![Vn])", ("ен",)),
    (r"iers?$", ("ьє", "є")),
    (r"(?:er|ez|et|ed)$", ("е",)),
    (r"(?<=[V])ill", ("й",)),
    (r"gn", ("нь",)),
    (r"ch", ("ш",)),
    (r"qu", ("к",)),
    (r"ph", ("ф",)),
    (r"th", ("т",)),
    (r"gu(?=[eiyéè])", ("г",)),
    (r"g(?=[eiyéè])", ("ж",)),
    (r"c(?=[eiyéè])|ç|ss", ("с",)),
    (r"(?<=[V])s(?=[V])", ("з",)),
    (r"ll", ("л",)),
    (r"(?:es|e|[tdspxz]|[tdp]s)$", ("",)),
    (r"(?<=[^V])e(?=[^V][V])", ("е", "")),  # a mute e: Villepin «Вільпен»
    (r"h", ("",)),
    (r"j", ("ж",)),
    (r"u", ("ю",)),
    (r"w", ("в",)),
)
_GERMAN = _rules(
    (r"tsch", ("ч",)),
    (r"sch", ("ш",)),
    (r"^s(?=[tp])", ("ш",)),
    (r"ey", ("ай", "яй")),  # Leyen «Ляйен», «Ляєн»
    (r"[ae][iy]", ("ай",)),
    (r"eu|äu", ("ой",)),
    (r"ie", ("і",)),
    (r"chs", ("кс",)),
    (r"ch", ("х",)),
    (r"ck", ("к",)),
    (r"ph", ("ф",)),
    (r"th", ("т",)),
    (r"qu", ("кв",)),
    (r"tz|z", ("ц",)),
    (r"ß|ss", ("с",)),
    (r"s(?=[V])", ("з",)),
    (r"(?<=[V])h", ("",)),
    (r"ae", ("е",)),
    (r"oe", ("е",)),
    (r"ue", ("ю",)),
    (r"v", ("ф",)),
    (r"j", ("й",)),
    (r"h", ("г", "х")),
    (r"c", ("к", "ц")),
)
_DUTCH = _rules(
    (r"sch$", ("с",)),
    (r"sch", ("сх",)),
    (r"ch", ("х",)),
    (r"ij|ei|ey", ("ей",)),
    (r"ui", ("ей", "ау")),
    (r"oe", ("у",)),
    (r"ou|au", ("ау",)),
    (r"aa", ("а",)),
    (r"ee", ("е",)),
    (r"oo", ("о",)),
    (r"uu|u", ("ю",)),
    (r"ie", ("і",)),
    (r"g", ("х", "г")),
    (r"v", ("в", "ф")),
    (r"c(?=[eiy])", ("с",)),
    (r"y", ("ей", "і")),
)
_ITALIAN = _rules(
    (r"cch", ("кк",)),
    (r"ch", ("к",)),
    (r"gh", ("г",)),
    (r"gli", ("льї", "лі")),
    (r"gn", ("нь",)),
    (r"sci(?=[aou])", ("ш",)),
    (r"sc(?=[ei])", ("ш",)),
    (r"ci(?=[aou])", ("ч",)),
    (r"c(?=[ei])", ("ч",)),
    (r"gi(?=[aou])", ("дж",)),
    (r"g(?=[ei])", ("дж",)),
    (r"qu", ("кв",)),
    (r"zz|z", ("ц", "дз")),
    (r"h", ("",)),
    (r"(?<=[V])s(?=[V])", ("з",)),
)
_IBERIAN = _rules(  # Spanish and Portuguese
    (r"ll", ("ль", "й")),
    (r"ñ|nh", ("нь",)),
    (r"lh", ("ль",)),
    (r"ch", ("ч", "ш")),
    (r"qu(?=[eéií])", ("к",)),
    (r"gu(?=[eéií])", ("г",)),
    (r"g(?=[eéií])", ("х", "ж")),
    (r"j", ("х", "ж")),
    (r"c(?=[eéií])|z", ("с",)),
    (r"ão", ("ан",)),
    (r"h", ("",)),
    (r"s$|s(?=[bcdfgkpqtvz])", ("с", "ш")),  # Portuguese Costa «Кошта»
    (r"y$", ("й",)),
)
_POLISH = _rules(
    (r"szcz", ("щ",)),
    (r"(?<=[tpk])rz|(?<=ch)rz", ("ш",)),  # Trzaskowski «Тшасковський»
    (r"dzi(?=[aeouyąęó])", ("дзь",)),
    (r"si(?=[aeouyąęó])", ("сь", "с")),  # soft before a vowel: Ziobro «Зьобро»
    (r"ci(?=[aeouyąęó])", ("ць", "ц")),
    (r"zi(?=[aeouyąęó])", ("зь", "з")),
    (r"ni(?=[aeouyąęó])", ("нь", "н")),
    (r"cki$", ("цький", "цкий")),
    (r"ski$", ("ський", "ский")),
    (r"cka$", ("цька", "цкая")),
    (r"ska$", ("ська", "ская")),
    (r"sz", ("ш",)),
    (r"cz", ("ч",)),
    (r"rz", ("ж",)),
    (r"ch", ("х",)),
    (r"dż", ("дж",)),
    (r"ie", ("є", "е")),
    (r"ia", ("я",)),
    (r"iu|ió", ("ю",)),
    (r"c", ("ц",)),
    (r"y", ("и",)),
    (r"ó", ("у",)),
)
_TURKISH = _rules(  # also written without its letters: Cavusoglu for Çavuşoğlu «Чавушоглу»
    (r"c", ("дж", "ч")),
    (r"s", ("с", "ш")),
    (r"(?<=[V])g(?=[V])", ("", "г")),
    (r"ı", ("и", "і")),
    (r"ü", ("ю",)),
    (r"ö", ("е",)),
)
_ARABIC = _rules(  # romanised Arabic and Persian names: vowels as the press hears them
    (r"kh", ("х",)),
    (r"sh", ("ш",)),
    (r"gh", ("г",)),
    (r"dh|th", ("з", "с")),
    (r"ou|oo|o(?=h)|u", ("у", "о")),  # Mohammed «Мухаммед»; Orban stays «Орбан»
    (r"ee|ei", ("і", "ей")),
    (r"ai|ay", ("ай", "ей")),
    (r"aa", ("а",)),
    (r"e", ("е", "а")),
    (r"i", ("і", "е")),
    (r"j", ("дж",)),
    (r"q", ("к",)),
    (r"h", ("х", "г")),
    (r"y", ("й",)),
)
_HUNGARIAN = _rules(
    (r"sz", ("с",)),
    (r"cs", ("ч",)),
    (r"zs", ("ж",)),
    (r"gy", ("дь",)),
    (r"ny", ("нь",)),
    (r"ly", ("й",)),
    (r"s", ("ш",)),
    (r"c", ("ц",)),
)
LANGUAGES: dict[str, tuple[Rule, ...]] = {
    "en": _ENGLISH,
    "fr": _FRENCH,
    "de": _GERMAN,
    "nl": _DUTCH,
    "it": _ITALIAN,
    "es-pt": _IBERIAN,
    "pl": _POLISH,
    "tr": _TURKISH,
    "ar": _ARABIC,
    "hu": _HUNGARIAN,
}


def read(word: str, rules: tuple[Rule, ...]) -> set[str]:
    """A normalised Latin word's Cyrillic renderings by one language's reading rules
    (at most MAX_PER_LANGUAGE); empty when it holds a letter no table knows."""
    pattern, choices = _combined(rules)
    options: list[tuple[str, ...]] = []
    pos = 0
    while pos < len(word):
        m = pattern.match(word, pos)
        if m and m.end() > pos and m.lastindex:
            options.append(choices[m.lastindex - 1])
            pos = m.end()
            continue
        letter = _LETTERS.get(word[pos])
        if letter is None:
            return set()
        options.append(letter)
        pos += 1
    return {"".join(c) for c in islice(product(*options), MAX_PER_LANGUAGE)} - {""}


@functools.cache
def _combined(rules: tuple[Rule, ...]) -> tuple[re.Pattern[str], tuple[tuple[str, ...], ...]]:
    """A language's rules as one alternation, tried in order at a position (the first
    alternative that matches wins, as in the list): one regex call per letter group."""
    if any(p.groups for p, _ in rules):  # a group inside a rule would shift the numbering
        raise ValueError("a reading rule has a capturing group: use (?:...)")
    alternation = "|".join(f"({p.pattern})" for p, _ in rules)
    return re.compile(alternation), tuple(choices for _, choices in rules)


# A romanised Arabic or Persian name shows it in its letters; without them the Arabic
# reading (o -> «у») turns other names into other words (Umerov «Омаров»).
_ARABIC_LOOK = re.compile(r"kh|gh|dh|q|aa|ee|oo|ou|h")


# Readings applied to every name, even one the English dictionary pronounces: their
# letters keep their sound (Fico «Фіцо», Klitschko «Кличко»), so they turn few English
# names into other words.
_ALWAYS = frozenset({"en", "de", "pl"})
# Letters that show a name's language even when the English dictionary pronounces it:
# "Jean" is «Джін» to the dictionary and «Жан» to the press.
LOOKS: dict[str, re.Pattern[str]] = {
    "fr": re.compile(r"eau|ou|oi|[éèêëç]|ean|ault|ieu|eux|ier$|ot$"),
    "de": re.compile(r"sch|[äöüß]|tz|ei|eu"),
    "nl": re.compile(r"^van|ij|oe|uu|aa"),
    "it": re.compile(r"cci|gli|gn|zz|elli$|etti$|ini$"),
    "es-pt": re.compile(r"[ñãõ]|lh|nh|ez$"),
    "pl": re.compile(r"[łżśćńąę]|sz|cz|rz|wicz|cki$|ski$"),
    "tr": re.compile(r"[çşğı]|oğlu$"),
    "hu": re.compile(r"[őű]|cs|zs|gy"),
    "ar": _ARABIC_LOOK,
}


def transcriptions(word: str, *, known: bool = False) -> dict[str, str]:
    """``{rendering: language}`` of a normalised Latin word by each language's reading:
    ``rutte`` -> ``{"рютте": "nl", "рют": "fr", "рутте": "de", ...}``. For a word the
    English dictionary ``known``s, the other languages only when its letters show them
    (:data:`LOOKS`): read as French, "Trump" would be «Трюм» and "Merz" «Мер»."""
    out: dict[str, str] = {}
    for language, rules in LANGUAGES.items():
        look = LOOKS.get(language)
        gated = language == "ar" or (known and language not in _ALWAYS)
        if gated and not (look and look.search(word)):
            continue
        for rendering in sorted(read(word, rules)):
            out.setdefault(rendering, language)
    return out
