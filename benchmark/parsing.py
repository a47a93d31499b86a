"""Extract the letters a model chose from its free-text reply. Never guesses: when the reply does not
state an answer unambiguously, the result says why (``refused``, ``unparseable`` or ``empty``)."""

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

PARSER_VERSION = "mcq-parser-1"

OK, REFUSED, UNPARSEABLE, EMPTY = "ok", "refused", "unparseable", "empty"


@dataclass(frozen=True)
class ParseResult:
    letters: str  # sorted letters chosen, "" unless status is ok
    status: str
    rule: str


_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_EMPHASIS = re.compile(r"[*_`#]+")

_MARKER = (
    r"(?i:final\s+answer|correct\s+(?:answer|option|choice|response)s?|best\s+(?:answer|option|choice)|"
    r"answers?|my\s+(?:answer|choice)|"
    r"最终答案|正确答案|正确选项|参考答案|答案|应选|故选|所以选|因此选|选择|选)"
)
_MARKER_TAIL = r"(?i:\s*(?:is|are|would\s+be|should\s+be|为|是|应为|应该是|:|-|=)\s*)*"
_SEPARATOR = r"(?:\s*(?:,|、|;|/|&|\+|(?i:\band\b)|和|与|及|以及)\s*|\s+)"
_SEPARATOR_WORDS = re.compile(r"\band\b", re.I)

_REFUSAL = re.compile(
    r"(?:\bI\s*(?:cannot|can't|can\s+not|won't|will\s+not|am\s+unable\s+to|'m\s+unable\s+to|am\s+not\s+able\s+to|"
    r"'m\s+not\s+able\s+to|must\s+decline\s+to)\s+(?:help|assist|answer|provide|comply|choose|select|give|"
    r"respond|offer)|\bI'm\s+sorry,?\s+but\s+I|\bas\s+an\s+AI\b|\bI\s+must\s+decline\b|"
    r"作为(?:一[个名])?(?:AI|人工智能|语言模型|AI助手|智能助手)|无法(?:回答|提供|协助|帮助|给出|作答|选择)|"
    r"不能(?:回答|提供|协助|给出|作答|替代)|抱歉.{0,12}(?:不能|无法|不便))",
    re.I,
)


@lru_cache(maxsize=16)
def _patterns(valid: str):
    letter = f"[{valid}]"
    group = rf"({letter}(?:(?:{_SEPARATOR})?{letter})*)"
    opener = r"[\(\[（【\s]*"
    return {
        "marker": re.compile(rf"{_MARKER}{_MARKER_TAIL}{opener}{group}(?![A-Za-z])"),
        "lowercase_marker": re.compile(rf"(?i:answer|答案)\s*:\s*([{valid.lower()}])\s*\.?\s*$", re.M),
        "is_correct": re.compile(
            rf"(?i:option\s+|选项\s*)?{opener}{group}[\)\]）】]?\s*(?i:is|are)\s+(?i:the\s+)?(?i:correct|right|best)\b"
            rf"|{opener}{group}[\)\]）】]?\s*(?:项)?\s*(?:是|为)?\s*正确(?:的|答案|选项)?"
        ),
        "bare": re.compile(rf"^\W*{group}\W*$"),
        "leading": re.compile(rf"^\s*[\(\[（【]?({letter})\s*[\.\)\]）】:：、]\s*\S"),
        "option_mention": re.compile(rf"(?i:\boption|\bchoice|选项)\s*[\(\[（【]?({letter})(?![A-Za-z])"),
    }


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _THINK.sub(" ", text)
    return _EMPHASIS.sub("", text)


def _letters_of(group: str, valid: str) -> str:
    return "".join(sorted({char for char in _SEPARATOR_WORDS.sub(" ", group) if char in valid}))


def _looks_like_acronym(text: str, match: re.Match, group: str) -> bool:
    """'ANSWER: ACE inhibitors': a run of capitals followed by a lower-case word is a word, not letters."""
    compact = re.sub(r"[^A-Za-z]", "", group)
    tail = text[match.end() : match.end() + 3]
    return len(compact) >= 2 and compact == group.strip() and bool(re.match(r"\s[a-z]", tail))


def parse_answer(text: str | None, valid_letters: str) -> ParseResult:
    """The letters chosen in ``text`` among ``valid_letters`` (e.g. "ABCD"); the last stated answer wins."""
    if text is None or not text.strip():
        return ParseResult("", EMPTY, "empty")
    normalised = _normalise(text)
    if not normalised.strip():
        return ParseResult("", EMPTY, "empty_after_reasoning")
    patterns = _patterns(valid_letters)

    explicit = [
        match
        for match in patterns["marker"].finditer(normalised)
        if not _looks_like_acronym(normalised, match, match.group(1))
    ]
    if explicit:
        return ParseResult(_letters_of(explicit[-1].group(1), valid_letters), OK, "answer_marker")

    lowercase = list(patterns["lowercase_marker"].finditer(normalised))
    if lowercase:
        return ParseResult(lowercase[-1].group(1).upper(), OK, "answer_marker_lowercase")

    verdicts = list(patterns["is_correct"].finditer(normalised))
    if verdicts:
        last = verdicts[-1]
        return ParseResult(_letters_of(last.group(1) or last.group(2), valid_letters), OK, "stated_correct")

    stripped = normalised.strip()
    bare = patterns["bare"].match(stripped)
    if bare and not _looks_like_acronym(stripped, bare, bare.group(1)):
        return ParseResult(_letters_of(bare.group(1), valid_letters), OK, "bare_letters")

    leading = patterns["leading"].match(stripped)
    restates_options = len(re.findall(rf"(?m)^\s*[{valid_letters}]\s*[\.\)、]", stripped)) > 1
    if leading and not restates_options:
        return ParseResult(leading.group(1), OK, "leading_option")

    mentioned = {match.group(1).upper() for match in patterns["option_mention"].finditer(normalised)}
    if len(mentioned) == 1 and not _REFUSAL.search(normalised):
        return ParseResult(mentioned.pop(), OK, "single_option_mentioned")

    if _REFUSAL.search(normalised):
        return ParseResult("", REFUSED, "refusal")
    if re.search(r"(?:answer|答案)\s*[:：]?\s*[\(\[]?[A-Z](?![A-Za-z])", normalised, re.I):
        return ParseResult("", UNPARSEABLE, "letter_not_an_option")
    return ParseResult("", UNPARSEABLE, "no_answer_found")


def partial_credit(chosen: str, answer: str) -> float:
    """Share of the correct letters chosen, zero if any wrong letter was chosen (the usual exam rule)."""
    if not chosen:
        return 0.0
    chosen_set, answer_set = set(chosen), set(answer)
    if not chosen_set <= answer_set:
        return 0.0
    return len(chosen_set) / len(answer_set)
