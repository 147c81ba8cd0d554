"""The PERSON recognizer behind :mod:`alignkit.detectors.pii`: titles, introductions, greetings,
sign-offs and known given names, each followed by name-shaped words (the patterns follow the safety rules
in :mod:`alignkit.detectors.pii_patterns`: bounded repetitions, one way to match)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from alignkit.core.records import Span

# -- PERSON -----------------------------------------------------------------------------------------
# Common given names across cultures, written for this module (lower case). Names that are also common
# English words or places (Will, May, Rose, Jordan, Victoria, Austin...) are left out on purpose: a
# false positive on "Will Street" costs more than a missed name.
GIVEN_NAMES = frozenset(
    """
    james john robert michael william david richard joseph thomas charles christopher daniel matthew anthony
    donald steven paul andrew joshua kenneth kevin brian george edward ronald timothy jason jeffrey ryan jacob
    gary nicholas eric jonathan stephen larry justin scott brandon benjamin samuel gregory alexander patrick
    dennis tyler aaron adam nathan henry douglas zachary peter kyle noah ethan jeremy walter keith roger terry
    sean gerald carl harold dylan arthur lawrence bryan bruce gabriel logan alan albert elijah randy wayne vincent
    liam oliver lucas mason emma olivia sophia isabella mia charlotte amelia evelyn abigail emily elizabeth sofia
    ella chloe camila penelope layla lillian nora zoey hannah lily natalie eleanor leah zoe stella ellie claire
    lucy anna samantha caroline sarah julia alice sadie eva naomi clara vivian katherine sophie josephine maria
    ashley mary margaret jennifer linda patricia barbara susan jessica karen nancy lisa betty sandra donna carol
    michelle dorothy amanda melissa deborah stephanie rebecca sharon laura cynthia kathleen amy angela shirley
    brenda pamela nicole helen christine rachel heather diane ruth julie kelly lauren megan cheryl martha gloria
    ann jean teresa sara janice doris judith judy denise danielle diana jane tiffany alexis jose juan carlos luis
    miguel javier alejandro diego pablo sergio fernando ricardo eduardo mateo lucia carmen isabel ana paula marta
    elena valentina gabriela joao pedro rafael tiago beatriz ines mariana jean pierre louis nicolas julien antoine
    camille manon juliette amelie mathieu sebastien francois marie hans klaus jurgen lukas felix jonas leon lena
    lea katharina sven lars erik anders nils ingrid astrid sigrid johan pieter sanne femke emil oskar marco luca
    giuseppe giovanni francesco alessandro matteo lorenzo giulia chiara francesca alessia martina giorgia ivan
    dmitri sergei alexei nikolai mikhail vladimir olga natasha tatiana irina svetlana katarzyna piotr tomasz pavel
    jakub petra agnieszka mohammed muhammad ahmed ali omar yusuf hassan hussein ibrahim khalid fatima aisha mariam
    zainab mehmet mustafa emre elif zeynep reza nasrin leila rahul amit arjun vikram sanjay rohan priya anjali
    pooja deepa sunita kavya aditya imran ayesha hiroshi takeshi kenji yuki haruto sakura yuna minji jisoo seojun
    hyun mei xiao wei kwame kofi chinedu ngozi chidi oluwaseun thabo sipho zanele amara femi tunde wanjiru abebe
    """.split()
)
_NOT_NAMES = frozenset(
    """
    the a an and or but of in on at to for from with by is am are was were be been not no so very here there this
    that these those it its i we you he she they my your our his her their me us him them please thanks thank
    hello hi hey dear sorry sure just also going good fine happy back done ok okay yes calling writing looking
    trying glad new old mr mrs ms dr monday tuesday wednesday thursday friday saturday sunday january february
    march april june july august september october november december street st avenue ave road rd lane drive court
    way place boulevard inc ltd llc corp company bank university hospital school sir madam team all customer
    friend friends everyone there world flat flats cliffs park parks hill hills lake lakes river bridge station
    village valley ridge port fort union square squares extension extensions
    """.split()
)
_TITLE = re.compile(r"(?:M(?:rs?|s|x|iss|me|lle)|Dr|Prof|Sir|Dame|Rev|Herr|Frau|Sra|Srta)\.?[ ]|(?:mrs?|ms|dr)\.[ ]")
_MY_NAME = re.compile(r"(?i)\b(?:my|his|her|their|your) (?:full |first |last |maiden )?name(?: is|'s)[ ]{1,3}")
_GREETING = re.compile(r"\b(?:Dear|Hi|Hello|Hey)[ ]")
_FIELD = re.compile(
    r"(?im)(?:^|(?<=[,;|] ))[ \t]{0,8}(?:full |first |last )?(?:name|patient|customer|client|employee|recipient)"
    r"[ ]?:[ \t]{0,3}\n?[ \t]{0,3}"
)
_SIGN_OFF_WORDS = ("signed", "sincerely", "regards", "best wishes", "cheers", "thanks", "yours truly")
_SIGN_OFF = re.compile(rf"(?i)\b(?:{'|'.join(_SIGN_OFF_WORDS)})[ ]?[,:\-][ \t]{{0,3}}\n?[ \t]{{0,3}}")
_I_AM = re.compile(r"\b(?:I am|I'm|i am|i'm)[ ]{1,3}")
# Phrases that introduce a name: (pattern, confidence, rule, words one of which the lower-cased text must
# contain for the pattern to be worth running: a plain `in` test is far cheaper than a scan).
_INTRODUCTIONS = (
    (_MY_NAME, 0.85, "lower_ok", ("name",)),
    (_GREETING, 0.65, "one_known", ("dear ", "hi ", "hello ", "hey ")),
    (_FIELD, 0.8, "", (":",)),
    (_SIGN_OFF, 0.7, "", _SIGN_OFF_WORDS),
    (_I_AM, 0.6, "one_known", ("i am", "i'm")),
)
_GIVEN_NAME = re.compile(r"[A-ZÀ-ÖØ-Þ](?<![\w'’\-].)[a-zß-öø-ÿ]{1,14}(?![\w'’\-])")
_STREET_AHEAD = re.compile(r",?[ ][0-9]{1,5}\b")
_STREET_BEHIND = re.compile(r"[0-9]{1,6}[ ](?:[A-Z][\w.]{0,24}[ ]){1,3}$|\b(?:Rue|Via|Calle|Rua|Avenida|Piazza)[ ]$")
# A word of letters, with inner apostrophes and hyphens ("O'Brien", "Garcia-Lopez"), maybe an initial's dot.
_NAME_WORD = r"([^\W\d_](?:[^\W\d_]|['’\-](?=[^\W\d_])){0,24}\.?)"
_WORD = re.compile(_NAME_WORD)
_CODE_AFTER = frozenset("([{<=_")
_NEXT_WORD = re.compile(r"[ ]" + _NAME_WORD)


def _name_end(text: str, pos: int, *, first: bool, lower_ok: bool = False) -> tuple[int, int]:
    """Where a name starting at ``pos`` ends, and how many words it has (0: no name there).

    ``first``: the name starts with the word at ``pos``; else with the word after the space at ``pos``.
    Capitalised words and middle initials ("J.") count, up to three words; a sentence end ends the name.
    ``lower_ok`` accepts a lower-case name starting with a known given name ("my name is lena andersson").
    """
    end, words = pos, 0
    m = (_WORD if first else _NEXT_WORD).match(text, pos)
    while m and words < 3:
        token = m.group(1)
        last = token.endswith((".", "'s", "’s")) and len(token) > 2  # "Smith." or "Amanda's" ends the name
        word = token[:-2] if token.endswith(("'s", "’s")) else token.rstrip(".")
        lowered = word.lower()
        if lowered in _NOT_NAMES or text[m.end() : m.end() + 1] in _CODE_AFTER:
            break  # "ClassVar[str]", "Path(...)": code, not a name
        if len(word) == 1:  # an initial counts only between two name words
            if not (words and word.isupper() and _NEXT_WORD.match(text, m.end())):
                break
        elif not (word[0].isupper() or (lower_ok and (words or lowered in GIVEN_NAMES))):
            break
        else:
            words += 1
        end = m.start(1) + (len(word) if last else len(token))
        if last:
            break
        m = _NEXT_WORD.match(text, m.end())
    return end, words


def find_person(text: str) -> Iterator[Span]:
    """Names after a title, an introduction, a greeting or a sign-off, and known given names."""
    for m in _TITLE.finditer(text):
        if m.start() and text[m.start() - 1].isalnum():
            continue  # "DrMr", "AMrs": inside a word
        end, words = _name_end(text, m.end(), first=True)
        if words and not _STREET_BEHIND.search(text, max(0, m.start() - 40), m.start()):
            yield Span(m.end(), end, "PERSON", 0.8 if words > 1 else 0.75)
    lowered = text.lower()
    for pattern, score, rule, gates in _INTRODUCTIONS:
        if not any(g in lowered for g in gates):
            continue
        for m in pattern.finditer(text):
            end, words = _name_end(text, m.end(), first=True, lower_ok=rule == "lower_ok")
            first_word = text[m.end() : end].split(" ", 1)[0].lower()
            # "I am Very tired", "Hello World": one word counts only when it is a known given name, or
            # when a comma sets it off as the person addressed ("Hi Freddy, ...").
            addressed = rule == "one_known" and pattern is not _I_AM and text.startswith(",", end)
            if words >= 2 or (words == 1 and (rule != "one_known" or first_word in GIVEN_NAMES or addressed)):
                yield Span(m.end(), end, "PERSON", score)
    for m in _GIVEN_NAME.finditer(text):
        if m.group().lower() not in GIVEN_NAMES:
            continue
        end, words = _name_end(text, m.end(), first=False)
        if _STREET_AHEAD.match(text, end) or _STREET_BEHIND.search(text, max(0, m.start() - 40), m.start()):
            continue  # "Via Pedro Ulisses 888", "12 Cheriton Dr Maria ...": a street named after someone
        if words:
            yield Span(m.start(), end, "PERSON", 0.65)
        else:  # a given name alone ("ask Kevin"): weak evidence, counted only under a lower threshold
            yield Span(m.start(), m.end(), "PERSON", 0.45)
