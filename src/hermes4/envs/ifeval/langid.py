"""Language identification for IFEval: `langdetect`, the library IFEval itself uses, seeded so verdicts repeat.

`identify` answers what `langdetect.detect` answers (an ISO 639-1 code, `zh-cn`/`zh-tw` for Chinese), or None
where langdetect raises (no letters), which IFEval counts as a followed instruction. `STOPWORDS` are small
function-word lists the composed `compose:nth_word_language` instruction uses as its lexicon.
"""

from __future__ import annotations

import functools
import threading

from langdetect import DetectorFactory, LangDetectException, detect  # light: its profiles load on first use

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


# langdetect samples its n-grams at random; a fixed seed makes every verdict repeatable (IFEval leaves it unset).
DetectorFactory.seed = 0
_FACTORY_LOCK = threading.Lock()


@functools.cache
def _loaded() -> bool:
    # langdetect loads its profiles lazily into a module global on the first call; do it once under a lock,
    # so concurrent checker threads never race the loading.
    with _FACTORY_LOCK:
        try:
            detect("warm up the language profiles")
        except LangDetectException:
            pass
    return True


@functools.lru_cache(maxsize=4096)  # deterministic (seeded), and IFEval's loose rule asks about near-copies of a text
def identify(text: str) -> str | None:
    """langdetect's language code for `text` (seeded), or None where it finds no features (e.g. no letters)."""
    _loaded()
    try:
        return detect(text)
    except LangDetectException:
        return None


LANGUAGE_NAMES = {
    "en": "English", "es": "Spanish", "fr": "French", "de": "German", "it": "Italian", "pt": "Portuguese",
    "nl": "Dutch", "sv": "Swedish", "pl": "Polish", "tr": "Turkish", "fi": "Finnish", "sw": "Swahili",
    "ru": "Russian", "uk": "Ukrainian", "bg": "Bulgarian", "el": "Greek", "ar": "Arabic", "fa": "Persian",
    "he": "Hebrew", "hi": "Hindi", "mr": "Marathi", "ne": "Nepali", "bn": "Bengali", "ta": "Tamil", "te": "Telugu",
    "gu": "Gujarati", "pa": "Punjabi", "kn": "Kannada", "ml": "Malayalam", "th": "Thai", "ko": "Korean",
    "ja": "Japanese", "zh": "Chinese", "vi": "Vietnamese", "ur": "Urdu",
}
