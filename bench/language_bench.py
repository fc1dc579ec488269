"""Understanding riders' own words: what matching adds per message, and what it costs at
start-up (bot/language).

    .venv/bin/python bench/language_bench.py [--rounds 20]

Every phrasing of tests/corpus/phrases.yaml (about 350: short, typos, traditional
characters, pinyin, emoji, problems described in a sentence) is normalised and ranked, in
rounds, with the normalisation cache cleared before each round so no message is a cache
hit. Beside it, in the same run: `basic()`, the normalisation every word filter does for
every message (matching only runs for the messages no word took). Start-up: building the
matcher from the intent files (our own small jieba vocabulary), beside jieba's default
dictionary load, which the matcher avoids. `bench/run.py` prints the median with the
callback figures (issue 16: under 1 ms per message).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGET_US = 1000.0


def corpus() -> list[str]:
    data = yaml.safe_load((ROOT / "tests" / "corpus" / "phrases.yaml").read_text("utf-8"))
    return [str(t) for part in data.values() for texts in part.values() for t in texts]


def _timed(fn, texts: list[str], rounds: int, before=None) -> list[float]:  # type: ignore[no-untyped-def]
    samples: list[float] = []
    for _ in range(rounds):
        if before:
            before()
        gc.collect()  # a collection inside a round is the machine's noise, not matching's
        for t in texts:
            start = time.perf_counter_ns()
            fn(t)
            samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


def measure(rounds: int = 20) -> dict[str, float]:
    """Medians and p99 in µs per message, and start-up seconds."""
    started = time.perf_counter()
    import handlers
    from bot.language import basic, canonical
    from bot.language.intents import load
    from bot.language.matcher import Matcher

    features = handlers.install()
    imported = time.perf_counter() - started
    t0 = time.perf_counter()
    matcher = Matcher(load(features.intents))
    build_s = time.perf_counter() - t0

    texts = corpus()
    matcher.rank("预热")  # first call: pypinyin's and rapidfuzz's lazy parts
    def cold() -> None:  # every message as if seen for the first time
        canonical.cache_clear()
        basic.cache_clear()

    ranked = _timed(matcher.rank, texts, rounds, before=cold)
    base = _timed(basic, texts, rounds, before=basic.cache_clear)

    import jieba
    jieba.setLogLevel(60)
    t0 = time.perf_counter()
    jieba.Tokenizer().initialize()
    jieba_default_s = time.perf_counter() - t0
    return {
        "messages": float(len(texts)),
        "rank_p50_us": statistics.median(ranked),
        "rank_p99_us": statistics.quantiles(ranked, n=100)[98],
        "basic_p50_us": statistics.median(base),
        "matcher_build_s": build_s,
        "imports_s": imported,
        "jieba_default_dict_s": jieba_default_s,
    }


def summary(m: dict[str, float]) -> str:
    return (f"intent matching ({m['messages']:.0f} corpus phrasings, cache cleared): "
            f"median {m['rank_p50_us']:.0f} µs, p99 {m['rank_p99_us']:.0f} µs per message "
            f"({m['rank_p50_us'] / BUDGET_US:.2f} of the 1 ms budget; basic() alone "
            f"{m['basic_p50_us']:.1f} µs); start-up: matcher {m['matcher_build_s']:.2f} s "
            f"(jieba's default dictionary, not used, would take {m['jieba_default_dict_s']:.2f} s)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--json", action="store_true", help="the figures as JSON (bench/run.py)")
    args = p.parse_args()
    m = measure(args.rounds)
    if args.json:
        print(json.dumps(m))
        return 0
    print(summary(m))
    ok = m["rank_p50_us"] < BUDGET_US
    print(f"{'✅' if ok else '❌'} median matching < 1 ms per message")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
