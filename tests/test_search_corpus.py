"""Search results against a brute-force scan of a generated corpus, operator by operator.

The scan below re-implements the query semantics on its own (regex tokens,
casefold, accent stripping by NFKD, substring search for CJK), so a difference
means the index, the analyzers or the query parser got something wrong.
"""

from __future__ import annotations

import calendar
import random
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from operator import methodcaller
from pathlib import Path

import pytest

from crdt_store.markdown_text import derive_title
from crdt_store.search import NoteDocument, SearchIndex

NOW = 1_780_000_000  # 2026-05-28, a whole second so date bounds are exact
DAY = 86400

# --------------------------------------------------------------------------- corpus

_SYLLABLES = ["ka", "lo", "mi", "ra", "te", "su", "no", "vi", "an", "el", "or", "ul", "pe", "zu", "bo", "ri"]
ACCENTED = ["café", "naïve", "résumé", "über", "señor", "façade", "crème", "brûlée", "déjà",
            "jalapeño", "Ångström", "smörgåsbord", "Zoë", "coöperate", "élan"]
CJK = ["中文字典是很好的工具", "日本語のテキストを検索する", "한국어 문장을 검색합니다",
       "東京の天気は晴れです", "中文搜索测试"]
TAGS = ["ideas", "work", "project/plait", "project/other", "Café", "todo", "Reading"]
NOTEBOOKS = [("nb-work", "Work"), ("nb-personal", "Personal Notes"), ("nb-recipes", "Récipes"), (None, "")]
AUTHORS = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Émile Zola"]
PUNCTUATION = [" ", " ", " ", ", ", ". ", " - ", " — ", "; ", " (", ") ", "! ", "\n", "_"]


def _vocabulary(rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < 120:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 3))))
    return sorted(words)


def _surface(rng: random.Random, word: str) -> str:
    """How a word is written: usually as is, sometimes capitalised, upper-cased or decomposed."""
    r = rng.random()
    if r < 0.1:
        return word.capitalize()
    if r < 0.13:
        return word.upper()
    if r < 0.18:
        return unicodedata.normalize("NFD", word)
    return word


def _note(rng: random.Random, i: int, vocab: list[str]) -> NoteDocument:
    pool = vocab + ACCENTED
    title_words = [_surface(rng, rng.choice(pool)) for _ in range(rng.randint(1, 4))]
    parts = ["# " + " ".join(title_words), "\n"]
    tags = tuple(rng.sample(TAGS, rng.randint(0, 2)))
    for _ in range(rng.randint(10, 60)):
        parts.append(_surface(rng, rng.choice(pool)))
        parts.append(rng.choice(PUNCTUATION))
        if rng.random() < 0.02:
            parts.append("😀 ")
        if rng.random() < 0.01:
            parts.append(rng.choice(CJK) + " ")
    parts += [" #" + t for t in tags]
    body = "".join(parts)
    notebook_id, notebook = rng.choice(NOTEBOOKS)
    created = NOW - rng.randint(0, 500) * DAY - rng.randint(0, DAY - 1)
    modified = min(NOW, created + rng.choice([0, rng.randint(0, 30 * DAY), rng.randint(0, 400 * DAY)]))
    return NoteDocument(
        note_id=f"note-{i:03d}",
        notebook_id=notebook_id,
        notebook_name=notebook,
        title=derive_title(body),
        body=body,
        tags=tags,
        authors=tuple(rng.sample(AUTHORS, rng.randint(1, 2))),
        created=float(created),
        modified=float(modified),
        trashed=rng.random() < 0.1,
        version=f"v{i}",
    )


RNG = random.Random(20260528)
VOCAB = _vocabulary(RNG)
DOCS = [_note(RNG, i, VOCAB) for i in range(300)]

# --------------------------------------------------------------------------- brute force

_TOKEN = re.compile(r"([\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]+)|([^\W_]+)")


def norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", text.casefold())


def tokens(text: str) -> list[str | None]:
    """Folded words in order, None for each CJK run (it separates words)."""
    return [None if m[1] else norm(m[2]) for m in _TOKEN.finditer(unicodedata.normalize("NFC", text))]


def levenshtein(a: str, b: str) -> int:
    rows = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1,
                             rows[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
    return rows[-1][-1]


def has_run(seq: list[str | None], run: list[str]) -> bool:
    return any(seq[i : i + len(run)] == run for i in range(len(seq) - len(run) + 1))


def count_runs(seq: list[str | None], run: list[str]) -> int:
    """Non-overlapping occurrences of `run` in `seq`, left to right."""
    n = i = 0
    while i <= len(seq) - len(run):
        if seq[i : i + len(run)] == run:
            n, i = n + 1, i + len(run)
        else:
            i += 1
    return n


def within(target: str, k: int, word: str) -> bool:
    return levenshtein(word, target) <= k


def count_words(body: str, accept: Callable[[str], bool]) -> int:
    return sum(1 for t in tokens(body) if t is not None and accept(t))


@dataclass
class Scan:
    doc: NoteDocument
    title: list[str | None]
    body: list[str | None]
    notebook: list[str | None]

    @classmethod
    def of(cls, doc: NoteDocument) -> Scan:
        return cls(doc, tokens(doc.title), tokens(doc.body), tokens(doc.notebook_name))

    def words(self) -> set[str]:
        return {t for t in self.title + self.body if t is not None}

    def word(self, w: str) -> bool:
        return norm(w) in self.words()

    def phrase(self, ws: list[str]) -> bool:
        run = [norm(w) for w in ws]
        return has_run(self.title, run) or has_run(self.body, run)

    def prefix(self, p: str) -> bool:
        return any(t.startswith(norm(p)) for t in self.words())

    def fuzzy(self, w: str, k: int) -> bool:
        return any(levenshtein(t, norm(w)) <= k for t in self.words())

    def cjk(self, s: str) -> bool:
        return s in self.doc.title or s in self.doc.body

    def tag(self, t: str) -> bool:
        t = norm(t)
        return any(norm(x) == t or norm(x).startswith(t + "/") for x in self.doc.tags)

    def author(self, a: str) -> bool:
        return any(norm(a) == norm(n) or norm(a) in tokens(n) for n in self.doc.authors)


SCANS = [Scan.of(d) for d in DOCS]


def local_day(d: date) -> float:
    return datetime(d.year, d.month, d.day).timestamp()


def months_ago(now: float, months: int) -> float:
    moment = datetime.fromtimestamp(now)
    year, month = moment.year, moment.month - months
    while month < 1:
        month += 12
        year -= 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day).timestamp()


# --------------------------------------------------------------------------- cases


@dataclass
class Case:
    group: str
    query: str
    match: Callable[[Scan], bool]
    trash: bool = False
    count: Callable[[str], int] | None = None  # matches of the query's term in a body


    def expected(self) -> set[str]:
        return {s.doc.note_id for s in SCANS if s.doc.trashed == self.trash and self.match(s)}


def _cases() -> list[Case]:
    rng = random.Random(7)
    words = sorted({t for s in SCANS for t in s.body if t is not None})
    common = [w for w in words if sum(s.word(w) for s in SCANS) > 5]
    cases: list[Case] = []
    add = cases.append

    for w in rng.sample(words, 25) + ["cafe", "café", "CAFÉ", "resume", "Resume", "uber", "zoe", "angstrom", "jalapeno"]:
        add(Case("word", w, lambda s, w=w: s.word(w), count=partial(count_words, accept=norm(w).__eq__)))
    for _ in range(20):
        a, b = rng.sample(common, 2)
        add(Case("and", f"{a} {b}", lambda s, a=a, b=b: s.word(a) and s.word(b)))
    for _ in range(20):
        s = rng.choice(SCANS)
        run = [t for t in s.body if t is not None]
        i = rng.randrange(len(run) - 3)
        n = rng.choice([2, 2, 3])
        add(Case("phrase", '"' + " ".join(run[i : i + n]) + '"',
                 lambda s, ws=run[i : i + n]: s.phrase(ws),
                 count=lambda body, ws=run[i : i + n]: count_runs(tokens(body), ws)))
    add(Case("phrase", '"cafe creme"', lambda s: s.phrase(["cafe", "creme"])))
    for w in rng.sample(common, 15):
        p = w[: rng.randint(2, min(4, len(w)))]
        add(Case("prefix", f"{p}*", lambda s, p=p: s.prefix(p),
                 count=partial(count_words, accept=methodcaller("startswith", p))))
    add(Case("prefix", "caf*", lambda s: s.prefix("caf")))
    for w in rng.sample([w for w in words if len(w) >= 4], 15):
        i = rng.randrange(len(w))
        typo = rng.choice([w[:i] + w[i + 1 :], w[:i] + "x" + w[i + 1 :], w[:i] + "q" + w[i:]])
        k = rng.choice([1, 1, 2])
        add(Case("fuzzy", f"{typo}~" if k == 1 else f"{typo}~2", lambda s, t=typo, k=k: s.fuzzy(t, k),
                 count=partial(count_words, accept=partial(within, typo, k))))
    for _ in range(10):
        a, b = rng.sample(words, 2)
        add(Case("or", f"{a} OR {b}", lambda s, a=a, b=b: s.word(a) or s.word(b)))
    for _ in range(5):
        a, b, c = rng.sample(common, 3)
        add(Case("or", f"({a} OR {b}) {c}", lambda s, a=a, b=b, c=c: (s.word(a) or s.word(b)) and s.word(c)))
        add(Case("or", f"{a} OR {b} {c}", lambda s, a=a, b=b, c=c: s.word(a) or (s.word(b) and s.word(c))))
    for _ in range(10):
        a, b = rng.sample(common, 2)
        add(Case("not", f"{a} -{b}", lambda s, a=a, b=b: s.word(a) and not s.word(b)))
        add(Case("not", f"{a} NOT {b}", lambda s, a=a, b=b: s.word(a) and not s.word(b)))
    add(Case("not", f"NOT {common[0]}", lambda s: not s.word(common[0])))
    add(Case("not", f"{common[1]} OR -{common[2]}", lambda s: s.word(common[1]) or not s.word(common[2])))
    add(Case("not", '-"cafe creme"', lambda s: not s.phrase(["cafe", "creme"])))

    for t in ["ideas", "#ideas", "work", "project", "project/plait", "#project/other", "cafe", "Café", "READING"]:
        add(Case("tag", t if t.startswith("#") else f"tag:{t}", lambda s, t=t: s.tag(t.lstrip("#"))))
    add(Case("tag", "tag:proj*", lambda s: any(norm(x).startswith("proj") for x in s.doc.tags)))
    add(Case("tag", f"{common[3]} -tag:todo", lambda s: s.word(common[3]) and not s.tag("todo")))
    for q, name in [("notebook:work", ["work"]), ("notebook:personal", ["personal"]),
                    ('notebook:"personal notes"', ["personal", "notes"]), ("notebook:recipes", ["recipes"]),
                    ("notebook:RÉCIPES", ["recipes"]), ('notebook:"notes personal"', ["notes", "personal"])]:
        add(Case("notebook", q, lambda s, name=name: has_run(s.notebook, name)))
    for w in rng.sample(sorted({t for s in SCANS for t in s.title if t}), 10):
        add(Case("title", f"title:{w}", lambda s, w=w: w in s.title))
    add(Case("title", "title:caf*", lambda s: any(t and t.startswith("caf") for t in s.title)))
    for a in ["ada", "Ada Lovelace", "lovelace", "zola", "emile", "Émile", "turing", "grace"]:
        q = f'author:"{a}"' if " " in a else f"author:{a}"
        add(Case("author", q, lambda s, a=a: s.author(a)))
    add(Case("author", "author:gra*", lambda s: any(norm(n).startswith("gra") for n in s.doc.authors)))

    for value, hours in [("24h", 24), ("7d", 7 * 24), ("2w", 14 * 24), ("30d", 30 * 24)]:
        for field in ("modified", "created"):
            add(Case("date", f"{field}:{value}",
                     lambda s, f=field, h=hours: getattr(s.doc, f) >= NOW - h * 3600))
    for months in (1, 3):
        add(Case("date", f"modified:{months}m", lambda s, m=months: s.doc.modified >= months_ago(NOW, m)))
    add(Case("date", "created:1y", lambda s: s.doc.created >= months_ago(NOW, 12)))
    today = datetime.fromtimestamp(NOW).date()
    for back in (3, 40, 200):
        d = today - timedelta(days=back)
        iso, start, end = d.isoformat(), local_day(d), local_day(d + timedelta(days=1))
        add(Case("date", f"modified:>{iso}", lambda s, e=end: s.doc.modified >= e))
        add(Case("date", f"modified:>={iso}", lambda s, b=start: s.doc.modified >= b))
        add(Case("date", f"created:<{iso}", lambda s, b=start: s.doc.created < b))
        add(Case("date", f"created:<={iso}", lambda s, e=end: s.doc.created < e))
        add(Case("date", f"modified:..{iso}", lambda s, e=end: s.doc.modified < e))
        add(Case("date", f"created:{iso}..", lambda s, b=start: s.doc.created >= b))
    for doc in rng.sample(DOCS, 4):
        d = datetime.fromtimestamp(doc.created).date()
        add(Case("date", f"created:{d.isoformat()}",
                 lambda s, d=d: local_day(d) <= s.doc.created < local_day(d + timedelta(days=1))))
        d2 = d + timedelta(days=20)
        add(Case("date", f"created:{d.isoformat()}..{d2.isoformat()}",
                 lambda s, d=d, d2=d2: local_day(d) <= s.doc.created < local_day(d2 + timedelta(days=1))))

    for text in CJK:
        for _ in range(3):
            n = rng.randint(1, 4)
            i = rng.randrange(len(text) - n + 1)
            sub = text[i : i + n]
            if sub.strip() == sub and " " not in sub:
                add(Case("cjk", sub, lambda s, sub=sub: s.cjk(sub), count=lambda body, sub=sub: body.count(sub)))
    add(Case("cjk", "中文字典", lambda s: s.cjk("中文字典")))
    add(Case("cjk", "字典中文", lambda s: s.cjk("字典中文")))
    add(Case("cjk", f"検索 {common[4]}", lambda s: s.cjk("検索") and s.word(common[4])))

    for w in rng.sample(common, 6):
        add(Case("trash", w, lambda s, w=w: s.word(w), trash=True))
    add(Case("trash", "", lambda s: True, trash=True))
    add(Case("empty", "", lambda s: True))
    a = common[5]
    add(Case("combined", f"{a} tag:ideas modified:90d",
             lambda s: s.word(a) and s.tag("ideas") and s.doc.modified >= NOW - 90 * DAY))
    add(Case("combined", f"{a}* notebook:work -author:ada",
             lambda s: s.prefix(a) and has_run(s.notebook, ["work"]) and not s.author("ada")))
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory):
    ix = SearchIndex(Path(tmp_path_factory.mktemp("corpus")))
    for doc in DOCS:
        ix.update(doc)
    assert ix.flush(timeout=120)
    yield ix
    ix.close()


@pytest.mark.parametrize("case", CASES, ids=[f"{c.group}:{c.query}" for c in CASES])
def test_search_matches_brute_force(index: SearchIndex, case: Case) -> None:
    results = index.search(case.query, limit=None, trash=case.trash, now=NOW)
    found = {h.note_id for h in results.hits}
    expected = case.expected()
    assert found == expected, (
        f"missing {sorted(expected - found)[:5]}, unexpected {sorted(found - expected)[:5]}"
    )
    assert results.total == len(expected)
    assert not results.incomplete
    top = index.search(case.query, limit=3, trash=case.trash, now=NOW)
    assert top.total == len(expected)  # counted exactly even when only the best are returned
    assert len(top.hits) == min(3, len(expected)) and {h.note_id for h in top.hits} <= expected
    if case.count is not None:  # highlights: as many ranges as the scan finds, each a match
        for hit in results.hits:
            body = next(d.body for d in DOCS if d.note_id == hit.note_id)
            assert len(hit.body_matches) == case.count(body), hit.note_id
            for a, b in hit.snippet_matches:
                assert norm(hit.snippet[a:b]) in {norm(" ".join(body[x:y].split())) for x, y in hit.body_matches}


def test_cases_are_not_trivial() -> None:
    """Most cases match something, and no operator is tested only on empty results."""
    sizes: dict[str, list[int]] = {}
    for case in CASES:
        sizes.setdefault(case.group, []).append(len(case.expected()))
    for group, counts in sizes.items():
        assert any(counts), group
    all_counts = [n for counts in sizes.values() for n in counts]
    assert sum(1 for n in all_counts if n) >= 0.8 * len(all_counts)
    assert sum(1 for n in all_counts if n < len(DOCS) * 0.9) >= 0.8 * len(all_counts)
    assert sum(d.trashed for d in DOCS) >= 15
