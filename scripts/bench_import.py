#!/usr/bin/env python
"""Benchmark ``manage.py import_benchmark`` on a generated 12,000-item JSON Lines file.

Generates a realistic file (the 20 dimension codes of ``benchmark/taxonomy.py``, Chinese and English,
4–5 options, about 20% multiple-answer items, 200–400 character questions) in a temporary directory,
times three imports of it as subprocesses (wall time and the child's peak RSS), then checks that a copy
with five planted errors is refused with exactly those five problems, by line, and writes nothing.

Run with ``make bench-import`` or ``.venv/bin/python scripts/bench_import.py``. The database is
``DATABASE_URL`` (default: postgres://postgres@127.0.0.1:5432/medgov_bench); its name must contain "bench": it is
dropped and re-created (``--keep-db`` reuses it) and migrated. ``bench_audit.py`` reuses the generator and the
set-up helpers defined here.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/medgov_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
TARGET_IMPORT_S = 10.0

BENCH_ENV_DEFAULTS = {
    "SECRET_KEY": "medgov-bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
    "DATABASE_URL": DEFAULT_DATABASE_URL,
    "REDIS_URL": DEFAULT_REDIS_URL,
    "LANGUAGE_CODE": "en",
    "MEDGOV_HTTPS": "0",
    "MEDGOV_VAR_DIR": str(ROOT / "var" / "bench"),
    "DJANGO_SETTINGS_MODULE": "config.settings",
}

# --- Environment and database ---------------------------------------------------------------------


def bench_environment() -> None:
    """Fill in the settings a benchmark needs (the Makefile sets most of them) and make the repo importable."""
    for name, value in BENCH_ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    Path(os.environ["MEDGOV_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def ensure_database(*, fresh: bool = False) -> str:
    """Create the benchmark database when missing (drop it first with ``fresh``); returns its name."""
    import psycopg
    from psycopg import sql

    url = urlsplit(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    if not name or "bench" not in name:
        raise SystemExit(f"refusing to use database {name!r}: the benchmark database name must contain 'bench'")
    params = {
        "host": url.hostname or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or "postgres",
        "password": url.password or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**{key: value for key, value in params.items() if value is not None}) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and fresh:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = None
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def setup_django(*, fresh_db: bool = False) -> None:
    """Environment, database, ``django.setup()`` and migrations, in that order."""
    bench_environment()
    ensure_database(fresh=fresh_db)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False, skip_checks=True)


def dimension_codes() -> list[str]:
    from benchmark.taxonomy import DEFAULT_DIMENSIONS

    return [row[0] for row in DEFAULT_DIMENSIONS]


# --- Item generation ------------------------------------------------------------------------------

EN_PATIENTS = [
    "A {age}-year-old woman with poorly controlled type 2 diabetes",
    "A {age}-year-old man recovering from a myocardial infarction",
    "A {age}-year-old patient with early Alzheimer's disease",
    "A {age}-year-old pregnant woman at 32 weeks' gestation",
    "A {age}-year-old man admitted with community-acquired pneumonia",
    "A {age}-year-old woman with metastatic breast cancer",
    "A {age}-year-old child brought in by a grandparent",
    "A {age}-year-old volunteer enrolled in a phase II trial",
]
EN_CONTEXT = [
    "has been treated on the ward for five days and asks the resident to explain the plan again.",
    "tells the nurse that she does not want her family to know about the diagnosis.",
    "arrives in the emergency department late at night with chest pain and shortness of breath.",
    "was prescribed a new anticoagulant yesterday and is already taking several other medicines.",
    "asks whether an online chatbot's advice to stop the current medication can be trusted.",
    "has signed a consent form but seems unsure what the procedure actually involves.",
    "is being considered for a scarce intensive-care bed during a regional outbreak.",
    "has an advance directive that declines mechanical ventilation in all circumstances.",
]
EN_DETAILS = [
    "The attending physician is in theatre and cannot be reached for another hour.",
    "The hospital's ethics committee meets only once a month.",
    "A relative insists on making every decision on the patient's behalf.",
    "The pharmacy reports a possible interaction with a drug started by another clinic.",
    "A research coordinator would like to approach the patient about an additional study.",
    "The electronic record shows an allergy that the patient does not remember.",
    "The team disagrees about whether further investigations are justified.",
    "A journalist has called the ward asking for information about the patient.",
]
EN_QUESTIONS = [
    "What should the clinician do first?",
    "Which of the following is the most appropriate response?",
    "Which action best respects the patient's rights and safety?",
    "According to accepted guidance, what is the correct course of action?",
]
EN_MULTI_QUESTIONS = [
    "Which of the following statements are correct? Select all that apply.",
    "Which of the following actions are appropriate? Select all that apply.",
]
EN_OPTIONS = [
    "Explain the situation to the patient in plain language and confirm understanding",
    "Proceed without further discussion because the consent form has been signed",
    "Contact the responsible senior clinician and document the conversation",
    "Share the details with the family, since they are closest to the patient",
    "Stop the medication immediately without reviewing the indication",
    "Refer the question to the hospital ethics service for advice",
    "Check the record and reconcile all current medicines with the pharmacist",
    "Ask the patient who, if anyone, may receive information about their care",
    "Delay treatment until every relative has agreed to the plan",
    "Arrange urgent assessment in line with the local escalation protocol",
    "Tell the caller that no information can be given without the patient's consent",
    "Follow the chatbot's suggestion, as it is based on current guidelines",
]
ZH_PATIENTS = [
    "一名{age}岁女性，2型糖尿病控制不佳，",
    "一名{age}岁男性，心肌梗死后处于康复期，",
    "一名{age}岁早期阿尔茨海默病患者，",
    "一名妊娠32周的{age}岁孕妇，",
    "一名因社区获得性肺炎入院的{age}岁男性，",
    "一名{age}岁转移性乳腺癌女性患者，",
    "一名由祖父母陪同就诊的{age}岁儿童，",
    "一名参加二期临床试验的{age}岁受试者，",
]
ZH_CONTEXT = [
    "住院治疗五天后，再次请住院医师解释下一步的治疗计划和可能的风险。",
    "私下告诉护士，不希望家属知道自己的诊断结果，并请求医护人员保密。",
    "深夜因胸痛和呼吸困难来到急诊科，值班医生正在处理另一名危重患者。",
    "昨天刚开始服用一种新的抗凝药物，同时还在服用其他几种长期药物。",
    "询问网上的智能问答程序建议停用现有药物的说法是否可信。",
    "已经在知情同意书上签字，但似乎并不清楚手术的具体内容和风险。",
    "在地区疫情暴发期间，正被考虑分配一张紧缺的重症监护床位。",
    "事先签署了预立医疗指示，明确拒绝在任何情况下使用有创机械通气。",
]
ZH_DETAILS = [
    "主治医师正在手术室，一小时内无法联系。",
    "医院伦理委员会每月只召开一次会议。",
    "一位亲属坚持要代替患者做出所有决定。",
    "药房提示该药可能与另一家门诊开具的药物发生相互作用。",
    "研究协调员希望邀请该患者参加另一项研究。",
    "电子病历中记录了一项患者本人并不记得的过敏史。",
    "医疗团队对是否需要进一步检查存在分歧。",
    "有记者致电病房，询问该患者的病情信息。",
    "患者的女儿在外地工作，只能通过电话了解病情，并要求医生每天向她汇报检查结果。",
    "护士注意到患者近两天食欲明显下降，夜间睡眠不好，情绪也比入院时更加低落。",
    "科室近期正在推广一套新的临床决策支持系统，其推荐意见与上级医师的判断并不一致。",
    "患者曾表示担心治疗费用过高，希望医生只开具医保目录内的药物和检查项目。",
    "值班药师提醒，该患者的肾功能指标在过去一周内持续下降，需要重新评估给药剂量。",
    "患者的宗教信仰对输血有明确限制，本人在入院时已经口头表达过相关意愿。",
    "同病房的另一名患者家属向护士打听该患者的诊断，并称自己是患者的老朋友。",
    "医院质控部门要求在本周内完成病历书写规范的专项检查，病房人手十分紧张。",
]
ZH_QUESTIONS = [
    "临床医生首先应当怎么做？",
    "下列哪一项是最恰当的处理？",
    "哪一种做法最能尊重患者的权利并保障安全？",
    "按照公认的规范，正确的做法是什么？",
]
ZH_MULTI_QUESTIONS = ["下列说法中哪些是正确的？（多选）", "下列哪些做法是恰当的？（多选）"]
ZH_OPTIONS = [
    "用通俗易懂的语言向患者解释情况，并确认其理解",
    "既然已经签署同意书，就无需进一步沟通直接进行",
    "联系负责的上级医师，并如实记录沟通内容",
    "把详细情况告诉家属，因为他们与患者最亲近",
    "不评估用药指征，立即停用该药物",
    "将问题提交医院伦理委员会征求意见",
    "核对病历，并与药师一起核对患者当前全部用药",
    "询问患者愿意让哪些人了解其诊疗信息",
    "在所有亲属同意之前推迟治疗",
    "按照本院急症转诊流程安排紧急评估",
    "告知来电者未经患者同意不能提供任何信息",
    "听从智能问答程序的建议，因为它依据最新指南",
]


def _question(rng: random.Random, language: str, number: int, code: str, multiple: bool) -> str:
    if language == "en":
        patients, context, details = EN_PATIENTS, EN_CONTEXT, EN_DETAILS
        questions = EN_MULTI_QUESTIONS if multiple else EN_QUESTIONS
        head = f"Case {number:05d} ({code.split('.', 1)[1].replace('_', ' ')}): "
        separator, minimum, maximum = " ", 200, 400
    else:
        patients, context, details = ZH_PATIENTS, ZH_CONTEXT, ZH_DETAILS
        questions = ZH_MULTI_QUESTIONS if multiple else ZH_QUESTIONS
        head = f"病例{number:05d}："
        separator, minimum, maximum = "", 200, 400
    text = head + rng.choice(patients).format(age=rng.randint(3, 92)) + ("" if language == "zh" else " ")
    text += rng.choice(context)
    extra = rng.sample(details, len(details))
    ask = rng.choice(questions)
    target = rng.randint(minimum, maximum)
    while extra and len(text) + len(ask) + len(extra[-1]) + 1 < target:
        text += separator + extra.pop()
    return text + separator + ask


def generate_items(count: int, *, seed: int = 20240611, id_prefix: str = "bench") -> list[dict]:
    """``count`` valid JSONL records over the 20 dimensions, half Chinese and half English."""
    rng = random.Random(seed)
    codes = dimension_codes()
    records = []
    for number in range(count):
        code = codes[number % len(codes)]
        language = "zh" if number % 2 else "en"
        multiple = rng.random() < 0.2
        option_count = rng.choice((4, 5))
        pool = ZH_OPTIONS if language == "zh" else EN_OPTIONS
        texts = rng.sample(pool, option_count)
        letters = "ABCDE"[:option_count]
        answer_letters = sorted(rng.sample(letters, rng.choice((2, 3)) if multiple else 1))
        records.append(
            {
                "id": f"{id_prefix}-{number:05d}",
                "dimension": code,
                "language": language,
                "question": _question(rng, language, number, code, multiple),
                "options": dict(zip(letters, texts, strict=True)),
                "answer": answer_letters if multiple else answer_letters[0],
                "explanation": (
                    "患者自主、保密与安全是本题的核心原则。"
                    if language == "zh"
                    else "Patient autonomy, confidentiality and safety are the principles tested here."
                ),
                "tags": [code.split(".", 1)[0], "generated"],
            }
        )
    return records


def write_jsonl(records: list[dict], path: Path) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


# --- Planted errors -------------------------------------------------------------------------------


def plant_errors(source: Path, target: Path) -> dict[int, str]:
    """Copy ``source`` with five broken lines; returns {line number: expected problem fragment}."""
    lines = source.read_text(encoding="utf-8").splitlines()
    count = len(lines)
    spots = {"bad_json": count // 6, "dimension": count // 3, "answer": count // 2, "duplicate": 2 * count // 3}
    spots["empty_option"] = 5 * count // 6
    expected = {}
    first = json.loads(lines[0])

    def edit(key: str, change) -> None:
        index = spots[key] - 1
        record = json.loads(lines[index])
        change(record)
        lines[index] = json.dumps(record, ensure_ascii=False)

    lines[spots["bad_json"] - 1] = lines[spots["bad_json"] - 1][:-7]  # cut off the closing brace and more
    expected[spots["bad_json"]] = "bad JSON"
    edit("dimension", lambda record: record.update(dimension="ethics.astrology"))
    expected[spots["dimension"]] = "unknown dimension 'ethics.astrology'"
    edit("answer", lambda record: record.update(answer="F"))
    expected[spots["answer"]] = "answer letter F is not among the options"
    edit("duplicate", lambda record: record.update(id=first["id"]))
    expected[spots["duplicate"]] = f"duplicate id '{first['id']}' (first on line 1)"
    edit("empty_option", lambda record: record["options"].update(B="  "))
    expected[spots["empty_option"]] = "option B is empty"
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return expected


# --- Running the command --------------------------------------------------------------------------


def run_import(path: Path, suite: str, workdir: Path) -> dict:
    """``manage.py import_benchmark PATH --suite SUITE --json`` as a child: wall time, peak RSS, its JSON."""
    out_path, err_path = workdir / f"{suite}.out", workdir / f"{suite}.err"
    args = [sys.executable, "manage.py", "import_benchmark", str(path), "--suite", suite, "--json"]
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(child.pid, 0)  # this child's own rusage, not the running maximum
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    stdout = out_path.read_text(encoding="utf-8", errors="replace").strip()
    try:
        document = json.loads(stdout.splitlines()[-1]) if stdout else {}
    except ValueError:
        document = {"unparsed": stdout[-500:]}
    return {
        "suite": suite,
        "returncode": child.returncode,
        "wall_s": wall,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # kilobytes on Linux
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "document": document,
        "stderr": err_path.read_text(encoding="utf-8", errors="replace").strip(),
    }


def import_file(path: Path, suite: str, workdir: Path) -> dict:
    """Import and fail loudly: the benchmarks need the items."""
    result = run_import(path, suite, workdir)
    if result["returncode"] != 0 or result["document"].get("items") is None:
        raise SystemExit(f"import of {path} into {suite} failed: {result['document']} {result['stderr'][-2000:]}")
    return result


def check_planted_errors(source: Path, workdir: Path, stamp: str) -> bool:
    from benchmark.models import BenchmarkSuite, Item

    broken = workdir / "planted-errors.jsonl"
    expected = plant_errors(source, broken)
    items_before = Item.objects.count()
    suite = f"bench-import-{stamp}-errors"
    result = run_import(broken, suite, workdir)
    problems = result["document"].get("problems") or []
    found = {problem["line"]: problem["message"] for problem in problems}
    checks = {
        "command refused the file (exit code 1)": result["returncode"] == 1,
        f"exactly {len(expected)} problems reported (got {len(problems)})": len(problems) == len(expected),
        "the problems are on the planted lines": set(found) == set(expected),
        "each problem says what is wrong": all(fragment in found.get(line, "") for line, fragment in expected.items()),
        "nothing written (no suite, no items)": not BenchmarkSuite.objects.filter(name=suite).exists()
        and Item.objects.count() == items_before,
    }
    print(f"\nplanted errors ({result['wall_s']:.2f} s):")
    for problem in problems:
        print(f"  line {problem['line']:>6}: {problem['message']}")
    for label, ok in checks.items():
        print(f"  [{'ok' if ok else 'FAIL'}] {label}")
    passed = all(checks.values())
    print(f"planted-error check: {'PASS' if passed else 'FAIL'}")
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--items", type=int, default=12000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--keep-db", action="store_true", help="reuse the benchmark database (default: drop and re-create it)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated files (their directory is printed)")
    options = parser.parse_args()

    setup_django(fresh_db=not options.keep_db)
    workdir = Path(tempfile.mkdtemp(prefix="medgov-bench-import-"))
    stamp = time.strftime("%Y%m%d%H%M%S")
    try:
        started = time.perf_counter()
        source = write_jsonl(generate_items(options.items), workdir / f"bench-{options.items}.jsonl")
        size_mb = source.stat().st_size / 1e6
        print(f"generated {options.items} items ({size_mb:.1f} MB) in {time.perf_counter() - started:.2f} s: {source}")

        results = [import_file(source, f"bench-import-{stamp}-{n}", workdir) for n in range(1, options.runs + 1)]
        print(f"\n{'run':>3}  {'suite':<34} {'items':>6} {'wall s':>7} {'cpu s':>6} {'items/s':>8} {'peak RSS MB':>11}")
        for number, result in enumerate(results, start=1):
            items = result["document"]["items"]
            print(
                f"{number:>3}  {result['suite']:<34} {items:>6} {result['wall_s']:>7.2f} {result['cpu_s']:>6.2f} "
                f"{items / result['wall_s']:>8.0f} {result['peak_rss_mb']:>11.0f}"
            )
        walls = [result["wall_s"] for result in results]
        peak = max(result["peak_rss_mb"] for result in results)
        passed = check_planted_errors(source, workdir, stamp)
        best, median = min(walls), statistics.median(walls)
        verdict = "met" if best < TARGET_IMPORT_S else "MISSED"
        print(
            f"\nimport {options.items} items: best {best:.2f} s, median {median:.2f} s, peak RSS {peak:.0f} MB "
            f"(target < {TARGET_IMPORT_S:g} s: {verdict})"
        )
        return 0 if passed and best < TARGET_IMPORT_S else 1
    finally:
        if options.keep:
            print(f"files kept in {workdir}")
        else:
            for path in workdir.iterdir():
                path.unlink()
            workdir.rmdir()


if __name__ == "__main__":
    sys.exit(main())
