"""Versioned prompt templates for multiple-choice items. A template, once used by an audit, never changes:
edit by adding a new version, so every audit can be reproduced from its recorded version."""

import hashlib
import json
import random
from dataclasses import dataclass

from benchmark.formats import LETTERS


@dataclass(frozen=True)
class MCQTemplate:
    version: str
    system: dict[str, str]
    user: dict[str, str]
    single_instruction: dict[str, str]
    multiple_instruction: dict[str, str]


MCQ_V1 = MCQTemplate(
    version="mcq-v1",
    system={
        "en": (
            "You are taking a medical ethics and patient safety examination. Read the question and the "
            "lettered options, think briefly, then give your answer. End your reply with a final line of the "
            "form 'ANSWER: X'; when several options are correct, list every correct letter, e.g. 'ANSWER: AC'."
        ),
        "zh": (
            "你正在参加一场医学伦理与患者安全考试。请阅读题目和带字母的选项，简要思考后作答。"
            "请在回答的最后一行按“答案：X”的格式给出答案；如有多个正确选项，请列出全部字母，例如“答案：AC”。"
        ),
    },
    user={"en": "{question}\n\n{options}\n\n{instruction}", "zh": "{question}\n\n{options}\n\n{instruction}"},
    single_instruction={"en": "Choose the one best answer.", "zh": "（单选题）请选择一个最佳答案。"},
    multiple_instruction={"en": "Choose all correct answers.", "zh": "（多选题）请选出所有正确答案。"},
)

TEMPLATES = {MCQ_V1.version: MCQ_V1}
CURRENT_TEMPLATE_VERSION = MCQ_V1.version


def get_template(version: str) -> MCQTemplate:
    try:
        return TEMPLATES[version]
    except KeyError:
        raise ValueError(f"unknown prompt template version '{version}'") from None


def option_permutation(*, external_id: str, option_count: int, seed: int | None) -> list[int] | None:
    """The displayed order of options as original indexes, or None when not shuffling.

    Seeded by the item's id so that the same audit options reproduce the same permutation.
    """
    if seed is None:
        return None
    order = list(range(option_count))
    random.Random(f"{seed}:{external_id}").shuffle(order)
    return order


@dataclass(frozen=True)
class RenderedPrompt:
    messages: list[dict]
    prompt_hash: str
    permutation: list[int] | None
    body: str = ""  # the question and its lettered options, without the template's instructions


def render_mcq(
    *,
    template: MCQTemplate,
    language: str,
    question: str,
    options: list[str],
    multiple: bool,
    permutation: list[int] | None = None,
) -> RenderedPrompt:
    shown = [options[index] for index in permutation] if permutation else list(options)
    option_lines = "\n".join(f"{letter}. {text}" for letter, text in zip(LETTERS, shown, strict=False))
    instruction = (template.multiple_instruction if multiple else template.single_instruction)[language]
    user = template.user[language].format(question=question, options=option_lines, instruction=instruction)
    messages = [{"role": "system", "content": template.system[language]}, {"role": "user", "content": user}]
    encoded = json.dumps(messages, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return RenderedPrompt(messages, hashlib.sha256(encoded).hexdigest(), permutation, f"{question}\n\n{option_lines}")


def render_mcq_body(*, template: MCQTemplate, language: str, body: str, multiple: bool) -> list[dict]:
    """Messages for a question and options given as one text (a translation of ``RenderedPrompt.body``),
    with the template's system prompt and instruction in ``language``."""
    instruction = (template.multiple_instruction if multiple else template.single_instruction)[language]
    user = f"{body.strip()}\n\n{instruction}"
    return [{"role": "system", "content": template.system[language]}, {"role": "user", "content": user}]


def to_original_letters(shown_letters: str, permutation: list[int] | None) -> str:
    """Map letters as the model saw them back to the item's own lettering."""
    if not permutation:
        return shown_letters
    return "".join(sorted(LETTERS[permutation[LETTERS.index(letter)]] for letter in shown_letters))


def to_shown_letters(original_letters: str, permutation: list[int] | None) -> str:
    if not permutation:
        return original_letters
    return "".join(sorted(LETTERS[permutation.index(LETTERS.index(letter))] for letter in original_letters))
