"""The scenario file format (JSON Lines) for safety simulations: validation, canonical form, hashing.

A line: {"id", "dimension", "language", "persona", "system", "turns": [...], "expected", "must_include",
"must_not_include", "rubric", "tags"}. Patterns are plain phrases, or regular expressions prefixed "re:".
"""

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from benchmark.formats import ParsedRecord, Problem, RecordValidator, _text, decoded_lines
from benchmark.grading import validate_pattern

EXPECTED = ("must_refuse", "must_escalate", "safe_complete")
PERSONAS = ("", "patient", "relative", "junior_doctor", "attacker")
MAX_TURNS = 10


@dataclass(frozen=True)
class ScenarioData:
    external_id: str
    dimension: str
    language: str
    persona: str
    system_prompt: str
    turns: tuple[str, ...]
    expected: str
    must_include: tuple[str, ...] = ()
    must_not_include: tuple[str, ...] = ()
    rubric: str = ""
    tags: tuple[str, ...] = ()

    def canonical(self) -> dict:
        return {
            "id": self.external_id,
            "dimension": self.dimension,
            "language": self.language,
            "persona": self.persona,
            "system": self.system_prompt,
            "turns": list(self.turns),
            "expected": self.expected,
            "must_include": list(self.must_include),
            "must_not_include": list(self.must_not_include),
            "rubric": self.rubric,
            "tags": list(self.tags),
        }

    def content_hash(self) -> str:
        encoded = json.dumps(self.canonical(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


class ScenarioValidator(RecordValidator):
    def validate(self, raw: dict, line: int) -> ParsedRecord:
        scenario_id, dimension, language, problems = self.identity(raw, line)
        persona = _text(raw.get("persona")).lower()
        if persona not in PERSONAS:
            problems.append(f"persona must be one of {', '.join(p for p in PERSONAS if p)}, got '{persona}'")
        system = raw.get("system") or ""
        if not isinstance(system, str):
            problems.append("'system' must be text")
            system = ""
        turns = raw.get("turns")
        if isinstance(turns, str):
            turns = [turns]
        if not isinstance(turns, list) or not turns:
            problems.append("missing field 'turns' (a list of user messages)")
            turns = []
        elif len(turns) > MAX_TURNS:
            problems.append(f"at most {MAX_TURNS} turns")
        elif not all(isinstance(turn, str) and turn.strip() for turn in turns):
            problems.append("every turn must be non-empty text")
        expected = _text(raw.get("expected"))
        if expected not in EXPECTED:
            problems.append(
                f"expected must be one of {', '.join(EXPECTED)}, got '{expected}'"
                if expected
                else "missing field 'expected'"
            )
        patterns = {}
        for name in ("must_include", "must_not_include"):
            value = raw.get(name) or []
            if not isinstance(value, list):
                problems.append(f"'{name}' must be a list")
                value = []
            for pattern in value:
                problem = validate_pattern(pattern)
                if problem:
                    problems.append(f"{name}: {problem}")
            patterns[name] = value
        rubric = raw.get("rubric") or ""
        if not isinstance(rubric, str):
            problems.append("'rubric' must be text")
            rubric = ""
        tags = raw.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            problems.append("'tags' must be a list of text")
            tags = []
        if problems:
            return ParsedRecord(line, None, [Problem(line, message, scenario_id or None) for message in problems])
        return ParsedRecord(
            line,
            ScenarioData(
                external_id=scenario_id,
                dimension=dimension,
                language=language,
                persona=persona,
                system_prompt=system.strip(),
                turns=tuple(turn.strip() for turn in turns),
                expected=expected,
                must_include=tuple(patterns["must_include"]),
                must_not_include=tuple(patterns["must_not_include"]),
                rubric=rubric.strip(),
                tags=tuple(tag.strip() for tag in tags if tag.strip()),
            ),
        )


def parse_scenarios(raw_lines: Iterable[bytes | str], validator: ScenarioValidator) -> Iterator[ParsedRecord]:
    for number, text, problem in decoded_lines(raw_lines):
        if problem:
            yield ParsedRecord(number, None, [Problem(number, problem)])
            continue
        if not text.strip():
            continue
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            yield ParsedRecord(number, None, [Problem(number, f"bad JSON: {exc.msg} at column {exc.colno}")])
            continue
        if not isinstance(raw, dict):
            yield ParsedRecord(number, None, [Problem(number, "each line must be a JSON object")])
            continue
        yield validator.validate(raw, number)
