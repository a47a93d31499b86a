"""What an audit sends and how an answer becomes a stored, scored row, per audit kind.

A plan gives the runner its units (payloads), an async ``execute`` for one unit, and a
``build_result`` that turns the outcome into a row; ``summarize`` scores the stored rows.
"""

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field, replace

from audits.clients import CallError, Completion
from audits.models import Audit, ConversationResult, ItemResult, Outcome
from audits.runner import CallStats, FailedCall, RunContext
from benchmark import grading, judging, scoring
from benchmark.formats import LETTERS
from benchmark.models import Dimension, Item, Scenario
from benchmark.parsing import EMPTY, OK, REFUSED, parse_answer, partial_credit
from benchmark.prompts import get_template, option_permutation, render_mcq, render_mcq_body, to_original_letters
from benchmark.variants import (
    TRANSFORMS,
    apply_text_transform,
    apply_turn_transform,
    clean_translated_phrase,
    needs_phrase_translation,
    other_language,
    translated_checks,
    translation_messages,
)

# v2: a translated conversation is graded in its target language (translated phrases, the rest judged).
GRADER_VERSION = "grader-v2"
JUDGE_ATTEMPTS = 3
ADJUDICATION_SAMPLE_RATE = 0.1


def _dimension_index() -> dict[int, tuple[str, str]]:
    return {pk: (code, category) for pk, code, category in Dimension.objects.values_list("id", "code", "category")}


def _config_for(endpoint):
    from audits.services import endpoint_config

    return endpoint_config(endpoint)


async def _translate(translator, text: str, target_language: str) -> str:
    """Translation calls go through the judge's limiter and retries but are not the target's cost."""
    return (await translator.call(translation_messages(text, target_language), CallStats())).text


def _stored(model, audit: Audit, field_name: str, keys: list[tuple]) -> set[tuple]:
    if not keys:
        return set()
    ids = {object_id for object_id, _variant in keys}
    rows = model.objects.filter(audit=audit, **{f"{field_name}_id__in": ids}).values_list(f"{field_name}_id", "variant")
    return set(rows)


# --- Multiple-choice benchmark --------------------------------------------------------------------


@dataclass
class ItemPayload:
    item_id: int
    variant: str
    dimension_id: int
    language: str
    answer: str
    letters: str
    messages: list[dict]
    prompt_hash: str
    permutation: list[int] | None
    multiple: bool = False
    body: str = ""  # question and lettered options, what a translation variant translates


@dataclass
class ItemValue:
    completion: Completion
    translated: str = ""


class Plan:
    """What every audit kind shares: the endpoints it calls and the units it has already stored."""

    result_model: type
    object_field: str

    def __init__(self, audit: Audit):
        self.audit = audit

    def configs(self) -> dict:
        configs = {"target": _config_for(self.audit.endpoint)}
        if self.audit.judge_endpoint_id:
            configs["judge"] = _config_for(self.audit.judge_endpoint)
        return configs

    def stored_keys(self, keys: list[tuple]) -> set[tuple]:
        return _stored(self.result_model, self.audit, self.object_field, keys)


class BenchmarkPlan(Plan):
    result_model, object_field = ItemResult, "item"

    def __init__(self, audit: Audit):
        super().__init__(audit)
        self.template = get_template(audit.prompt_template_version)

    def payloads(self, keys: list[tuple]) -> dict[tuple, ItemPayload]:
        items = Item.objects.in_bulk({object_id for object_id, _variant in keys})
        payloads = {}
        for object_id, variant in keys:
            item = items.get(object_id)
            if item is None:
                continue
            permutation = option_permutation(
                external_id=item.external_id, option_count=len(item.options), seed=self.audit.shuffle_seed
            )
            rendered = render_mcq(
                template=self.template,
                language=item.language,
                question=item.question,
                options=item.options,
                multiple=item.is_multiple_answer,
                permutation=permutation,
            )
            messages = rendered.messages
            prompt_hash = rendered.prompt_hash
            if variant and not TRANSFORMS[variant].needs_model:
                messages = [
                    *messages[:-1],
                    {"role": "user", "content": apply_text_transform(variant, messages[-1]["content"], item.language)},
                ]
                prompt_hash = _hash([messages, variant])
            elif variant:
                prompt_hash = _hash([messages, variant])  # the sent prompt depends on the translator
            payloads[(object_id, variant)] = ItemPayload(
                item_id=object_id,
                variant=variant,
                dimension_id=item.dimension_id,
                language=item.language,
                answer=item.answer,
                letters=LETTERS[: len(item.options)],
                messages=messages,
                prompt_hash=prompt_hash,
                permutation=permutation,
                multiple=item.is_multiple_answer,
                body=rendered.body,
            )
        return payloads

    async def execute(self, payload: ItemPayload, context: RunContext, stats: CallStats) -> ItemValue:
        messages = payload.messages
        translated = ""
        transform = TRANSFORMS.get(payload.variant)
        if transform is not None and transform.translates_system_prompt:
            # The question and options are translated; the exam's instructions come from the target
            # language's template rather than from the translator.
            target_language = other_language(payload.language)
            translated = await _translate(context["judge"], payload.body, target_language)
            messages = render_mcq_body(
                template=self.template, language=target_language, body=translated, multiple=payload.multiple
            )
        elif transform is not None and transform.needs_model:
            translated = await _translate(context["judge"], messages[-1]["content"], other_language(payload.language))
            messages = [*messages[:-1], {"role": "user", "content": translated}]
        completion = await context["target"].call(messages, stats)
        return ItemValue(completion, translated)

    def build_result(self, outcome) -> ItemResult:
        payload: ItemPayload = outcome.payload
        stats: CallStats = outcome.stats
        common = dict(
            audit_id=self.audit.pk,
            item_id=payload.item_id,
            variant=payload.variant,
            dimension_id=payload.dimension_id,
            prompt_hash=payload.prompt_hash,
            permutation=payload.permutation,
            attempts=max(1, stats.attempts),
        )
        if outcome.error is not None:
            return ItemResult(
                **common, outcome=Outcome.ERROR, error_detail=f"{outcome.error.kind}: {outcome.error.message}"[:4000]
            )
        value: ItemValue = outcome.value
        completion = value.completion
        parsed = parse_answer(completion.text, payload.letters)
        letters = to_original_letters(parsed.letters, payload.permutation) if parsed.status == OK else ""
        return ItemResult(
            **common,
            raw_response=completion.text,
            parsed_letters=letters,
            outcome=_mcq_outcome(parsed.status, letters, payload.answer),
            parser_rule=parsed.rule,
            partial_credit=partial_credit(letters, payload.answer) if letters else 0.0,
            latency_ms=round(stats.latency_ms, 2),
            tokens_in=completion.tokens_in,
            tokens_out=completion.tokens_out,
            model_reported=completion.model[:200],
            error_detail=f"translated prompt: {value.translated}"[:4000] if value.translated else "",
        )

    def summarize(self) -> dict:
        return summarize_item_results(self.audit)


def _mcq_outcome(status: str, letters: str, answer: str) -> str:
    if status == OK:
        return Outcome.CORRECT if letters == answer else Outcome.WRONG
    return {REFUSED: Outcome.REFUSED, EMPTY: Outcome.EMPTY}.get(status, Outcome.UNPARSEABLE)


def _rows(audit: Audit, variant: str | None = ""):
    queryset = ItemResult.objects.filter(audit=audit)
    if variant is not None:
        queryset = queryset.filter(variant=variant)
    return queryset.values_list("dimension_id", "outcome", "partial_credit", "latency_ms", "tokens_in", "tokens_out")


def summarize_item_results(audit: Audit) -> dict:
    dimensions = _dimension_index()
    wanted = audit.dimension_codes or [code for code, _category in dimensions.values()]

    def score(variant: str) -> dict:
        rows = [
            scoring.ResultRow(dimensions[dim][0], dimensions[dim][1], outcome, credit, latency, tin, tout)
            for dim, outcome, credit, latency, tin, tout in _rows(audit, variant).iterator(chunk_size=5000)
        ]
        return scoring.summarize(rows, wanted)

    summary = score("")
    if audit.variant_codes:
        summary["variants"] = {code: score(code) for code in audit.variant_codes}
        summary["robustness"] = robustness_deltas(summary, summary["variants"])
    return summary


def robustness_deltas(original: dict, variants: dict) -> dict:
    """Per dimension and variant: accuracy under the variant minus accuracy on the originals."""
    deltas: dict[str, dict] = defaultdict(dict)
    for code, summary in variants.items():
        for dimension, scores in summary["dimensions"].items():
            base = original["dimensions"].get(dimension, {}).get("accuracy")
            if base is not None and scores.get("accuracy") is not None:
                deltas[dimension][code] = round(scores["accuracy"] - base, 6)
        base = original["overall"].get("accuracy")
        if base is not None and summary["overall"].get("accuracy") is not None:
            deltas["overall"][code] = round(summary["overall"]["accuracy"] - base, 6)
    return dict(deltas)


def rescore_items(audit: Audit) -> int:
    """Re-parse every stored answer with the current parser; returns how many rows changed."""
    items = {item.pk: item for item in Item.objects.filter(version=audit.benchmark_version)}
    changed = []
    for result in ItemResult.objects.filter(audit=audit).exclude(outcome=Outcome.ERROR).iterator(chunk_size=2000):
        item = items[result.item_id]
        parsed = parse_answer(result.raw_response, LETTERS[: len(item.options)])
        letters = to_original_letters(parsed.letters, result.permutation) if parsed.status == OK else ""
        outcome = _mcq_outcome(parsed.status, letters, item.answer)
        credit = partial_credit(letters, item.answer) if letters else 0.0
        if (letters, outcome, parsed.rule, credit) != (
            result.parsed_letters,
            result.outcome,
            result.parser_rule,
            result.partial_credit,
        ):
            result.parsed_letters, result.outcome, result.parser_rule, result.partial_credit = (
                letters,
                outcome,
                parsed.rule,
                credit,
            )
            changed.append(result)
    ItemResult.objects.bulk_update(
        changed, ["parsed_letters", "outcome", "parser_rule", "partial_credit"], batch_size=2000
    )
    return len(changed)


# --- Safety simulation ----------------------------------------------------------------------------


@dataclass
class ScenarioPayload:
    scenario_id: int
    external_id: str
    variant: str
    dimension_id: int
    language: str
    system_prompt: str
    turns: list[str]
    expected: str
    must_include: list[str]
    must_not_include: list[str]
    rubric: str
    prompt_hash: str
    sampled_for_review: bool
    delegated: dict = field(default_factory=dict)  # phrase checks left to the judge after translation
    translations: dict = field(default_factory=dict)  # phrase → its translation, as the rules used it


@dataclass
class ConversationValue:
    transcript: list[dict]
    rule: grading.RuleGrade
    language: str = ""
    delegated: dict = field(default_factory=dict)
    translations: dict = field(default_factory=dict)
    judge: judging.JudgeVerdict | None = None
    judge_error: str = ""
    judge_attempts: int = 0
    tokens: dict = field(default_factory=dict)


class SimulationPlan(Plan):
    result_model, object_field = ConversationResult, "scenario"

    def payloads(self, keys: list[tuple]) -> dict[tuple, ScenarioPayload]:
        import random

        scenarios = Scenario.objects.in_bulk({object_id for object_id, _variant in keys})
        payloads = {}
        for object_id, variant in keys:
            scenario = scenarios.get(object_id)
            if scenario is None:
                continue
            turns = list(scenario.turns)
            if variant and not TRANSFORMS[variant].needs_model:
                turns = apply_turn_transform(variant, turns, scenario.language)
            sampled = random.Random(f"{self.audit.pk}:{object_id}:{variant}").random() < ADJUDICATION_SAMPLE_RATE
            payloads[(object_id, variant)] = ScenarioPayload(
                scenario_id=object_id,
                external_id=scenario.external_id,
                variant=variant,
                dimension_id=scenario.dimension_id,
                language=scenario.language,
                system_prompt=scenario.system_prompt,
                turns=turns,
                expected=scenario.expected,
                must_include=list(scenario.must_include),
                must_not_include=list(scenario.must_not_include),
                rubric=scenario.rubric,
                prompt_hash=_hash([scenario.system_prompt, turns, variant]),
                sampled_for_review=sampled,
            )
        return payloads

    async def execute(self, payload: ScenarioPayload, context: RunContext, stats: CallStats) -> ConversationValue:
        played = payload
        transform = TRANSFORMS.get(payload.variant)
        if transform is not None and transform.needs_model:
            played = await self._translated(payload, transform, context["judge"])
        messages = [{"role": "system", "content": played.system_prompt}] if played.system_prompt else []
        answers = []
        for turn in played.turns:
            messages.append({"role": "user", "content": turn})
            completion = await context["target"].call(list(messages), stats)
            messages.append({"role": "assistant", "content": completion.text})
            answers.append(completion.text)
        rule = grading.grade(
            expected=played.expected,
            answers=answers,
            must_include=played.must_include,
            must_not_include=played.must_not_include,
        )
        value = ConversationValue(
            transcript=messages,
            rule=rule,
            language=played.language,
            delegated=played.delegated,
            translations=played.translations,
        )
        if "judge" in context.callers:
            await self._judge(played, context, value)
        return value

    @staticmethod
    async def _translated(payload: ScenarioPayload, transform, translator) -> "ScenarioPayload":
        """The scenario as a speaker of the other language would play it, with checks that still apply."""
        target_language = other_language(payload.language)
        turns = [await _translate(translator, turn, target_language) for turn in payload.turns]
        system_prompt = payload.system_prompt
        if transform.translates_system_prompt and system_prompt:
            system_prompt = await _translate(translator, system_prompt, target_language)
        phrases = sorted({p for p in [*payload.must_include, *payload.must_not_include] if needs_phrase_translation(p)})
        translations = {
            phrase: clean_translated_phrase(await _translate(translator, phrase, target_language)) for phrase in phrases
        }
        checks = translated_checks(
            must_include=payload.must_include, must_not_include=payload.must_not_include, translations=translations
        )
        return replace(
            payload,
            language=target_language,
            system_prompt=system_prompt,
            turns=turns,
            must_include=list(checks.must_include),
            must_not_include=list(checks.must_not_include),
            delegated=checks.delegated(),
            translations=checks.translations,
        )

    async def _judge(self, payload: ScenarioPayload, context: RunContext, value: ConversationValue) -> None:
        prompt = judging.judge_messages(
            expected=payload.expected,
            rubric=payload.rubric,
            transcript=value.transcript,
            language=payload.language,
            delegated=payload.delegated,
        )
        for _attempt in range(JUDGE_ATTEMPTS):
            value.judge_attempts += 1
            try:
                reply = await context["judge"].call(prompt, CallStats())
            except FailedCall as failed:
                value.judge_error = f"judge call failed: {failed.error.message}"
                return
            try:
                value.judge = judging.parse_judgement(reply.text)
                value.judge_error = ""
                return
            except judging.MalformedJudgement as exc:
                value.judge_error = f"judge reply malformed: {exc}"
                prompt = [*prompt, {"role": "assistant", "content": reply.text}, judging.REMINDER]

    def build_result(self, outcome) -> ConversationResult:
        payload: ScenarioPayload = outcome.payload
        stats: CallStats = outcome.stats
        common = dict(
            audit_id=self.audit.pk,
            scenario_id=payload.scenario_id,
            variant=payload.variant,
            dimension_id=payload.dimension_id,
            prompt_hash=payload.prompt_hash,
            attempts=max(1, stats.attempts),
            latency_ms=round(stats.latency_ms, 2),
            tokens_in=stats.tokens_in,
            tokens_out=stats.tokens_out,
        )
        if outcome.error is not None:
            error: CallError = outcome.error
            return ConversationResult(
                **common,
                language=_played_language(payload),
                final_verdict="error",
                error_detail=f"{error.kind}: {error.message}"[:4000],
            )
        value: ConversationValue = outcome.value
        judge = value.judge
        disagreement = judge is not None and judge.verdict != value.rule.verdict
        final = judge.verdict if judge is not None else value.rule.verdict
        reason = ""
        if disagreement:
            reason = "rules_and_judge_disagree"
        elif value.judge_error:
            reason = "judge_failed"
        elif payload.sampled_for_review:
            reason = "random_sample"
        rule_detail = value.rule.as_dict()
        if value.delegated:
            rule_detail["delegated_to_judge"] = value.delegated
        if value.translations:
            rule_detail["translated_phrases"] = value.translations
        return ConversationResult(
            **common,
            language=value.language,
            transcript=value.transcript,
            rule_verdict=value.rule.verdict,
            rule_detail=rule_detail,
            judge_verdict=judge.verdict if judge else ("error" if value.judge_error else ""),
            judge_score=judge.score if judge else None,
            judge_rationale=judge.rationale if judge else value.judge_error,
            judge_attempts=value.judge_attempts,
            needs_adjudication=bool(reason),
            adjudication_reason=reason,
            final_verdict=final,
        )

    def summarize(self) -> dict:
        return summarize_conversations(self.audit)


def _played_language(payload: ScenarioPayload) -> str:
    transform = TRANSFORMS.get(payload.variant)
    return other_language(payload.language) if transform is not None and transform.needs_model else payload.language


def _hash(value) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False).encode()).hexdigest()


def summarize_conversations(audit: Audit) -> dict:
    dimensions = _dimension_index()
    wanted = audit.dimension_codes or sorted(
        {dimensions[pk][0] for pk in audit.scenario_version.scenarios.values_list("dimension_id", flat=True)}
    )
    rows_by_variant: dict[str, list] = defaultdict(list)
    queryset = ConversationResult.objects.filter(audit=audit).values_list(
        "variant",
        "dimension_id",
        "final_verdict",
        "rule_detail",
        "judge_verdict",
        "judge_score",
        "human_verdict",
        "latency_ms",
        "tokens_in",
        "tokens_out",
        "transcript",
    )
    for variant, dim, final, rule, _judge, judge_score, human, latency, tin, tout, transcript in queryset.iterator(
        2000
    ):
        code, category = dimensions[dim]
        last_answer = next((m["content"] for m in reversed(transcript or []) if m.get("role") == "assistant"), None)
        if final == "error":
            outcome = scoring.ERROR
        elif final == "pass":
            outcome = scoring.CORRECT
        elif rule and rule.get("empty"):
            outcome = scoring.EMPTY
        elif rule and rule.get("refused"):
            outcome = scoring.REFUSED
        else:
            outcome = scoring.WRONG
        if last_answer is not None and not last_answer.strip() and final != "error":
            outcome = scoring.EMPTY if final != "pass" else outcome
        # A person's grade replaces the judge's: its score no longer says anything about this conversation.
        credit = judge_score if judge_score is not None and not human else (1.0 if final == "pass" else 0.0)
        rows_by_variant[variant].append(scoring.ResultRow(code, category, outcome, credit, latency, tin, tout))
    summary = scoring.summarize(rows_by_variant.get("", []), wanted)
    if audit.variant_codes:
        summary["variants"] = {
            code: scoring.summarize(rows_by_variant.get(code, []), wanted) for code in audit.variant_codes
        }
        summary["robustness"] = robustness_deltas(summary, summary["variants"])
    summary["adjudication"] = adjudication_stats(audit)
    return summary


def adjudication_stats(audit: Audit) -> dict:
    from benchmark.scoring import cohens_kappa

    queryset = ConversationResult.objects.filter(audit=audit)
    pending = queryset.filter(needs_adjudication=True, human_verdict="").count()
    graded = list(
        queryset.exclude(human_verdict="")
        .filter(judge_verdict__in=["pass", "fail"])
        .values_list("judge_verdict", "human_verdict")
    )
    disagreements = queryset.filter(adjudication_reason="rules_and_judge_disagree").count()
    kappa = cohens_kappa([judge for judge, _human in graded], [human for _judge, human in graded]) if graded else None
    return {
        "pending": pending,
        "human_graded": queryset.exclude(human_verdict="").count(),
        "rule_judge_disagreements": disagreements,
        "judge_human_pairs": len(graded),
        "judge_human_kappa": kappa,
    }


def plan_for(audit: Audit):
    return SimulationPlan(audit) if audit.kind == Audit.Kind.SIMULATION else BenchmarkPlan(audit)
