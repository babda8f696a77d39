"""A learned second opinion for the red-flag screen: does this message sound like a red flag the
concepts did not find?

The concepts are precise but only know the words a reviewer wrote down; people describe the same
symptom in endless ways (the blind sets showed it: a screen tuned on one set missed a fifth of the
next). This classifier learns the *sound* of a red flag from the examples in
``knowledge/content/safety_examples.yaml`` and the flags' phrasings, against ordinary messages and
the faults' phrasings. It can only ask the screen's question, never stop coaching: a stop needs the
concepts (docs/safety.md). Character n-grams carry misspellings; it trains in about a second, so
every process trains it at start-up from the content it loaded.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from knowledge.safety.screen import normalise

# Chosen by leave-one-set-out validation over the four blind sets the examples came from (each
# set held out in turn, the classifier trained on the others; table in docs/safety_heldout.md):
# ask at 0.6 when the message names a symptom the concepts know, at 0.7 when it names only a
# place (back, leg). On the last two sets that gave recall 94.3% and 99.3% with 1.4% and 1.6%
# questions on ordinary messages; requiring a symptom always (no second threshold) gave 82% and
# 88%, and allowing any place at 0.7 asked 4% of ordinary messages on the fourth set's first run.
DEFAULT_THRESHOLD = 0.6
DEFAULT_SURE = 0.7
# Enough to back the conversation's own classifier (DIET) when it calls a message a red flag.
DEFAULT_AGREE = 0.4


@dataclass(frozen=True)
class Suspicion:
    flag_id: str
    probability: float


class SafetyClassifier:
    def __init__(self, model: Any, flag_model: Any, threshold: float, sure: float | None = None) -> None:
        self._model = model
        self._flag_model = flag_model
        self.threshold = threshold  # enough to ask when the message names a symptom
        self.sure = DEFAULT_SURE if sure is None else sure  # enough when it names only a place (back, leg)

    @classmethod
    def train(cls, red: Sequence[tuple[str, str]], ordinary: Sequence[str],
              threshold: float = DEFAULT_THRESHOLD) -> "SafetyClassifier":
        """``red``: (text, flag id) pairs; ``ordinary``: texts that are not red flags."""
        texts = [normalise(t) for t, _f in red] + [normalise(t) for t in ordinary]
        labels = [1] * len(red) + [0] * len(ordinary)
        model = _pipeline(class_weight="balanced")
        model.fit(texts, labels)
        flag_model = _pipeline()
        flag_model.fit([normalise(t) for t, _f in red], [f for _t, f in red])
        return cls(model, flag_model, threshold)

    @classmethod
    def from_content(cls, examples: Mapping[str, Any], flags: Iterable[Any], faults: Iterable[Any],
                     threshold: float = DEFAULT_THRESHOLD) -> "SafetyClassifier":
        """From the knowledge base: the examples document, the red flags' and the faults' phrasings."""
        red = [(str(e["text"]), str(e["flag"])) for e in examples.get("red") or ()]
        red += [(p, flag.id) for flag in flags for p in flag.phrasings]
        ordinary = [str(e["text"]) for e in examples.get("ordinary") or ()]
        ordinary += [p for fault in faults for p in fault.phrasings]
        return cls.train(red, ordinary, threshold)

    def probability(self, text: str) -> float:
        return float(self._model.predict_proba([normalise(text)])[0][1])

    def agrees(self, text: str) -> bool:
        """Whether this classifier backs another's suspicion of ``text`` (a lower bar than
        :meth:`suspect`: two opinions together)."""
        return self.probability(text) >= DEFAULT_AGREE

    def suspect(self, text: str) -> Suspicion | None:
        """The flag this message sounds like, when it sounds like one at all."""
        p = self.probability(text)
        if p < self.threshold:
            return None
        flag = str(self._flag_model.predict([normalise(text)])[0])
        return Suspicion(flag, round(p, 3))


def _pipeline(**kwargs: Any) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, make_pipeline

    features = FeatureUnion([
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
        ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"[a-z0-9']+")),
    ])
    return make_pipeline(features, LogisticRegression(C=10.0, max_iter=3000, **kwargs))
