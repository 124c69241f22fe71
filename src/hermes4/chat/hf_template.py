"""The Hugging Face path: rendering through any Jinja chat template, and diffing a template against ours.

`render_with_template` runs a template the way `tokenizer.apply_chat_template` does (transformers' sandboxed
Jinja environment, its `tojson`, its `{% generation %}` tracking), so a model's own template, e.g. the official
Hermes 4 one, can stand in for the built-in renderer. Trained spans come from the template's `{% generation %}`
blocks; a template without them gives no spans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hermes4.chat.battery import BATTERY, Case
from hermes4.chat.formats import PAD_TOKEN, ChatFormat, get_format
from hermes4.chat.messages import Conversation
from hermes4.chat.render import Rendered, render

_GENERATION_TAG = re.compile(r"\{%-?\s*generation\s*-?%\}")


class TemplateError(ValueError):
    """A template that fails while rendering a conversation; the message says why."""


class TemplateSyntaxProblem(TemplateError):
    """A template that does not compile; the message names the line."""


def has_generation_markers(template: str) -> bool:
    return bool(_GENERATION_TAG.search(template))


def special_token_kwargs(format: str | ChatFormat, tokenizer: Any = None) -> dict[str, str]:
    """What `apply_chat_template` would pass as `bos_token`, `eos_token`, ...: the tokenizer's, else the format's."""
    if tokenizer is not None:
        return {k: v for k, v in tokenizer.special_tokens_map.items() if isinstance(v, str)}
    fmt = format if isinstance(format, ChatFormat) else get_format(format)
    tokens = {"eos_token": fmt.eos_token, "pad_token": PAD_TOKEN}
    if fmt.bos_token:
        tokens["bos_token"] = fmt.bos_token
    return tokens


def render_with_template(
    conversation: Conversation,
    template: str,
    *,
    format: str | ChatFormat = "chatml",
    thinking: bool | None = None,
    keep_cots: bool | None = None,
    add_generation_prompt: bool = False,
    tokenizer: Any = None,
) -> Rendered:
    """Render through `template` as transformers does; spans are the template's `{% generation %}` blocks."""
    import jinja2
    from transformers.utils.chat_template_utils import render_jinja_template

    record = conversation.to_json()
    with_mask = has_generation_markers(template)
    try:
        texts, indices = render_jinja_template(
            conversations=[record["messages"]],
            tools=record.get("tools"),
            chat_template=template,
            return_assistant_tokens_mask=with_mask,
            add_generation_prompt=add_generation_prompt,
            thinking=bool(conversation.thinking if thinking is None else thinking),
            keep_cots=bool(conversation.keep_cots if keep_cots is None else keep_cots),
            **special_token_kwargs(format, tokenizer),
        )
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateSyntaxProblem(f"line {exc.lineno}: {exc.message}") from None
    except (jinja2.TemplateError, TypeError, ValueError) as exc:  # raise_exception(...) and type errors inside
        raise TemplateError(f"rendering failed: {exc}") from None
    spans = [(int(start), int(end)) for start, end in indices[0]] if with_mask else []
    return Rendered(texts[0], spans)


@dataclass(frozen=True)
class CaseDiff:
    """How one battery case compares: equal, or the first differing character with context from both sides."""

    name: str
    equal: bool
    position: int | None = None
    line: int | None = None
    column: int | None = None
    ours: str = ""
    theirs: str = ""
    error: str | None = None

    def describe(self, context: int = 40) -> str:
        if self.error:
            return f"{self.name}: error: {self.error}"
        if self.equal:
            return f"{self.name}: equal"
        return (
            f"{self.name}: differs at char {self.position} (line {self.line}, column {self.column})\n"
            f"  ours:   {self.ours!r}\n"
            f"  theirs: {self.theirs!r}"
        )


def first_difference(ours: str, theirs: str) -> int | None:
    """Index of the first character where the texts differ (the shorter length if one is a prefix), or None."""
    if ours == theirs:
        return None
    for index, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            return index
    return min(len(ours), len(theirs))


def compare(name: str, ours: str, theirs: str, *, context: int = 40) -> CaseDiff:
    position = first_difference(ours, theirs)
    if position is None:
        return CaseDiff(name, True)
    line = ours.count("\n", 0, position) + 1
    column = position - (ours.rfind("\n", 0, position) + 1) + 1
    start = max(0, position - context)
    return CaseDiff(
        name,
        False,
        position,
        line,
        column,
        ours=ours[start : position + context],
        theirs=theirs[start : position + context],
    )


def diff_template(
    template: str,
    *,
    format: str | ChatFormat = "chatml",
    tokenizer: Any = None,
    cases: tuple[Case, ...] = BATTERY,
    context: int = 40,
) -> list[CaseDiff]:
    """Render every case with the built-in renderer and through `template`; one CaseDiff per case."""
    results = []
    for case in cases:
        flags = {"thinking": case.thinking, "keep_cots": case.keep_cots, "add_generation_prompt": case.add_generation_prompt}
        ours = render(case.conversation, format=format, **flags).text
        try:
            theirs = render_with_template(case.conversation, template, format=format, tokenizer=tokenizer, **flags).text
        except TemplateSyntaxProblem:
            raise
        except TemplateError as exc:
            results.append(CaseDiff(case.name, False, error=str(exc)))
            continue
        results.append(compare(case.name, ours, theirs, context=context))
    return results
