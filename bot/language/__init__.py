"""How the bot understands riders in their own words: normalisation (normalise.py), the
intents the features declare (intents.py) and the matcher that ranks them (matcher.py)."""

from bot.language.intents import Intent, IntentFileError, load
from bot.language.matcher import HIGH, MEDIUM, Match, Matcher, Ranking, build, current, install
from bot.language.normalise import basic, canonical

__all__ = ["HIGH", "MEDIUM", "Intent", "IntentFileError", "Match", "Matcher", "Ranking",
           "basic", "build", "canonical", "current", "install", "load"]
