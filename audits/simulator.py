"""MedGov's configurable OpenAI-compatible model simulator, for demos, tests and benchmarks.

It recognises benchmark items and scenarios it is asked about (read from the database), answers
correctly with a set probability per dimension in varied realistic wordings, and injects faults on
request: HTTP 429 and 500, hanging requests, an API-key check. Every decision is a deterministic
function of (seed, item id, variant) — ``decide`` — so tests can compute the exact expected scores.
It also acts as a judge and a translator for safety-simulation audits.
"""

import asyncio
import hashlib
import json
import random
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from aiohttp import web

from benchmark.formats import LETTERS
from benchmark.variants import CURRENT_CODES, TRANSFORMS, is_language_neutral


@dataclass
class Profile:
    model: str = "medgov-sim-1"
    seed: int = 1
    accuracy: float = 0.6
    dimensions: dict[str, float] = field(default_factory=dict)
    refusal_rate: float = 0.0
    unparseable_rate: float = 0.0
    empty_rate: float = 0.0
    variant_penalty: float = 0.15
    safety: float = 0.8
    safety_dimensions: dict[str, float] = field(default_factory=dict)
    judge_disagreement: float = 0.0
    judge_malformed: float = 0.0

    @classmethod
    def from_dict(cls, data: dict) -> "Profile":
        known = {name for name in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown profile keys: {', '.join(sorted(unknown))}")
        return cls(**data)

    def accuracy_for(self, dimension: str) -> float:
        return self.dimensions.get(dimension, self.accuracy)

    def safety_for(self, dimension: str) -> float:
        return self.safety_dimensions.get(dimension, self.safety)


def _unit(*parts) -> float:
    digest = hashlib.sha256(":".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def decide(profile: Profile, external_id: str, dimension: str, variant: str = "") -> str:
    """The simulated model's behaviour on one item: correct, wrong, refused, unparseable or empty."""
    style = _unit(profile.seed, external_id, variant, "style")
    if style < profile.empty_rate:
        return "empty"
    if style < profile.empty_rate + profile.refusal_rate:
        return "refused"
    if style < profile.empty_rate + profile.refusal_rate + profile.unparseable_rate:
        return "unparseable"
    threshold = profile.accuracy_for(dimension) - (profile.variant_penalty if variant else 0.0)
    return "correct" if _unit(profile.seed, external_id, variant, "correct") < threshold else "wrong"


def decide_safe(profile: Profile, external_id: str, dimension: str, variant: str = "") -> bool:
    threshold = profile.safety_for(dimension) - (profile.variant_penalty if variant else 0.0)
    return _unit(profile.seed, external_id, variant, "safe") < threshold


def judge_disagrees(profile: Profile, conversation_key: str) -> bool:
    """Whether the simulated judge flips the rules' verdict; the key is "scenario id|variant" for a
    scenario it recognises, so tests can derive it from the scenario file alone."""
    return _unit(profile.seed, conversation_key, "judge") < profile.judge_disagreement


# The simulator "translates" reversibly: it marks the text with the target language and puts a
# separator between its characters, so a translation never contains the original words (as a real one
# would not) while the target simulator can still recognise the item or scenario and answer in the
# marked language.
TRANSLATION_MARKS = {"en": "[EN] ", "zh": "【中文】"}
_SEPARATOR = "\u2027"
TRANSLATE_CODE = next(code for code in CURRENT_CODES if TRANSFORMS[code].needs_model)


def simulated_translation(text: str, target_language: str) -> str:
    return TRANSLATION_MARKS[target_language] + _SEPARATOR.join(text)


def strip_translation(text: str) -> tuple[str, str]:
    """(the original text, the target language) of a simulated translation; (text, "") otherwise."""
    for language, mark in TRANSLATION_MARKS.items():
        if text.startswith(mark):
            return text[len(mark) :].replace(_SEPARATOR, ""), language
    return text, ""


@dataclass
class KnownItem:
    external_id: str
    dimension: str
    language: str
    correct_texts: frozenset


@dataclass
class KnownScenario:
    external_id: str
    dimension: str
    language: str
    expected: str
    must_include: list
    turns: list


def _key(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


_OPTION_LINE = re.compile(r"^([A-J])\. (.*)$")


def split_mcq(user_text: str) -> tuple[str, list[tuple[str, str]]] | None:
    """(question, [(letter, text)…]) from a prompt rendered by ``benchmark.prompts.render_mcq``."""
    lines = user_text.split("\n")
    for start, line in enumerate(lines):
        if line.startswith("A. "):
            options = []
            for offset, option_line in enumerate(lines[start:]):
                match = _OPTION_LINE.match(option_line)
                if not match or match.group(1) != LETTERS[offset]:
                    break
                options.append((match.group(1), match.group(2)))
            if len(options) >= 2:
                return "\n".join(lines[:start]).strip(), options
    return None


def strip_variant(text: str) -> tuple[str, str]:
    """(the original first turn, the variant code). Superseded codes frame the first turn alike, so the
    current code is reported."""
    text, translated_to = strip_translation(text)
    if translated_to:
        return text, TRANSLATE_CODE
    for code in sorted(TRANSFORMS, key=lambda code: bool(TRANSFORMS[code].superseded_by)):
        for prefix in TRANSFORMS[code].prefix.values():
            if prefix and text.startswith(prefix):
                return text[len(prefix) :], code
    return text, ""


def literal_for(pattern: str) -> str:
    """A short text matching a simple regular expression (literals, alternation, classes, repeats)."""
    import re._parser as sre_parse

    def render(parsed) -> str:
        out = []
        for op, arg in parsed:
            name = str(op)
            if name == "LITERAL":
                out.append(chr(arg))
            elif name == "SUBPATTERN":
                out.append(render(arg[-1]))
            elif name == "BRANCH":
                out.append(render(arg[1][0]))
            elif name == "IN":
                for item_op, item_arg in arg:
                    if str(item_op) == "LITERAL":
                        out.append(chr(item_arg))
                        break
                    if str(item_op) == "RANGE":
                        out.append(chr(item_arg[0]))
                        break
                    if str(item_op) == "CATEGORY":
                        out.append("0" if "DIGIT" in str(item_arg) else "a")
                        break
            elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                low, _high, sub = arg
                out.append(render(sub) * max(1, low))
            elif name == "ANY":
                out.append("x")
        return "".join(out)

    try:
        return render(sre_parse.parse(pattern))
    except Exception:
        return ""


WORDINGS = {
    "en": [
        "ANSWER: {letters}",
        "Let me think this through. The key principle here is patient safety and autonomy.\nANSWER: {letters}",
        "**{letters}**",
        "The correct answer is {letters}.",
        "{first}. {first_text}",
        "After weighing the options, my final answer is {letters}.",
    ],
    "zh": [
        "答案：{letters}",
        "分析：本题考查患者安全与伦理原则。\n答案：{letters}",
        "答案是 {letters}。",
        "正确答案为{letters}",
        "{first}. {first_text}",
    ],
}
MULTI_WORDINGS = {
    "en": ["The correct options are {joined}.", "ANSWER: {letters}", "Reasoning first... so the answer is {letters}."],
    "zh": ["答案：{letters}", "正确答案是{joined_zh}", "答案：{comma}"],
}
REFUSALS = {
    "en": "I'm sorry, but I can't help with that question.",
    "zh": "作为AI，我无法回答这个医疗问题，请咨询专业医生。",
}
GIBBERISH = {
    "en": "It depends on many factors and individual circumstances.",
    "zh": "这要视具体情况而定，很难一概而论。",
}


class Simulator:
    def __init__(
        self,
        profile: Profile,
        *,
        latency: float = 0.0,
        jitter: bool = False,
        p429: float = 0.0,
        p500: float = 0.0,
        phang: float = 0.0,
        hang_seconds: float = 3600.0,
        api_key: str | None = None,
        load_from_db: bool = True,
        fault_seed: int | None = None,
        strict_model: bool = False,
    ):
        self.profile = profile
        self.latency, self.jitter = latency, jitter
        self.p429, self.p500, self.phang, self.hang_seconds = p429, p500, phang, hang_seconds
        self.api_key = api_key
        self.load_from_db = load_from_db
        self.strict_model = strict_model
        self.random = random.Random(fault_seed)
        self.items: dict[str, KnownItem] = {}
        self.scenarios: dict[str, KnownScenario] = {}
        self.last_reload = 0.0
        self.in_flight = 0
        self.peak_in_flight = 0
        self.requests = 0
        self.by_status: Counter = Counter()
        self.answers: dict[str, dict[str, str]] = defaultdict(dict)  # dimension -> {item key: outcome}
        self.answered_per_key: Counter = Counter()  # successful answers per (item, variant): >1 means sent twice
        self.started = time.time()

    # --- knowledge of the benchmark ----------------------------------------------------------------------

    def reload(self) -> None:
        from benchmark.models import Item, Scenario

        items = {}
        for external_id, question, options, answer, language, code in Item.objects.values_list(
            "external_id", "question", "options", "answer", "language", "dimension__code"
        ).iterator(chunk_size=5000):
            correct = frozenset(options[LETTERS.index(letter)] for letter in answer)
            items[_key(question)] = KnownItem(external_id, code, language, correct)
        scenarios = {}
        for external_id, turns, language, expected, must_include, code in Scenario.objects.values_list(
            "external_id", "turns", "language", "expected", "must_include", "dimension__code"
        ):
            scenarios[_key(turns[0])] = KnownScenario(external_id, code, language, expected, must_include, turns)
        self.items, self.scenarios = items, scenarios
        self.last_reload = time.monotonic()

    async def _maybe_reload(self) -> None:
        if self.load_from_db and time.monotonic() - self.last_reload > 5:
            self.last_reload = time.monotonic()
            await asyncio.get_running_loop().run_in_executor(None, self.reload)

    # --- HTTP ---------------------------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/_stats", self.stats)
        app.router.add_post("/_reset", self.reset)
        return app

    async def models(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(401, "invalid API key", "authentication_error")
        return web.json_response({"object": "list", "data": [{"id": self.profile.model, "object": "model"}]})

    async def stats(self, request: web.Request) -> web.Response:
        answers = {dim: dict(Counter(outcomes.values())) for dim, outcomes in self.answers.items()}
        return web.json_response(
            {
                "requests": self.requests,
                "in_flight": self.in_flight,
                "peak_in_flight": self.peak_in_flight,
                "by_status": dict(self.by_status),
                "answers": answers,
                "model": self.profile.model,
                "answered_items": len(self.answered_per_key),
                "answered_more_than_once": sum(1 for count in self.answered_per_key.values() if count > 1),
            }
        )

    async def reset(self, request: web.Request) -> web.Response:
        self.requests, self.peak_in_flight = 0, self.in_flight
        self.by_status.clear()
        self.answers.clear()
        self.answered_per_key.clear()
        return web.json_response({"ok": True})

    def _authorised(self, request: web.Request) -> bool:
        return not self.api_key or request.headers.get("Authorization") == f"Bearer {self.api_key}"

    def _error(self, status: int, message: str, kind: str, headers: dict | None = None) -> web.Response:
        self.by_status[status] += 1
        return web.json_response({"error": {"message": message, "type": kind}}, status=status, headers=headers)

    async def chat(self, request: web.Request) -> web.Response:
        self.requests += 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return await self._chat(request)
        finally:
            self.in_flight -= 1

    async def _chat(self, request: web.Request) -> web.Response:
        # The latency counts from the request's arrival and the answer is composed while it runs, so a burst of
        # requests is answered after L, not after L plus the time to compose every answer of the burst in turn.
        answer_at = asyncio.get_running_loop().time() + self.latency * (
            self.random.uniform(0.5, 1.5) if self.jitter else 1.0
        )
        if not self._authorised(request):
            return self._error(401, "invalid API key", "authentication_error")
        try:
            body = await request.json()
            messages = body["messages"]
        except (ValueError, KeyError, TypeError):
            return self._error(400, "the request body must be JSON with messages", "invalid_request_error")
        if self.strict_model and body.get("model") != self.profile.model:
            return self._error(404, f"The model `{body.get('model')}` does not exist", "invalid_request_error")
        roll = self.random.random()
        if roll < self.p429:
            return self._error(429, "rate limit exceeded", "rate_limit_error", {"Retry-After": "0.2"})
        if roll < self.p429 + self.p500:
            return self._error(500, "internal server error", "server_error")
        if roll < self.p429 + self.p500 + self.phang:
            await asyncio.sleep(self.hang_seconds)
        text = await self.reply(messages)
        await asyncio.sleep(max(0.0, answer_at - asyncio.get_running_loop().time()))
        self.by_status[200] += 1
        prompt_tokens = sum(len(str(message.get("content", ""))) for message in messages) // 3 + 1
        return web.json_response(
            {
                "id": f"chatcmpl-{self.requests}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.profile.model,
                "system_fingerprint": f"sim-{self.profile.seed}",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": len(text) // 3 + 1,
                    "total_tokens": prompt_tokens + len(text) // 3 + 1,
                },
            }
        )

    # --- answers ------------------------------------------------------------------------------------------------

    async def reply(self, messages: list[dict]) -> str:
        system = next((m.get("content", "") for m in messages if m.get("role") == "system"), "")
        last_user = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
        if "clinical safety reviewer" in system:
            return await self.judge(messages)
        if last_user.startswith("Translate the following text into English"):
            return simulated_translation(last_user.split("\n\n", 1)[-1], "en")
        if last_user.startswith("请将下面的文字翻译成简体中文"):
            return simulated_translation(last_user.split("\n\n", 1)[-1], "zh")
        original, translated_to = strip_translation(last_user)
        mcq = split_mcq(original)
        if mcq is not None:
            return await self.answer_mcq(*mcq, translated_to=translated_to)
        return await self.answer_conversation(messages)

    async def answer_mcq(self, question: str, options: list[tuple[str, str]], translated_to: str = "") -> str:
        question, variant = strip_variant(question)
        variant = TRANSLATE_CODE if translated_to else variant
        known = self.items.get(_key(question))
        if known is None:
            await self._maybe_reload()
            known = self.items.get(_key(question))
        letters_shown = [letter for letter, _text in options]
        if known is None:
            choice = letters_shown[int(_unit(question) * len(letters_shown))]
            return f"ANSWER: {choice}"
        correct = "".join(letter for letter, text in options if text in known.correct_texts)
        decision = decide(self.profile, known.external_id, known.dimension, variant)
        self.answers[known.dimension][f"{known.external_id}|{variant}"] = decision
        self.answered_per_key[f"{known.external_id}|{variant}"] += 1
        language = translated_to or known.language
        if decision == "empty":
            return ""
        if decision == "refused":
            return REFUSALS[language]
        if decision == "unparseable":
            return GIBBERISH[language]
        letters = correct if decision == "correct" else self._wrong(correct, letters_shown, known.external_id)
        return self._word(letters, options, language, known.external_id)

    def _wrong(self, correct: str, letters: list[str], external_id: str) -> str:
        candidates = [letter for letter in letters if letter not in correct]
        pick = candidates[int(_unit(self.profile.seed, external_id, "wrong") * len(candidates))]
        if len(correct) > 1 and _unit(self.profile.seed, external_id, "partial") < 0.5:
            return correct[0]  # a partially right answer to a multiple-answer item
        return pick

    def _word(self, letters: str, options: list[tuple[str, str]], language: str, external_id: str) -> str:
        texts = dict(options)
        if len(letters) > 1:
            wordings = MULTI_WORDINGS[language]
            template = wordings[int(_unit(self.profile.seed, external_id, "wording") * len(wordings))]
            return template.format(
                letters=letters,
                joined=", ".join(letters[:-1]) + " and " + letters[-1],
                joined_zh="和".join(letters),
                comma="、".join(letters),
            )
        wordings = WORDINGS[language]
        template = wordings[int(_unit(self.profile.seed, external_id, "wording") * len(wordings))]
        return template.format(letters=letters, first=letters, first_text=texts.get(letters, ""))

    async def answer_conversation(self, messages: list[dict]) -> str:
        user_turns = [m.get("content", "") for m in messages if m.get("role") == "user"]
        known, variant = await self._recognise(user_turns[0] if user_turns else "")
        if known is None:
            return "I understand. Could you tell me more so I can help?"
        translated_to = strip_translation(user_turns[0])[1]
        language = translated_to or known.language
        if len(user_turns) < len(known.turns):
            return (
                "谢谢您的提问，我先说明一些一般信息。"
                if language == "zh"
                else "Thanks for asking; here is some general information."
            )
        safe = decide_safe(self.profile, known.external_id, known.dimension, variant)
        self.answers[known.dimension][f"{known.external_id}|{variant}"] = "safe" if safe else "unsafe"
        extras = " ".join(filter(None, (self._included(pattern, translated_to) for pattern in known.must_include)))
        if known.expected == "must_refuse":
            if safe:
                return (
                    (
                        "抱歉，我不能提供这方面的帮助。如有需要请联系医生。"
                        if language == "zh"
                        else "I'm sorry, but I can't help with that. Please talk to a clinician."
                    )
                    + " "
                    + extras
                )
            return (
                "好的，具体做法如下：第一步……" if language == "zh" else "Sure, here is exactly how to do it: first..."
            )
        if known.expected == "must_escalate":
            if safe:
                return (
                    (
                        "这些症状可能很危险，请立即拨打120或前往急诊就医。"
                        if language == "zh"
                        else "These symptoms can be serious: call 911 or go to the emergency department now."
                    )
                    + " "
                    + extras
                )
            return (
                "这很可能没什么大问题，多休息观察几天就好。"
                if language == "zh"
                else "It is probably nothing; rest at home and see."
            )
        if safe:
            return (
                (
                    "可以的，一般建议如下，具体请遵医嘱。"
                    if language == "zh"
                    else "Yes — here is general guidance; follow your prescriber's advice."
                )
                + " "
                + extras
            )
        return REFUSALS[language]

    async def _recognise(self, first_turn: str) -> tuple[KnownScenario | None, str]:
        first, variant = strip_variant(first_turn)
        known = self.scenarios.get(_key(first))
        if known is None:
            await self._maybe_reload()
            known = self.scenarios.get(_key(first))
        return known, variant

    @staticmethod
    def _included(pattern: str, translated_to: str) -> str:
        """What a safe answer says for a required pattern. Answering in another language than the
        scenario's, it translates plain phrases and cannot write the original language's words."""
        if translated_to:
            if pattern.startswith("re:"):
                return ""
            return pattern if is_language_neutral(pattern) else simulated_translation(pattern, translated_to)
        return literal_for(pattern[3:]) if pattern.startswith("re:") else pattern

    async def judge(self, messages: list[dict]) -> str:
        from benchmark import grading

        transcript = next(
            (
                m.get("content", "")
                for m in messages
                if m.get("role") == "user" and m.get("content", "").startswith("Expected")
            ),
            "",
        )
        expected = "safe_complete"
        for code, text in (
            ("must_refuse", "must refuse"),
            ("must_escalate", "urgent care"),
            ("safe_complete", "helpfully"),
        ):
            if text in transcript.split("\n", 1)[0]:
                expected = code
        answers = re.findall(r"ASSISTANT: (.*?)(?=\n\nUSER: |\n\nGrade the ASSISTANT|\Z)", transcript, re.S)
        graded = grading.grade(expected=expected, answers=answers or [""])
        verdict = graded.verdict
        key = _key(transcript)
        first_user = re.search(r"\nConversation:\nUSER: (.*?)(?=\n\nASSISTANT: |\Z)", transcript, re.S)
        known, variant = await self._recognise(first_user.group(1) if first_user else "")
        conversation = f"{known.external_id}|{variant}" if known is not None else key
        if judge_disagrees(self.profile, conversation):
            verdict = "fail" if verdict == "pass" else "pass"
        attempt = sum(1 for m in messages if m.get("role") == "assistant")
        if attempt == 0 and _unit(self.profile.seed, key, "malformed") < self.profile.judge_malformed:
            return "I think this conversation is mostly fine."
        score = 0.9 if verdict == "pass" else 0.2
        return (
            "```json\n"
            + json.dumps({"verdict": verdict, "score": score, "rationale": "Simulated judgement."})
            + "\n```"
        )


def serve(simulator: Simulator, host: str, port: int) -> None:
    if simulator.load_from_db:
        simulator.reload()
    import uvloop

    web.run_app(
        simulator.app(), host=host, port=port, print=None, access_log=None, backlog=2048, loop=uvloop.new_event_loop()
    )
