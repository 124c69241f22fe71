"""Incremental, string-aware reader of near-JSON: canonical JSON text out while the text streams in.

`JsonNormalizer` reads one JSON value a piece at a time and writes it back as canonical JSON (the text
`json.dumps(value, ensure_ascii=False)` would give, apart from duplicate keys), so a consumer can stream that text
and `json.loads` of the whole equals the value. It knows where strings start and end (a brace or a `</tool_call>`
inside a string is just text) and tracks nesting, so it also finds where the value ends.

Near-JSON that models write is normalised on the fly and each repair recorded: single-quoted strings, Python
`True`/`False`/`None`, raw control characters (newlines) inside strings, trailing commas, unknown escapes.
Anything else it cannot read (unquoted keys, comments, missing commas, ...) *stalls* it: from then on it writes
nothing and only skims (strings and nesting) to find the end of the value; the caller repairs the whole text
with `json_repair` afterwards. Each character is looked at a bounded number of times: total work is linear.
"""

from __future__ import annotations

import re

# What the parser expects next.
VALUE = 0  # a value (top level, after ':')
VALUE_OR_CLOSE = 1  # after '['
VALUE_AFTER_COMMA = 2  # after ',' in an array (']' here means a trailing comma)
KEY_OR_CLOSE = 3  # after '{'
KEY_AFTER_COMMA = 4  # after ',' in an object ('}' here means a trailing comma)
COLON = 5
NEXT = 6  # ',' or the container's close
DONE = 7

_VALUE_STATES = (VALUE, VALUE_OR_CLOSE, VALUE_AFTER_COMMA)
_KEY_STATES = (KEY_OR_CLOSE, KEY_AFTER_COMMA)

_WS = " \t\n\r"
_NOT_WS = re.compile(r"[^ \t\n\r]")
_DQ_SPECIAL = re.compile(r'["\\\x00-\x1f]')
_SQ_SPECIAL = re.compile(r"['\"\\\x00-\x1f]")
_NUMBER_RUN = re.compile(r"[0-9eE.+\-]*")
_WORD_RUN = re.compile(r"[A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_SKIM_SPECIAL = re.compile(r"[\"'{}\[\]<,:]")
_WORDS = {"true": "true", "false": "false", "null": "null", "True": "true", "False": "false", "None": "null"}
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "'": "'"}
_CANONICAL_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_HEX = frozenset("0123456789abcdefABCDEF")


def canonical_char(char: str) -> str:
    """How `json.dumps(..., ensure_ascii=False)` writes one character inside a string (lone surrogates escaped)."""
    escaped = _CANONICAL_ESCAPES.get(char)
    if escaped is not None:
        return escaped
    code = ord(char)
    if code < 0x20 or 0xD800 <= code <= 0xDFFF:
        return f"\\u{code:04x}"
    return char


class JsonNormalizer:
    """Reads one near-JSON value incrementally; see the module docstring.

    `feed(buf, i, n, base)` reads `buf[i:n]` (`base` = position of `buf[0]` in the whole output, for issue
    positions) and returns where it stopped: at `n`, just after the value's last character, or (with
    `stop_at_tag`) at a `<` outside any string, which the caller inspects and then passes with `take_lt()`.
    """

    def __init__(self, *, skim: bool = False, stop_at_tag: bool = False, base_hint: int = 0) -> None:
        self.out: list[str] = []  # canonical text pieces
        self.stack: list[str] = []  # '{' / '['
        self.max_depth = 0  # deepest nesting seen, strict or skimming (json's own limit follows the recursion limit)
        self.expect = VALUE
        self.done = False
        self.first_kind: str | None = None  # '{', '[', 'string', 'number', 'word' of the top-level value
        self.stop_at_tag = stop_at_tag
        self.repairs: list[tuple[str, int]] = []  # (what, position)
        self.stalled_at: int | None = None  # position where strict reading stopped
        self.extra_at: int | None = None  # position of text after the complete value
        self.skimming = skim
        self.skim_from_start = skim
        self._skim_depth = 0
        self._skim_prev = "{"  # last significant character seen while skimming (a quote after it opens a string)
        self._quote: str | None = None
        self._in_key = False
        self._escape: str | None = None  # None, "" (just saw a backslash) or "u" + hex digits so far
        self._high_surrogate: int | None = None
        self._token: list[str] | None = None
        self._token_kind = ""
        self._token_start = base_hint
        self._pending_comma = False
        self._comma_pos = 0
        self._key_parts: list[str] | None = None  # decoded key of a member of the top-level object
        self.top_key: str | None = None
        # Receivers of decoded string text, set by subclasses for strings they care about.
        self.collect: list[str] | None = None
        self.sink: JsonNormalizer | None = None
        self._fed = 0  # characters fed through feed_text so far

    # ---- hooks for subclasses: a value directly inside the top-level object starts / ends ----

    def _member_start(self, kind: str) -> None:
        pass

    def _member_end(self) -> None:
        pass

    # ---- output ----

    def _out(self, text: str) -> None:
        self.out.append(text)

    def text(self) -> str:
        return "".join(self.out)

    # ---- feeding ----

    def feed_text(self, text: str) -> None:
        """Feed a whole piece (used for a nested value, e.g. arguments given as a JSON string).

        Positions are counted from the first character ever fed this way, whatever the pieces were.
        """
        base = self._fed
        self._fed += len(text)
        i, n = 0, len(text)
        while i < n:
            i = self.feed(text, i, n, base)
            if i < n and self.done:
                # Text after the complete value: remember it, the value is then repaired as a whole.
                rest = _NOT_WS.search(text, i, n)
                if rest is not None and self.extra_at is None:
                    self.extra_at = base + rest.start()
                return

    def feed(self, buf: str, i: int, n: int, base: int) -> int:
        while i < n:
            if self.done:
                return i
            if self._quote is not None:
                i = self._string(buf, i, n, base)
                continue
            if self.skimming:
                i = self._skim(buf, i, n, base)
                # Stop only where the skim stopped at a `<`: when it stopped just after an opening quote, a `<`
                # next is the string's first character, as it is when the quote ended the previous chunk.
                if i < n and buf[i] == "<" and self._quote is None and not self.done:
                    return i
                continue
            c = buf[i]
            if self._token is not None:
                run = (_NUMBER_RUN if self._token_kind == "number" else _WORD_RUN).match(buf, i, n)
                if run.end() > i:
                    self._token.append(buf[i : run.end()])
                    i = run.end()
                    continue
                self._end_token()
                continue  # look at c again, in whatever state the token left
            if c in _WS:
                m = _NOT_WS.search(buf, i, n)
                i = m.start() if m else n
                continue
            if c == "<" and self.stop_at_tag:
                self._stall(base + i)
                return i
            if self._structural(c, base + i):
                i += 1
            # else: stalled on c; the skim branch looks at c again
        return i

    def take_lt(self) -> None:
        """The caller saw that the `<` where `feed` stopped is not a tag: it is ordinary (skimmed) text."""
        self._skim_prev = "<"

    def finish(self) -> None:
        """The text ended: complete a pending top-level number/word (e.g. arguments given as the string "5")."""
        if self._token is not None and self._quote is None and not self.skimming:
            self._end_token()
        if self._high_surrogate is not None and self._quote is not None:
            self._flush_surrogate()

    # ---- strict reading ----

    def _structural(self, c: str, pos: int) -> bool:
        """Handle one significant character outside strings; False if it stalled (c must be looked at again)."""
        expect = self.expect
        if c == "{" or c == "[":
            if expect not in _VALUE_STATES:
                return self._stall(pos)
            self._begin_value("{" if c == "{" else "[")
            self._out(c)
            self.stack.append(c)
            self.max_depth = max(self.max_depth, len(self.stack))
            self.expect = KEY_OR_CLOSE if c == "{" else VALUE_OR_CLOSE
            return True
        if c == "}" or c == "]":
            opener = "{" if c == "}" else "["
            allowed = (KEY_OR_CLOSE, NEXT, KEY_AFTER_COMMA) if c == "}" else (VALUE_OR_CLOSE, NEXT, VALUE_AFTER_COMMA)
            if not self.stack or self.stack[-1] != opener or expect not in allowed:
                return self._stall(pos)
            if expect in (KEY_AFTER_COMMA, VALUE_AFTER_COMMA):
                self.repairs.append(("trailing comma", self._comma_pos))
                self._pending_comma = False
            self._out(c)
            self.stack.pop()
            self._value_done()
            return True
        if c == ",":
            if expect != NEXT:
                return self._stall(pos)
            self._pending_comma = True
            self._comma_pos = pos
            self.expect = KEY_AFTER_COMMA if self.stack[-1] == "{" else VALUE_AFTER_COMMA
            return True
        if c == ":":
            if expect != COLON:
                return self._stall(pos)
            self._out(": ")
            self.expect = VALUE
            return True
        if c == '"' or c == "'":
            if c == "'":
                self.repairs.append(("single-quoted string", pos))
            if expect in _KEY_STATES:
                self._flush_comma()
                self._in_key = True
                if len(self.stack) == 1:
                    self._key_parts = []
            elif expect in _VALUE_STATES:
                self._begin_value("string")
                self._in_key = False
            else:
                return self._stall(pos)
            self._out('"')
            self._quote = c
            return True
        if c == "-" or "0" <= c <= "9":
            kind = "number"
        elif c.isalpha() or c == "_":
            kind = "word"
        else:
            return self._stall(pos)
        if expect not in _VALUE_STATES:
            return self._stall(pos)  # e.g. an unquoted key
        self._token = [c]
        self._token_kind = kind
        self._token_start = pos
        return True

    def _flush_comma(self) -> None:
        if self._pending_comma:
            self._out(", ")
            self._pending_comma = False

    def _begin_value(self, kind: str) -> None:
        self._flush_comma()
        depth = len(self.stack)
        if depth == 0:
            self.first_kind = kind
        elif depth == 1:
            self._member_start(kind)

    def _value_done(self) -> None:
        depth = len(self.stack)
        if depth == 0:
            self.done = True
            self.expect = DONE
            return
        self.expect = NEXT
        if depth == 1:
            self._member_end()

    def _end_token(self) -> None:
        token = "".join(self._token or ())
        self._token = None
        if self._token_kind == "number":
            canonical = None
            if _NUMBER.fullmatch(token):
                try:
                    if token.lstrip("-").isdigit():
                        canonical = str(int(token))
                    else:
                        number = float(token)
                        if number not in (float("inf"), float("-inf")):
                            canonical = repr(number)
                except ValueError:  # e.g. more digits than int() accepts
                    canonical = None
            kind = "number"
        else:
            canonical = _WORDS.get(token)
            if canonical is not None and token[0].isupper():
                self.repairs.append((f"Python literal {token}", self._token_start))
            kind = "null" if canonical == "null" else "word"
        if canonical is None:
            self._stall(self._token_start)
            return
        self._begin_value(kind)
        self._out(canonical)
        self._value_done()

    # ---- strings ----

    def _string(self, buf: str, i: int, n: int, base: int) -> int:
        quote = self._quote
        special = _DQ_SPECIAL if quote == '"' else _SQ_SPECIAL
        while i < n:
            if self._escape is not None:
                i = self._read_escape(buf, i, n, base)
                continue
            m = special.search(buf, i, n)
            j = m.start() if m else n
            if j > i:
                if not self.skimming:
                    piece = buf[i:j]
                    self._decoded(piece, piece)
                i = j
                if m is None:
                    return n
            c = buf[j]
            i = j + 1
            if c == quote:
                self._close_string()
                return i
            if c == "\\":
                self._escape = ""
            elif not self.skimming:
                if c != '"':  # a raw control character (a `"` inside a single-quoted string is just text)
                    self.repairs.append(("raw control character in a string", base + j))
                self._decoded(c, canonical_char(c))
        return i

    def _read_escape(self, buf: str, i: int, n: int, base: int) -> int:
        if self.skimming:  # only the string's end matters: skip the escaped character
            self._escape = None
            return i + 1
        if self._escape == "":
            c = buf[i]
            i += 1
            if c == "u":
                self._escape = "u"
                return i
            self._escape = None
            decoded = _SIMPLE_ESCAPES.get(c)
            if decoded is None or (c == "'" and self._quote == '"'):
                if decoded is None:
                    decoded = "\\" + c  # an unknown escape keeps its backslash, as text
                self.repairs.append((f"invalid escape \\{c}", base + i - 2))
            self._decoded(decoded, "".join(canonical_char(ch) for ch in decoded))
            return i
        while i < n and len(self._escape) < 5 and buf[i] in _HEX:
            self._escape += buf[i]
            i += 1
        if len(self._escape) == 5:
            code = int(self._escape[1:], 16)
            self._escape = None
            self._code_point(code)
        elif i < n:  # "\u" followed by too few hex digits: keep it as text
            partial = "\\" + self._escape
            self._escape = None
            self.repairs.append(("invalid \\u escape", base + i - len(partial)))
            self._decoded(partial, partial.replace("\\", "\\\\"))
        return i

    def _code_point(self, code: int) -> None:
        if 0xD800 <= code <= 0xDBFF:
            if self._high_surrogate is not None:
                self._flush_surrogate()
            self._high_surrogate = code
            return
        if 0xDC00 <= code <= 0xDFFF and self._high_surrogate is not None:
            char = chr(0x10000 + ((self._high_surrogate - 0xD800) << 10) + (code - 0xDC00))
            self._high_surrogate = None
            self._decoded(char, char)
            return
        char = chr(code)
        self._decoded(char, canonical_char(char))

    def _flush_surrogate(self) -> None:
        code, self._high_surrogate = self._high_surrogate, None
        self._decoded(chr(code), f"\\u{code:04x}")

    def _decoded(self, decoded: str, canonical: str) -> None:
        if self._high_surrogate is not None:
            self._flush_surrogate()
        if self._key_parts is not None and self._in_key:
            self._key_parts.append(decoded)
        if self.collect is not None:
            self.collect.append(decoded)
        if self.sink is not None:
            self.sink.feed_text(decoded)
        self._out(canonical)

    def _close_string(self) -> None:
        if self._high_surrogate is not None:
            self._flush_surrogate()
        self._quote = None
        if self.skimming:
            self._skim_prev = '"'
            return
        self._out('"')
        if self._in_key:
            self._in_key = False
            if self._key_parts is not None:
                self.top_key = "".join(self._key_parts)
                self._key_parts = None
            self.expect = COLON
        else:
            self._value_done()

    # ---- skimming (after a stall, or for text that does not start like an object) ----

    def _stall(self, pos: int) -> bool:
        if not self.skimming:
            self.skimming = True
            self.stalled_at = pos
            self._skim_depth = len(self.stack)
            self._skim_prev = "x"
            self._token = None
            self.collect = None
            self.sink = None
        return False

    def _skim(self, buf: str, i: int, n: int, base: int) -> int:
        while i < n:
            m = _SKIM_SPECIAL.search(buf, i, n)
            if m is None:
                if buf[i:n].strip():
                    self._skim_prev = "x"
                return n
            j = m.start()
            if buf[i:j].strip():
                self._skim_prev = "x"
            c = buf[j]
            if c == "<":
                if self.stop_at_tag:
                    return j
                self._skim_prev = c  # no tags to look for (e.g. decoded arguments text): an ordinary character
                i = j + 1
                continue
            i = j + 1
            if c == '"' or (c == "'" and self._skim_prev in "{[,:"):
                self._quote = c
                return i
            self._skim_prev = c
            if c == "{" or c == "[":
                self._skim_depth += 1
                self.max_depth = max(self.max_depth, self._skim_depth)
            elif c == "}" or c == "]":
                self._skim_depth -= 1
                if self._skim_depth <= 0:
                    self.done = True
                    return i
        return i


def close_json_prefix(prefix: str) -> str:
    """The shortest text that completes a prefix of canonical JSON into a valid value (nulls for missing values)."""
    stack: list[str] = []
    expect = VALUE
    in_string = False
    string_is_key = False
    escaped = False
    for c in prefix:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
                expect = COLON if string_is_key else NEXT
            continue
        if c == '"':
            in_string = True
            string_is_key = expect in _KEY_STATES
        elif c in "{[":
            stack.append(c)
            expect = KEY_OR_CLOSE if c == "{" else VALUE_OR_CLOSE
        elif c in "}]":
            stack.pop()
            expect = NEXT
        elif c == ":":
            expect = VALUE
        elif c == ",":
            expect = KEY_AFTER_COMMA if stack and stack[-1] == "{" else VALUE_AFTER_COMMA
        elif c not in _WS:
            expect = NEXT  # inside a number or word: canonical prefixes only hold complete ones
    tail = ""
    if in_string:
        tail += "\\" if escaped else ""
        tail += '"'
        expect = COLON if string_is_key else NEXT
    if expect == COLON:
        tail += ": null"
    elif expect == VALUE or (expect == VALUE_AFTER_COMMA) or (expect == VALUE and not stack):
        tail += "null"
    elif expect == KEY_AFTER_COMMA:
        tail += '"": null'
    for opener in reversed(stack):
        tail += "}" if opener == "{" else "]"
    return tail
