"""The search benchmark's generated notes and query mix (deterministic for a seed).

Notes, as the vault would hand them to the index (title and tags derived from
the Markdown text, which is the body):

* Length: log-normal word counts, median 200 words (sigma 0.9: mean about 330,
  1% over 1,600), at least 5 and at most 5,000 words.
* Words: drawn by Zipf's law (s = 1) over 106 common English words, most
  frequent first ("the" is 9% of all words), then 30,000 made-up words (the
  most frequent in about a fifth of the notes, the 1,000th in 3%); a fifth
  of the made-up words carry accents (é, ü, ñ, ø, ç...) and a dozen are real
  accented words (café, naïve, Straße...).  Sentences of 4-18 words; the
  first word capitalised.
* Markdown: a ``# title`` line (3-7 words), paragraphs of 1-5 sentences, a
  quarter of the blocks bullet or task lists, a ``##`` heading before about one
  block in six; 65% of notes have 1-3 ``#tags`` from 40 (ten nested
  ``project/...``, some accented).
* 5% of notes hold 1-3 CJK sentences (Chinese, Japanese, Korean phrases).
* 8 notebooks (one accented, uneven sizes) and 4% of notes in none; 4 authors, a
  tenth of the notes with two; created uniformly over 3 years before
  2026-11-21, modified an exponential 20 days later on average (capped at
  then); 5% in the trash.

Queries (``query_mix``): for each kind, words of mixed frequency taken from the
vocabulary (frequent, medium, rare ranks), phrases and CJK runs cut from the
generated notes so they match, fuzzy terms one edit away from real words.
Each query also carries its meaning as ``Clause``s, which the baselines run.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime
from itertools import accumulate

from crdt_store.markdown_text import derive_tags, derive_title
from crdt_store.search import NoteDocument

NOW = datetime(2026, 11, 21, 12, 0).timestamp()
DAY = 86400.0


def _split(text: str) -> list[str]:
    return text.split()



FUNCTION_WORDS = _split(
    "the of and to a in is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there been one all we their has would when if "
    "so no will more can out up into do any about what some other than then them these two "
    "may its only could new our also first after most over how where just like time very "
    "should well see now each much through back use way good make between because before "
    "here why those down still must own same last right while"
)
SYLLABLES = _split("ka lo mi ra te su no vi an el or ul ch st br pe qu ze ya ou de ma ti "
             "ro la ne po gu fa ri sa")
ACCENTED_SYLLABLES = _split("é ü ñ ø ç à ö è")
REAL_ACCENTED = _split("café naïve résumé über señor façade crème déjà jalapeño Ångström "
                 "smörgåsbord Zoë Straße")
CJK_PHRASES = _split("中文 字典 工具 搜索 测试 项目 会议 记录 东京 天气 晴れ 日本語 テキスト 検索 "
               "する 本日 計画 한국어 문장 검색 회의 일정 北京 上海 学习 笔记 数据 分析")
TAGS = (["ideas", "work", "todo", "reading", "meeting", "draft", "café", "recette", "journal",
         "travel", "health", "finance", "books", "music", "code", "design", "review", "urgent",
         "personal", "archive", "idées", "family", "garden", "learning", "research", "writing",
         "français", "photo", "film", "sport"]
        + [f"project/{p}" for p in ("plait", "atlas", "boreal", "cedar", "delta", "ember",
                                    "fjord", "gala", "helix", "iris")])
NOTEBOOKS = (("nb-work", "Work", 30), ("nb-personal", "Personal", 20), ("nb-recipes", "Recipes", 8),
             ("nb-reading", "Reading", 12), ("nb-journal", "Journal", 12),
             ("nb-travel", "Travel", 5), ("nb-research", "Research", 9), ("nb-idees", "Idées", 4))
AUTHORS = ("Ada Lovelace", "Alan Turing", "Grace Hopper", "Émile Zola")

MEDIAN_WORDS, SIGMA, MIN_WORDS, MAX_WORDS = 200, 0.9, 5, 5000
VOCABULARY = 30_000
ZIPF_S = 1.0


@dataclass(frozen=True)
class Clause:
    """One condition of a query, for the baselines.

    kind: ``word``, ``phrase`` (value: tuple of words), ``prefix``, ``fuzzy``
    (1 edit), ``cjk`` (a substring), ``tag`` (the tag or a nested one),
    ``notebook`` (a word of its name), ``modified`` (value: (start, end) POSIX
    times, end excluded).  Values are given as typed; the baselines fold them.
    """

    kind: str
    value: object
    negate: bool = False


@dataclass(frozen=True)
class BenchQuery:
    """A query of one ``kind`` (a row of the table): Plait's text and its clauses,
    all of which must hold, or at least one with ``any_of``."""

    kind: str
    text: str
    clauses: tuple[Clause, ...]
    any_of: bool = False


@dataclass
class Workload:
    notes: list[NoteDocument]
    content: list[str]  # the made-up words, most frequent first
    cjk_runs: list[str]  # CJK sentences that occur in the notes


def _vocabulary(rng: random.Random) -> list[str]:
    words: set[str] = set()
    out: list[str] = []
    while len(out) < VOCABULARY:
        parts = [rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))]
        if rng.random() < 0.2:
            parts[rng.randrange(len(parts))] += rng.choice(ACCENTED_SYLLABLES)
        word = "".join(parts)
        if word not in words and word not in FUNCTION_WORDS:
            words.add(word)
            out.append(word)
    for i, word in enumerate(REAL_ACCENTED):  # spread over frequent and medium ranks
        out.insert(50 + i * 150, word)
    return out[:VOCABULARY]


class _Writer:
    """Draws words and lays them out as Markdown notes."""

    def __init__(self, rng: random.Random, content: list[str]) -> None:
        self.rng = rng
        self.words = FUNCTION_WORDS + content
        self.cum = list(accumulate(1 / (r + 1) ** ZIPF_S for r in range(len(self.words))))
        self.content = content

    def draw(self, k: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cum, k=k)

    def sentences(self, words: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(words):
            n = self.rng.randint(4, 18)
            chunk = words[i : i + n]
            i += n
            out.append(chunk[0][:1].upper() + chunk[0][1:] + "".join(" " + w for w in chunk[1:]) + ".")
        return out


def _layout(rng: random.Random, title: str, sentences: list[str]) -> list[str]:
    """Markdown lines: title, then paragraphs, lists and headings of `sentences`."""
    lines = [f"# {title[:1].upper()}{title[1:]}"]
    i = 0
    while i < len(sentences):
        n = rng.randint(1, 5)
        block = sentences[i : i + n]
        i += n
        lines.append("")
        if rng.random() < 1 / 6:
            lines += [f"## {block[0].rstrip('.')[:40]}", ""]
        if rng.random() < 0.25:
            mark = "- [ ] " if rng.random() < 0.3 else "- "
            lines += [mark + s for s in block]
        else:
            lines.append(" ".join(block))
    return lines


def make_workload(n: int, seed: int = 1) -> Workload:
    """`n` notes (see the module docstring), the same for the same `n` and `seed`."""
    rng = random.Random(seed)
    content = _vocabulary(rng)
    writer = _Writer(rng, content)
    cjk_pool = [
        "".join(rng.choices(CJK_PHRASES, k=rng.randint(3, 6))) + "。" for _ in range(200)
    ]
    tag_weights = [1 / (r + 1) for r in range(len(TAGS))]
    book_weights = [w for *_, w in NOTEBOOKS]
    notes: list[NoteDocument] = []
    mu = math.log(MEDIAN_WORDS)
    for i in range(n):
        words = min(MAX_WORDS, max(MIN_WORDS, round(rng.lognormvariate(mu, SIGMA))))
        title = " ".join(rng.choices(content[:3000], k=rng.randint(3, 7)))
        sentences = writer.sentences(writer.draw(words))
        if rng.random() < 0.05:
            for run in rng.sample(cjk_pool, rng.randint(1, 3)):
                sentences.insert(rng.randrange(len(sentences) + 1), run)
        lines = _layout(rng, title, sentences)
        if rng.random() < 0.65:
            tags = " ".join("#" + t for t in dict.fromkeys(
                rng.choices(TAGS, weights=tag_weights, k=rng.randint(1, 3))))
            if rng.random() < 0.5:
                lines += ["", tags]
            else:
                lines.insert(1, tags)
        body = "\n".join(lines) + "\n"
        if rng.random() < 0.04:
            notebook_id, notebook = None, ""
        else:
            notebook_id, notebook, _ = rng.choices(NOTEBOOKS, weights=book_weights)[0]
        authors = tuple(rng.sample(AUTHORS, 2 if rng.random() < 0.1 else 1))
        created = NOW - rng.uniform(0, 3 * 365 * DAY)
        modified = min(NOW, created + rng.expovariate(1 / (20 * DAY)))
        notes.append(NoteDocument(
            note_id=f"note-{i:06d}", notebook_id=notebook_id, notebook_name=notebook,
            title=derive_title(body), body=body, tags=tuple(derive_tags(body)), authors=authors,
            created=created, modified=modified, trashed=rng.random() < 0.05, version=f"v{i}",
        ))
    return Workload(notes, content, cjk_pool)


# --------------------------------------------------------------------------- queries

KINDS = ("word", "two words", "phrase", "prefix", "fuzzy", "OR / NOT", "filter: tag",
         "filter: notebook", "filter: date", "CJK")


def _strip_accents(word: str) -> str:
    return word.translate(str.maketrans("éüñøçàöèïåëÅ", "eunocaoeiaeA")).replace("ß", "ss")


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d")


def _window(start: float, days: int) -> tuple[str, tuple[float, float]]:
    """`days` local calendar days from `start`: Plait's ``D1..D2`` and its (start, end)."""
    first = datetime.fromtimestamp(start).replace(hour=0, minute=0, second=0, microsecond=0)
    last = datetime.fromtimestamp(first.timestamp() + (days - 1) * DAY + 3600)
    end = datetime.fromtimestamp(last.timestamp() + DAY + 3600).replace(hour=0, minute=0, second=0,
                                                                        microsecond=0)
    return f"{_day(first.timestamp())}..{_day(last.timestamp())}", (first.timestamp(), end.timestamp())


class _Picker:
    def __init__(self, rng: random.Random, workload: Workload) -> None:
        self.rng = rng
        self.wl = workload
        self.live = [n for n in workload.notes if not n.trashed]

    def word(self, top: int | None = None) -> str:
        """A made-up word of mixed frequency (or among the `top` most frequent), as typed."""
        rng, content = self.rng, self.wl.content
        if top is None:
            top = rng.choice((100, 2000, 20000))
        word = content[rng.randrange(min(top, len(content)))]
        if rng.random() < 0.5:
            word = _strip_accents(word)  # most people type without accents
        return word.capitalize() if rng.random() < 0.2 else word

    def phrase(self) -> tuple[str, ...]:
        """2-3 consecutive words of a prose line of some note."""
        while True:
            lines = [ln for ln in self.rng.choice(self.live).body.splitlines()[1:]
                     if ln and ln[0].isalpha() and ln.isascii()]
            if not lines:
                continue
            words = [w.strip(".").lower() for w in self.rng.choice(lines).split()]
            size = self.rng.randint(2, 3)
            if len(words) > size:
                at = self.rng.randrange(len(words) - size)
                chosen = tuple(words[at : at + size])
                if all(w.isalpha() for w in chosen) and any(w not in FUNCTION_WORDS for w in chosen):
                    return chosen

    def misspelt(self) -> tuple[str, str]:
        word = ""
        while len(word) < 5:
            word = _strip_accents(self.wl.content[self.rng.randrange(3000)])
        at = self.rng.randrange(1, len(word) - 1)
        wrong = "x" if word[at] != "x" else "z"
        return word, word[:at] + wrong + word[at + 1 :]

    def cjk(self) -> str:
        run = self.rng.choice(self.wl.cjk_runs).rstrip("。")
        size = self.rng.randint(2, 4)
        at = self.rng.randrange(max(1, len(run) - size))
        return run[at : at + size]


def query_mix(workload: Workload, per_kind: int = 20, seed: int = 5) -> list[BenchQuery]:
    """`per_kind` queries of each of ``KINDS`` (see the module docstring)."""
    rng = random.Random(seed)
    pick = _Picker(rng, workload)
    out: list[BenchQuery] = []

    def add(kind: str, text: str, *clauses: Clause, any_of: bool = False) -> None:
        out.append(BenchQuery(kind, text, clauses, any_of))

    for i in range(per_kind):
        w = pick.word()
        add("word", w, Clause("word", w))
        a, b = pick.word(1000), pick.word(1000)
        add("two words", f"{a} {b}", Clause("word", a), Clause("word", b))
        words = pick.phrase()
        add("phrase", '"' + " ".join(words) + '"', Clause("phrase", words))
        stem = _strip_accents(pick.word(5000)).lower()[: 3 + i % 2]
        add("prefix", stem + "*", Clause("prefix", stem))
        _, wrong = pick.misspelt()
        add("fuzzy", wrong + "~", Clause("fuzzy", wrong))
        if i % 2:
            a, b = pick.word(2000), pick.word(2000)
            add("OR / NOT", f"{a} OR {b}", Clause("word", a), Clause("word", b), any_of=True)
        else:
            a, b = pick.word(500), pick.word(500)
            add("OR / NOT", f"{a} -{b}", Clause("word", a), Clause("word", b, negate=True))
        tag = rng.choice(TAGS[:12] + ["project"])
        if i % 2:
            add("filter: tag", f"tag:{tag}", Clause("tag", tag))
        else:
            w = pick.word(3000)
            add("filter: tag", f"{w} tag:{tag}", Clause("word", w), Clause("tag", tag))
        book = rng.choice(NOTEBOOKS)[1]
        typed = _strip_accents(book).lower()
        if i % 2:
            add("filter: notebook", f"notebook:{typed}", Clause("notebook", typed))
        else:
            w = pick.word(3000)
            add("filter: notebook", f"{w} notebook:{typed}", Clause("word", w),
                Clause("notebook", typed))
        start = NOW - rng.uniform(30, 3 * 365) * DAY
        if i % 2:
            span, bounds = _window(start, rng.randint(30, 90))
            add("filter: date", f"modified:{span}", Clause("modified", bounds))
        else:
            w = pick.word(3000)
            span, bounds = _window(start, 365)
            add("filter: date", f"{w} modified:{span}", Clause("word", w), Clause("modified", bounds))
        run = pick.cjk()
        add("CJK", run, Clause("cjk", run))
    return out
