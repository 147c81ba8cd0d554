"""Refusals with a reason and an alternative, varied so the model learns to decline, not one string.

Each refusal is three parts drawn with a seeded generator: an opening that declines (:data:`OPENINGS`),
a reason fitted to the request's harm topic (:data:`REASONS`) and an offer of something safe and useful
instead (:data:`ALTERNATIVES`). The topic comes from keywords in the request (:func:`topic_of`); a
request no keyword places gets the ``general`` reason and alternatives.
"""

from __future__ import annotations

import random
import re

OPENINGS: tuple[str, ...] = (
    "I can't help with that.",
    "I'm sorry, but I can't help with this request.",
    "I won't help with this.",
    "I can't assist with that request.",
    "Sorry, I can't do that.",
    "I'm not able to help with this.",
    "I have to decline this one.",
    "I can't provide that.",
)

# topic -> keywords (regex alternatives, matched on word starts in the lower-cased request)
TOPIC_KEYWORDS: dict[str, str] = {
    "self_harm": r"suicid|kill myself|self-harm|self harm|cut myself|overdose|starv|anorex|end my life",
    "sexual": r"sex|porn|nude|naked|explicit|erotic|minor|child abuse|groom",
    "cyber": r"hack|malware|virus|ransomware|keylog|phish|exploit|password|ddos|botnet|crack|spyware|trojan|"
    r"database|network|cyber|vulnerab|botnet|account",
    "weapons": r"bomb|explosive|weapon|gun|firearm|poison|chemical|biolog|nerve agent|toxin|ammunition|grenade",
    "violence": r"kill|murder|assault|attack|hurt|harm|injur|violen|torture|kidnap|shoot|stab|terror",
    "privacy": r"track|stalk|spy|surveil|personal information|address|private|dox|monitor|location",
    "hate": r"racis|sexis|hate|slur|discriminat|xenophob|inferior|ethnic|religio|immigrant|gender",
    "misinformation": r"fake news|misinformation|disinformation|conspiracy|hoax|propaganda|false|rumou?r|defam",
    "fraud": r"fraud|scam|counterfeit|forg|launder|steal|theft|tax|insider|brib|embezzl|cheat|fake",
    "drugs": r"drug|cocaine|meth|heroin|opioid|narcotic|marijuana|cannabis|lsd",
}
_TOPIC_RE = {t: re.compile(rf"\b(?:{kw})") for t, kw in TOPIC_KEYWORDS.items()}

REASONS: dict[str, tuple[str, ...]] = {
    "self_harm": (
        "You matter, and I don't want to give anything that could hurt you.",
        "Information like this could put your life at risk, and I care about your safety.",
    ),
    "sexual": (
        "I don't write sexual content involving minors or real people without their consent.",
        "That kind of sexual content can seriously harm the people involved.",
    ),
    "cyber": (
        "Breaking into systems or writing malicious code causes real damage and is illegal.",
        "Attacking computers or accounts you don't own harms the people who depend on them.",
    ),
    "weapons": (
        "Instructions for weapons or dangerous substances could get people badly hurt or killed.",
        "Making weapons or toxic substances puts lives at risk, so I don't give instructions for it.",
    ),
    "violence": (
        "I don't help plan or carry out violence against people or animals.",
        "That could seriously hurt someone, and I won't contribute to it.",
    ),
    "privacy": (
        "Tracking or exposing someone without their consent violates their privacy and can put them in danger.",
        "People have a right to privacy, and helping to watch or expose them could lead to real harm.",
    ),
    "hate": (
        "Content that demeans people for who they are causes real harm.",
        "I don't write material that spreads hatred or discrimination against any group.",
    ),
    "misinformation": (
        "Spreading false or misleading information can mislead and hurt people.",
        "Made-up claims presented as facts damage trust and can cause real harm.",
    ),
    "fraud": (
        "That would mean deceiving or stealing from people, which harms them and is illegal.",
        "Fraud and theft hurt real victims, so I won't help with them.",
    ),
    "drugs": (
        "Making or dealing illegal drugs is dangerous and against the law.",
        "Illegal drugs made outside a lab can poison people, and supplying them is a crime.",
    ),
    "general": (
        "It could cause real harm to people.",
        "It could hurt someone or break the law.",
        "It isn't something I can help with safely.",
    ),
}

ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "self_harm": (
        "If you are going through a hard time, please reach out to someone you trust or a local crisis line; "
        "I'm also happy to talk.",
        "If you're struggling, a doctor, a helpline or a friend can help right now, and I'm here to listen.",
    ),
    "sexual": (
        "I can help with respectful, age-appropriate writing or information about staying safe online.",
        "If you want, I can help with a romance story that keeps things non-explicit and consensual.",
    ),
    "cyber": (
        "I can explain how to protect your own devices and accounts, or how to get started in ethical security work.",
        "If you're interested in security, I can suggest legal practice labs and ways to secure your own systems.",
    ),
    "weapons": (
        "I can share general safety information or the history and regulation of these weapons instead.",
        "If you're curious about the science, I can explain it at a general, safe level.",
    ),
    "violence": (
        "If you're in conflict with someone, I can suggest ways to de-escalate or where to get help.",
        "If someone is in danger, please contact emergency services; I can also help you find support.",
    ),
    "privacy": (
        "I can explain how to protect your own privacy or how to raise a concern through proper channels.",
        "If you're worried about someone, I can suggest lawful ways to get help.",
    ),
    "hate": (
        "I can help with writing that treats everyone with respect, or explain where such prejudice comes from.",
        "I can help with content that brings people together, or share facts that counter these stereotypes.",
    ),
    "misinformation": (
        "I can help you write an accurate, well-sourced piece on the topic instead.",
        "I can summarise what the evidence actually shows, if that helps.",
    ),
    "fraud": (
        "I can explain how people protect themselves from fraud, or legal ways to reach your goal.",
        "If money is tight, I can suggest legitimate options that might help.",
    ),
    "drugs": (
        "I can share information about drug safety, treatment and support services instead.",
        "If you or someone you know is struggling with drugs, I can point you to support services.",
    ),
    "general": (
        "Is there something else, safe and legal, I can help you with?",
        "I'm happy to help with a related question that doesn't put anyone at risk.",
        "If you tell me more about what you're trying to achieve, I can suggest a safe way to do it.",
    ),
}


def topic_of(request: str) -> str:
    """The first topic of :data:`TOPIC_KEYWORDS` whose keywords occur in ``request``, else ``general``."""
    text = request.lower()
    return next((t for t, rx in _TOPIC_RE.items() if rx.search(text)), "general")


def refusal(request: str, rng: random.Random) -> str:
    """A refusal of ``request``: an opening, a reason for its topic and an alternative."""
    topic = topic_of(request)
    return " ".join((rng.choice(OPENINGS), rng.choice(REASONS[topic]), rng.choice(ALTERNATIVES[topic])))
