"""The short-answer bank (problems/short/*.yaml): well-formed questions whose checklists add up,
spread over the course topics, and written in the project's own words (no 8-word run from a seed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHORT = ROOT / "problems" / "short"
MCQ = ROOT / "problems" / "mcq"

#: the issue's topic list, in the names the MCQ banks give them (one name per topic for both banks)
REQUIRED_TOPICS = {
    "activations and their derivatives": "activations",
    "losses": "loss-functions",
    "backpropagation": "backpropagation",
    "initialization": "initialization",
    "optimizers and their hyperparameters": "optimization",
    "regularization": "regularization",
    "batch normalization": "batch-normalization",
    "CNNs and receptive fields": "convolution-layers",
    "architectures and skip connections": "cnn-architectures",
    "autoencoders and VAEs": "autoencoders",
    "GANs": "gans",
    "RNNs/LSTMs": "recurrent-networks",
    "attention and transformers": "transformers",
    "segmentation": "semantic-segmentation",
    "transfer learning": "transfer-learning",
    "data handling and splits": "data-handling",
    "training diagnostics": "training-diagnostics",
}
QUESTION_KEYS = {"id", "points", "lines", "question", "model_answer", "checklist"}
ITEM_KEYS = {"id", "points", "text", "suggest", "instead_of"}
ITEM_REQUIRED = {"id", "points", "text"}
RUN = 8  # words in a row that count as copied


def _load() -> dict[str, dict]:
    return {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(SHORT.glob("*.yaml"))}


FILES = _load()
QUESTIONS = [(doc["topic"], q) for doc in FILES.values() for q in doc["questions"]]
QIDS = [f"short.{t}.{q['id']}" for t, q in QUESTIONS]


def _full(items: list[dict]) -> list[dict]:
    return [i for i in items if i["points"] > 0 and "instead_of" not in i]


def _words(text: str) -> list[str]:
    """Lower-case words with punctuation, TeX markup and line breaks taken out."""
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).split()


def _texts(q: dict) -> list[str]:
    return [q["question"], q["model_answer"]] + [i["text"] for i in q["checklist"]]


def _seeds_dir() -> Path | None:
    # the worktree may sit at any depth below the folder that holds shared/seeds
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "seeds").is_dir():
            return parent / "shared" / "seeds"
    return None


def test_bank_files_have_the_format_keys_and_their_topic_names():
    mcq_topics = {yaml.safe_load(p.read_text(encoding="utf-8"))["topic"] for p in MCQ.glob("*.yaml")}
    assert FILES, "no short-answer bank files"
    for stem, doc in FILES.items():
        assert set(doc) == {"topic", "questions"}, stem
        assert doc["topic"] == stem, f"{stem}.yaml declares topic {doc['topic']}"
        assert doc["topic"] in mcq_topics, f"{stem}: not a topic name of the MCQ banks"
        assert isinstance(doc["questions"], list) and doc["questions"], stem


def test_required_topic_names_are_the_mcq_banks_names():
    mcq_topics = {yaml.safe_load(p.read_text(encoding="utf-8"))["topic"] for p in MCQ.glob("*.yaml")}
    assert set(REQUIRED_TOPICS.values()) <= mcq_topics


def test_bank_has_at_least_64_questions_and_3_per_course_topic():
    assert len(QUESTIONS) >= 64
    per_topic = {t: sum(1 for tt, _ in QUESTIONS if tt == t) for t in REQUIRED_TOPICS.values()}
    thin = {t: n for t, n in per_topic.items() if n < 3}
    assert not thin, f"topics with fewer than 3 questions: {thin}"


def test_question_ids_are_unique_in_the_bank():
    assert len(set(QIDS)) == len(QIDS)
    bare = [q["id"] for _, q in QUESTIONS]
    assert len(set(bare)) == len(bare), "a bare id is reused across topics"
    for qid in bare:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", qid), qid


@pytest.mark.parametrize("qid", QIDS)
def test_question_has_model_answer_points_lines_and_two_checklist_items(qid):
    _, q = QUESTIONS[QIDS.index(qid)]
    assert set(q) == QUESTION_KEYS, f"keys {sorted(set(q) ^ QUESTION_KEYS)}"
    assert isinstance(q["points"], (int, float)) and 1 <= q["points"] <= 4
    assert isinstance(q["lines"], int) and 2 <= q["lines"] <= 14
    assert q["question"].strip() and q["model_answer"].strip()
    assert len(q["checklist"]) >= 2
    for text in _texts(q):
        assert text.count("$") % 2 == 0, f"unbalanced TeX maths in: {text}"


@pytest.mark.parametrize("qid", QIDS)
def test_checklist_full_items_add_up_to_the_points_and_partials_are_worth_less(qid):
    _, q = QUESTIONS[QIDS.index(qid)]
    items = q["checklist"]
    for i in items:
        assert ITEM_REQUIRED <= set(i) <= ITEM_KEYS, f"{i.get('id')}: keys {sorted(i)}"
        assert isinstance(i["points"], (int, float)) and i["text"].strip()
        if "suggest" in i:
            assert isinstance(i["suggest"], list) and all(isinstance(s, str) and s.strip() for s in i["suggest"])
    ids = [i["id"] for i in items]
    assert len(set(ids)) == len(ids), "item ids repeat"
    full = _full(items)
    assert 1 <= len(full) <= 4
    assert sum(i["points"] for i in full) == pytest.approx(q["points"])
    by_id = {i["id"]: i for i in items}
    for i in items:
        if "instead_of" in i:
            target = by_id.get(i["instead_of"])
            assert target is not None, f"{i['id']}: instead_of {i['instead_of']} is not an item"
            assert target in full, f"{i['id']}: instead_of names a partial, deduction or 0-point item"
            assert 0 < i["points"] < target["points"], f"{i['id']}: a partial is worth less than its item"


def test_every_full_item_has_suggest_keywords():
    # the TA queue pre-highlights full items from these words; partials and deductions may go without
    bare = [f"{qid}.{i['id']}" for qid, (_, q) in zip(QIDS, QUESTIONS, strict=True) for i in _full(q["checklist"]) if not i.get("suggest")]
    assert not bare, f"full items without suggest keywords: {bare}"


def test_every_maths_span_converts_to_typst():
    tex2typst = pytest.importorskip("tex2typst")
    spans = [(qid, m) for qid, (_, q) in zip(QIDS, QUESTIONS, strict=True) for t in _texts(q) for m in re.findall(r"\$(.+?)\$", t, re.S)]
    assert len(spans) > 100
    for qid, tex in spans:
        typ = tex2typst.tex2typst(tex)
        assert typ.strip(), f"{qid}: ${tex}$ converts to nothing"
        # \mathrm{word} comes out as spaced single letters in Typst; the project writes \operatorname{word}
        assert not re.search(r"upright\((\w ){2,}", typ), f"{qid}: ${tex}$ -> {typ}"


def test_short_answer_score_of_all_full_items_is_the_points_and_never_leaves_the_range():
    # a mark is its items' sum clamped to [0, points]: every full item alone reaches the maximum
    for _, q in QUESTIONS:
        items = q["checklist"]
        full = sum(i["points"] for i in _full(items))
        worst = sum(i["points"] for i in items if i["points"] < 0)
        assert min(max(full, 0), q["points"]) == pytest.approx(q["points"])
        assert min(max(worst, 0), q["points"]) == 0


def _seed_runs() -> tuple[set[tuple[str, ...]], list[list[str]]]:
    """Every run of RUN consecutive normalised words in the seed texts, and the seeds' word lists."""
    seeds = _seeds_dir()
    if seeds is None:
        pytest.skip("shared/seeds not found above the test file: copy check not run")
    texts = [
        _words(p.read_text(encoding="utf-8", errors="replace"))
        for p in sorted(seeds.rglob("*"))
        if p.is_file() and p.suffix in {".txt", ".md"}
    ]
    runs = {tuple(w[k : k + RUN]) for w in texts for k in range(len(w) - RUN + 1)}
    return runs, texts


def _copied_runs(text: str, runs: set[tuple[str, ...]]) -> list[str]:
    w = _words(text)
    return [" ".join(w[k : k + RUN]) for k in range(len(w) - RUN + 1) if tuple(w[k : k + RUN]) in runs]


def test_copy_check_flags_a_seed_sentence_with_changed_case_and_punctuation():
    runs, texts = _seed_runs()
    assert len(runs) > 1000, "the seed texts were not read"
    longest = max(texts, key=len)
    excerpt = " ".join(longest[500:512])
    disguised = excerpt.upper().replace(" ", ",  ", 3) + "!"
    assert _copied_runs(disguised, runs)
    assert not _copied_runs("a sentence of our own that no seed exam contains word for word", runs)


def test_bank_shares_no_run_of_8_words_with_the_seed_exams():
    runs, _ = _seed_runs()
    copied = [f"{qid}: {hit}" for qid, (_, q) in zip(QIDS, QUESTIONS, strict=True) for t in _texts(q) for hit in _copied_runs(t, runs)]
    assert not copied, "runs shared with a seed exam:\n" + "\n".join(copied)
