"""A small built-in language identifier: writing system first, then stopword counts for Latin scripts.

It replaces langdetect for IFEval's `language:response_language` and the English checks of `change_case`,
and covers IFEval's 30 response languages. Limits, by design: Latin-script languages (en, es, fr, de, it,
pt, nl, sv, pl, tr, fi, sw, vi) are told apart by common function words plus a few distinctive letters,
so a text needs a handful of ordinary words to be identified; other scripts decide by characters
(ru/uk/bg by Cyrillic letters that differ, ar/fa/ur by the letters Persian and Urdu add, hi/mr/ne share
Devanagari and are separated by a few common words, ja by kana, zh by Han without kana). Mixed-language
and very short texts are guesses. Text with no letters at all gives None (where langdetect raises).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

STOPWORDS: dict[str, set[str]] = {
    "en": {"the", "and", "of", "to", "in", "is", "that", "it", "for", "was", "on", "are", "with", "as", "be", "this", "by", "at", "have", "from", "or", "an", "not", "but", "they", "his", "her", "we", "you", "which", "their", "has", "been", "were", "would", "there", "what", "all", "can", "will", "one", "so", "if", "about", "more", "when", "also", "into", "than", "its", "only", "some", "could", "them", "these", "then"},
    "es": {"el", "la", "de", "que", "y", "en", "los", "las", "del", "se", "por", "un", "una", "con", "no", "para", "es", "al", "lo", "como", "más", "pero", "sus", "le", "ya", "o", "este", "sí", "porque", "esta", "entre", "cuando", "muy", "sin", "sobre", "también", "me", "hasta", "hay", "donde", "quien", "desde", "todo", "nos", "durante", "todos", "uno", "les", "ni", "contra", "otros", "ese", "eso", "ante", "ellos", "e", "esto", "mí", "antes", "algunos", "qué", "unos", "yo", "otro", "otras", "otra", "él", "tanto", "esa", "estos", "mucho"},
    "fr": {"le", "la", "les", "de", "des", "du", "et", "en", "un", "une", "est", "que", "qui", "dans", "pour", "pas", "sur", "au", "aux", "avec", "ce", "ces", "il", "elle", "ils", "elles", "nous", "vous", "ne", "se", "sont", "par", "plus", "mais", "ou", "comme", "on", "tout", "leur", "son", "sa", "ses", "été", "être", "avoir", "fait", "très", "aussi", "dont", "cette", "peut", "bien", "sans", "où", "même"},
    "de": {"der", "die", "das", "und", "ist", "nicht", "ein", "eine", "zu", "den", "dem", "des", "mit", "sich", "auf", "für", "von", "im", "sie", "es", "auch", "an", "werden", "aus", "er", "hat", "dass", "wie", "bei", "oder", "nach", "wird", "noch", "am", "sind", "einer", "einem", "eines", "nur", "über", "wenn", "so", "zum", "zur", "kann", "aber", "wir", "ich", "ihr", "vor", "durch", "diese", "dieser"},
    "it": {"il", "lo", "la", "gli", "le", "di", "che", "e", "è", "un", "una", "per", "non", "con", "del", "della", "dei", "delle", "nel", "nella", "sono", "si", "da", "al", "alla", "come", "più", "ma", "anche", "questo", "questa", "ha", "hanno", "se", "mi", "ci", "suo", "sua", "loro", "tra", "fra", "dove", "quando", "molto", "tutto", "essere", "stato"},
    "pt": {"o", "a", "os", "as", "de", "do", "da", "dos", "das", "que", "e", "em", "um", "uma", "para", "com", "não", "por", "se", "na", "no", "mais", "como", "mas", "ao", "foi", "ele", "ela", "seu", "sua", "são", "também", "já", "pelo", "pela", "está", "isso", "esse", "essa", "muito", "quando", "ter", "há", "até", "sem", "depois", "entre", "nós", "você"},
    "nl": {"de", "het", "een", "en", "van", "in", "is", "dat", "op", "te", "zijn", "voor", "met", "niet", "die", "aan", "er", "maar", "om", "ook", "als", "bij", "dan", "nog", "wordt", "door", "naar", "uit", "over", "tot", "hij", "zij", "wij", "ze", "je", "ik", "dit", "deze", "veel", "meer", "geen", "kan", "worden", "was"},
    "sv": {"och", "att", "det", "som", "en", "är", "av", "för", "på", "med", "har", "den", "till", "inte", "om", "ett", "var", "jag", "han", "hon", "de", "vi", "kan", "så", "men", "från", "eller", "ska", "vid", "sig", "när", "efter", "hade", "mycket", "bara", "också", "detta", "dessa"},
    "pl": {"i", "w", "na", "z", "że", "się", "do", "nie", "to", "jest", "jak", "o", "co", "ale", "po", "tak", "od", "za", "przez", "dla", "jego", "jej", "już", "tylko", "być", "ich", "są", "był", "była", "może", "przy", "który", "która", "które", "tym", "oraz", "czy", "gdy"},
    "tr": {"ve", "bir", "bu", "da", "de", "için", "ile", "ne", "çok", "daha", "gibi", "olarak", "ama", "ben", "sen", "o", "biz", "siz", "onlar", "var", "yok", "değil", "mi", "kadar", "sonra", "her", "en", "şey", "ise", "olan", "oldu", "olduğu", "veya"},
    "fi": {"ja", "on", "ei", "se", "että", "hän", "oli", "ovat", "mutta", "kun", "niin", "kuin", "myös", "tai", "joka", "jos", "vain", "sekä", "nyt", "sitä", "tämä", "ne", "me", "te", "he", "olla", "ollut", "kanssa", "mukaan", "jo"},
    "vi": {"và", "của", "là", "có", "không", "được", "một", "những", "trong", "cho", "này", "với", "các", "người", "đã", "khi", "để", "thì", "ra", "cũng", "như", "đến", "nhiều", "rất", "tôi", "chúng", "năm", "nước"},
    "sw": {"na", "ya", "wa", "kwa", "ni", "katika", "za", "la", "hii", "kuwa", "cha", "yake", "hiyo", "pia", "hata", "lakini", "sana", "wao", "sisi", "mimi", "wewe", "huo", "hilo", "ambao", "ambayo", "kama", "kwamba", "baada"},
}

# Letters specific enough within the Latin script to tip a close call.
_LATIN_HINTS = {
    "es": "ñ¿¡", "vi": "ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ", "de": "ßäöü", "fr": "çèêëàœ", "pt": "ãõç", "pl": "ąęłńśźż", "tr": "ğışç", "sv": "åäö", "fi": "äö", "it": "ìò",
}

_HINDI_WORDS = {"है", "और", "के", "में", "की", "को", "से", "नहीं"}
_MARATHI_WORDS = {"आहे", "आणि", "आहेत", "नाही", "हे", "या"}
_NEPALI_WORDS = {"छ", "र", "हो", "छन्", "गर्न", "पनि"}


def _script(char: str) -> str | None:
    if not char.isalpha():
        return None
    code = ord(char)
    if code < 0x250 or 0x1E00 <= code <= 0x1EFF:
        return "latin"
    name = unicodedata.name(char, "")
    for script in ("CYRILLIC", "GREEK", "ARABIC", "HEBREW", "DEVANAGARI", "BENGALI", "TAMIL", "TELUGU", "GUJARATI", "GURMUKHI", "KANNADA", "MALAYALAM", "THAI", "HANGUL", "HIRAGANA", "KATAKANA", "CJK"):
        if name.startswith(script):
            return script.lower()
    return "other"


def identify(text: str) -> str | None:
    """An ISO 639-1 code for the text's main language, "unknown" when letters match nothing we know,
    None when there are no letters."""
    scripts = Counter(s for s in map(_script, text) if s)
    if not scripts:
        return None
    kana = scripts["hiragana"] + scripts["katakana"]
    if kana and kana + scripts["cjk"] >= max(scripts.values()):
        return "ja"
    script, _ = scripts.most_common(1)[0]
    if script == "latin":
        return _latin(text)
    if script == "cyrillic":
        if re.search(r"[іїєґ]", text, re.IGNORECASE):
            return "uk"
        if re.search(r"[ыэё]", text, re.IGNORECASE):
            return "ru"
        return "bg" if re.search(r"ъ", text) and not re.search(r"[ыэ]", text) else "ru"
    if script == "arabic":
        if re.search(r"[ٹڈڑںےھ]", text):
            return "ur"
        return "fa" if re.search(r"[پچژگی]", text) else "ar"
    if script == "devanagari":
        words = set(re.findall(r"[\u0900-\u097F]+", text))
        scores = {"hi": len(words & _HINDI_WORDS), "mr": len(words & _MARATHI_WORDS), "ne": len(words & _NEPALI_WORDS)}
        return max(scores, key=lambda k: (scores[k], k == "hi"))
    return {
        "greek": "el", "hebrew": "he", "bengali": "bn", "tamil": "ta", "telugu": "te", "gujarati": "gu", "gurmukhi": "pa",
        "kannada": "kn", "malayalam": "ml", "thai": "th", "hangul": "ko", "cjk": "zh",
    }.get(script, "unknown")


def _latin(text: str) -> str:
    words = re.findall(r"[^\W\d_]+", text.lower())
    if not words:
        return "unknown"
    scores = {lang: sum(1 for w in words if w in stop) for lang, stop in STOPWORDS.items()}
    lowered = text.lower()
    for lang, letters in _LATIN_HINTS.items():
        scores[lang] += 0.5 * sum(lowered.count(ch) for ch in letters) ** 0.5
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] > 0 else "unknown"


LANGUAGE_NAMES = {
    "en": "English", "es": "Spanish", "fr": "French", "de": "German", "it": "Italian", "pt": "Portuguese",
    "nl": "Dutch", "sv": "Swedish", "pl": "Polish", "tr": "Turkish", "fi": "Finnish", "sw": "Swahili",
    "ru": "Russian", "uk": "Ukrainian", "bg": "Bulgarian", "el": "Greek", "ar": "Arabic", "fa": "Persian",
    "he": "Hebrew", "hi": "Hindi", "mr": "Marathi", "ne": "Nepali", "bn": "Bengali", "ta": "Tamil", "te": "Telugu",
    "gu": "Gujarati", "pa": "Punjabi", "kn": "Kannada", "ml": "Malayalam", "th": "Thai", "ko": "Korean",
    "ja": "Japanese", "zh": "Chinese", "vi": "Vietnamese", "ur": "Urdu",
}
