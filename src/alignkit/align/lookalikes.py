"""Harmful-sounding but safe requests: the contrast that keeps a refusal-trained model helpful.

A small model learns refusals from surface words ("bomb", "hack", "kill"); trained on refusals alone it
refuses "how do I kill time at an airport" too. Two documented methods build the contrast set, neither
from the probe library (near-duplicates of probe prompts are then dropped by :mod:`alignkit.align.overlap`):

1. **Protective and educational reformulations** of the harm topics named in JailbreakBench's
   ``Behavior`` column ("Phishing", "Identity theft", ...): each topic goes into the templates of
   :data:`TOPIC_TEMPLATES` (what it is and why it harms, how to protect oneself, what the law says, how
   professionals detect it, an awareness post). These are requests a careful assistant answers.
2. **Other senses of trigger words**: :data:`HOMONYM_REQUESTS`, written for alignkit: each uses a word
   frequent in harmful goals (kill, shoot, attack, bomb, hack, steal, crack, blow up, execute, ...) in
   an everyday, figurative, historical or fictional sense. They were written by someone who had read the
   probe library, avoiding its objects (the overlap check is the mechanical guard).
"""

from __future__ import annotations

import csv
from pathlib import Path

from alignkit.align.sources import TrainPrompt

TOPIC_TEMPLATES: tuple[str, ...] = (
    "What is {topic}, and why is it harmful?",
    "How can I protect myself and my family from {topic}?",
    "What do the laws in most countries say about {topic}?",
    "How do professionals detect and prevent {topic}?",
    "Write a short awareness post warning people about {topic}.",
)
# JailbreakBench behaviours that are advice areas or too graphic for the templates above to read naturally.
SKIP_TOPICS = frozenset(
    {
        "aids treatment", "schizophrenia treatment", "self-medication", "financial advice", "emergency mitigation",
        "opiods prescription", "unprotected sex", "cryptocurrency mining", "sudo access", "expired visa",
        "avoid criminal charges", "child pornography", "pedophilia", "bestiality", "cannibalism", "porn generation",
        "sexting", "suicide", "eating disorder", "ingesting detergent", "regulatory loopholes", "payday loans",
        "gambling", "insider betting", "plagiarism", "change criminal record", "sexual solicitation",
    }
)  # fmt: skip

HOMONYM_REQUESTS: tuple[str, ...] = (
    "How do I shoot sharp photos of the night sky with my phone?",
    "What's a good way to attack an opponent in chess who castles early?",
    "How can I hack my morning routine so I leave the house on time?",
    "How do I crack open a coconut without special tools?",
    "How do I blow up a lot of balloons quickly without a pump?",
    "How do I steal a base in softball without getting tagged out?",
    "How can a small startup exploit a gap in the market?",
    "How do I execute a shell script every night with cron?",
    "What is the best way to terminate a flat lease early?",
    "How do I destroy an old hard drive so my data cannot be recovered?",
    "How do I get rid of fruit flies in my kitchen?",
    "How do I trap a mouse in my garage humanely and release it?",
    "How do I inject dependencies in a Spring Boot application?",
    "How do I fire up a charcoal grill quickly?",
    "How can I smash my personal best in a 5k run?",
    "How do I take down a Christmas tree without needles everywhere?",
    "How do I break into the software industry without a degree?",
    "How do I knock down a non-load-bearing wall in my house safely?",
    "How can I kill time at the airport during a long layover?",
    "How do I hunt for bargains at a flea market?",
    "How do I stop my toddler from hitting other children at nursery?",
    "How do I sharpen a kitchen knife properly?",
    "How do I blast music at a party without disturbing the neighbours?",
    "How do I hang a heavy mirror on a plaster wall?",
    "How do I steal the show at a job interview?",
    "How do I stop bombing at stand-up comedy open mics?",
    "How do I make my Python program crash less often?",
    "How do I dispose of old prescription medicines safely?",
    "Why do people say 'break a leg' to actors before a show?",
    "What weapons did medieval knights use in battle?",
    "How did the Roman army attack fortified cities?",
    "How does a nuclear power plant keep its reactor under control?",
    "What happened during the Cuban missile crisis?",
    "How does a locksmith open a door for someone locked out of their own house?",
    "Write the opening scene of a murder mystery set in a lighthouse.",
    "Write a menacing speech for the dragon villain in my children's fantasy play.",
    "How do I report a scam website to the authorities?",
    "What is the deadliest animal in Australia?",
    "How do I get a stubborn screw out of a wall when the head is stripped?",
    "Why did the Titanic sink so quickly?",
    "How do firefighters fight a wildfire from the air?",
    "How do I get revenge on my brother in a friendly prank war?",
    "What makes a poison dart frog poisonous?",
    "How do I take a screenshot of my whole screen on Windows?",
    "How do I exterminate ants that keep coming into my kitchen?",
    "How do I annihilate my friends at Mario Kart?",
    "What is the history of gunpowder in China?",
    "How do I pick a good lock for my bike?",
)


def topic_lookalikes(data: Path) -> list[TrainPrompt]:
    """Method 1: JailbreakBench's behaviour names through :data:`TOPIC_TEMPLATES` (empty without the file)."""
    path = data / "jailbreakbench" / "jbb_behaviors_harmful.csv"
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        topics = sorted({row["Behavior"].strip().lower() for row in csv.DictReader(fh)} - SKIP_TOPICS)
    source = "jailbreakbench/jbb_behaviors_harmful.csv (Behavior) x alignkit.align.lookalikes.TOPIC_TEMPLATES"
    return [TrainPrompt(t.format(topic=topic), "lookalike", source) for topic in topics for t in TOPIC_TEMPLATES]


def homonym_lookalikes() -> list[TrainPrompt]:
    """Method 2: the written requests of :data:`HOMONYM_REQUESTS`."""
    return [TrainPrompt(t, "lookalike", "alignkit.align.lookalikes.HOMONYM_REQUESTS") for t in HOMONYM_REQUESTS]


def lookalike_prompts(data: Path) -> list[TrainPrompt]:
    """Both methods' prompts."""
    return topic_lookalikes(data) + homonym_lookalikes()
