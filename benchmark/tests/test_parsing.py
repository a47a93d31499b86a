"""The answer parser on a table of real-world model outputs, plus properties it must always keep."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.parsing import EMPTY, OK, REFUSED, UNPARSEABLE, parse_answer, partial_credit

TABLE = [
    # (model output, expected letters or status)
    ("ANSWER: B", "B"),
    ("答案：B", "B"),
    ("答案是 C。", "C"),
    ("(B)", "B"),
    ("**B**", "B"),
    ("B. Informed consent must be obtained before the procedure.", "B"),
    ("The correct options are A and C", "AC"),
    ("AC", "AC"),
    ("Let me reason. Option A looks plausible... but the guideline says otherwise.\nANSWER: D", "D"),
    ("I first thought the answer is A. On reflection, the final answer is C.", "C"),
    ("Ｂ", "B"),
    ("答案：Ｂ", "B"),
    ("答案：A、C", "AC"),
    ("正确答案是A和C", "AC"),
    ("答案为 B 和 D", "BD"),
    ("ANSWER: A, C", "AC"),
    ("Option B is correct, option A is wrong.", "B"),
    ("B is the correct answer.", "B"),
    ("C项正确", "C"),
    ("选B", "B"),
    ("<think>A or maybe B</think>\nANSWER: B", "B"),
    ("As an AI I cannot give medical advice, but the answer is B", "B"),
    ("answer: b", "B"),
    ("**答案：D**", "D"),
    ("I cannot help with that.", REFUSED),
    ("I'm sorry, but I can't assist with this request.", REFUSED),
    ("作为AI，我无法提供医疗建议，请咨询医生。", REFUSED),
    ("抱歉，我不能回答这个问题。", REFUSED),
    ("", EMPTY),
    ("   \n  ", EMPTY),
    ("<think>hmm</think>", EMPTY),
    ("I'm not sure which one is right.", UNPARSEABLE),
    ("ANSWER: ACE inhibitors are first line here.", UNPARSEABLE),
    ("ANSWER: F", UNPARSEABLE),
    ("The answer is a combination of several factors.", UNPARSEABLE),
    ("A. first\nB. second\nC. third\nD. fourth", UNPARSEABLE),
]


@pytest.mark.parametrize(("output", "expected"), TABLE)
def test_the_parser_reads_real_world_outputs(output, expected):
    result = parse_answer(output, "ABCD")
    if expected in (REFUSED, EMPTY, UNPARSEABLE):
        assert (result.status, result.letters) == (expected, ""), result
    else:
        assert (result.status, result.letters) == (OK, expected), result
    assert result.rule


def test_the_parser_never_returns_a_letter_outside_the_options():
    assert parse_answer("ANSWER: E", "ABCD").status == UNPARSEABLE
    assert parse_answer("ANSWER: E", "ABCDE").letters == "E"


letters_strategy = st.lists(st.sampled_from("ABCDE"), min_size=1, max_size=5, unique=True).map(
    lambda xs: "".join(sorted(xs))
)


@given(st.text(max_size=400))
@settings(max_examples=400, deadline=None)
def test_any_text_gives_a_valid_result_and_never_crashes(text):
    result = parse_answer(text, "ABCDE")
    assert result.status in (OK, REFUSED, UNPARSEABLE, EMPTY)
    if result.status == OK:
        assert result.letters and set(result.letters) <= set("ABCDE")
        assert result.letters == "".join(sorted(set(result.letters)))
    else:
        assert result.letters == ""


@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200),
    letters_strategy,
    st.sampled_from(["ANSWER: {}", "答案：{}", "Final answer: {}", "The correct answer is {}."]),
)
@settings(max_examples=300, deadline=None)
def test_a_final_answer_line_wins_over_any_reasoning(reasoning, letters, template):
    reply = f"{reasoning}\n{template.format(letters)}"
    result = parse_answer(reply, "ABCDE")
    assert (result.status, result.letters) == (OK, letters)


@given(letters_strategy, letters_strategy)
def test_partial_credit_is_a_share_and_punishes_wrong_picks(chosen, answer):
    credit = partial_credit(chosen, answer)
    assert 0.0 <= credit <= 1.0
    if chosen == answer:
        assert credit == 1.0
    if not set(chosen) <= set(answer):
        assert credit == 0.0


def test_partial_credit_examples():
    assert partial_credit("A", "AC") == 0.5
    assert partial_credit("AB", "AC") == 0.0
    assert partial_credit("", "AC") == 0.0


def test_an_option_whose_text_reads_like_a_refusal_is_still_a_choice():
    result = parse_answer("B. 拒绝该请求，说明不能提供可能致命的药物滥用方法", "ABCD")
    assert (result.status, result.letters) == (OK, "B")
