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

# Chosen by leave-one-set-out validation over the three blind sets the examples came from (each
# set in turn held out, the classifier trained on the other two; the screen's concepts were tuned
# on the first two only, so the third fold is the fair one): at 0.7, with the evidence rule in
# Screen.screen, the third set's recall went from 80.7% (concepts alone) to 92.9%, and questions
# on its ordinary messages were 2.3% (2.3% and 2.1% on the other folds). 0.5 asked 3.5-5.1%;
# 0.8 bought nothing more. docs/safety.md has the table.
DEFAULT_THRESHOLD = 0.7


@dataclass(frozen=True)
class Suspicion:
    flag_id: str
    probability: float


class SafetyClassifier:
    def __init__(self, model: Any, flag_model: Any, threshold: float) -> None:
        self._model = model
        self._flag_model = flag_model
        self.threshold = threshold

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
