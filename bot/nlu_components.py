"""Our Rasa NLU components. (The red-flag screen is not one of them: it runs in front of Rasa,
see bot/safety_gate.py, so that it sees every message before any form or classifier does.)"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from knowledge.english import normalise as singular_words



def normalise(text: str) -> str:
    # Phones send curly apostrophes and odd spacing; the patterns are written for plain lower case.
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"\s+", " ", text).strip()


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class KBItemClassifier(GraphComponent):
    """Names the knowledge-base item a message is about: which fault a report describes, which
    cue a "why" question means, which exercise a how-to asks for.

    Exact names are found by the entity ruler; people rarely use exact names ("my hips stay even
    on one leg"). This component learns from the generated training examples of one intent, each
    labelled with its item id (the ``entity`` value, or the example's metadata for fault reports),
    and adds an entity with that id and its probability. Character n-grams carry the typos.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"intent": None, "entity": None}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, model: Any = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext) -> "KBItemClassifier":
        return cls(config, model_storage, resource)

    def _label(self, example: Message) -> Optional[str]:
        entity = self._config["entity"]
        label = ((example.get("metadata") or {}).get("example") or {}).get(entity)
        if label:
            return str(label)
        for item in example.get(ENTITIES) or []:
            if item.get("entity") == entity:
                return str(item.get("value"))
        return None

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, make_pipeline

        texts: List[str] = []
        labels: List[str] = []
        for example in training_data.intent_examples:
            if example.get(INTENT) != self._config["intent"]:
                continue
            label = self._label(example)
            if label:
                texts.append(normalise(example.get(TEXT) or ""))
                labels.append(label)
        if len(set(labels)) >= 2:
            features = FeatureUnion([
                ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1)),
                ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"[a-z0-9']+")),
            ])
            self._model = make_pipeline(features, LogisticRegression(C=20.0, max_iter=3000))
            self._model.fit(texts, labels)
        import pickle

        with self._model_storage.write_to(self._resource) as directory:
            (directory / "kb_item_classifier.pkl").write_bytes(pickle.dumps(self._model))
        return self._resource

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext, **kwargs: Any) -> "KBItemClassifier":
        import pickle

        with model_storage.read_from(resource) as directory:
            model = pickle.loads((directory / "kb_item_classifier.pkl").read_bytes())
        return cls(config, model_storage, resource, model)

    def process(self, messages: List[Message]) -> List[Message]:
        if self._model is None:
            return messages
        for message in messages:
            intent = (message.get(INTENT) or {}).get("name")
            text = message.get(TEXT) or ""
            if intent != self._config["intent"] or text.startswith("/"):
                continue
            probabilities = self._model.predict_proba([normalise(text)])[0]
            best = int(probabilities.argmax())
            entities = list(message.get(ENTITIES) or [])
            entities.append({
                "entity": self._config["entity"],
                "value": str(self._model.classes_[best]),
                "confidence": round(float(probabilities[best]), 4),
                "extractor": "KBItemClassifier",
            })
            message.set(ENTITIES, entities, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


# DIET's intents a named lift or activity may turn into a pre-workout request. Not the answers to
# a question (affirm, deny), the red flag, the other exercise questions or the session's own words.
# A "why" question only when it asks for a lift's cues, a warm-up or the technique.
REROUTABLE = frozenset({"report_fault", "ask_howto", "ask_why_cue", "out_of_scope", "inform", "report_soreness", "report_pain",
                        "start_session", "greet", "help", "thanks"})
# Never rerouted, however unsure DIET is: the red flag (the safety gate weighs DIET's suspicion),
# answers to a question, and the data requests.
NEVER_REROUTED = frozenset({"red_flag", "affirm", "deny", "delete_data", "delete_confirm", "export_data"})
# Where a complaint DIET read as a pre-workout request goes instead: the best of these in its ranking.
DEMOTED_TO = ("report_fault", "ask_why_cue", "ask_howto", "report_soreness")
# The confidence a rerouted message carries: above the FallbackClassifier's threshold, since the
# request was recognised by the words themselves.
REROUTED_CONFIDENCE = 0.9


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class PreWorkoutRequest(GraphComponent, IntentClassifier):
    """Turns a message that names a lift or activity and asks for a warm-up or the lift's cues, or
    says the workout is ahead, into ``pre_workout`` when DIET read it as something else ("bulgarians
    next, how do i make them more glute?" is not a fault report). The decision is
    :func:`knowledge.primer.reads_as_pre_workout`; the names are learnt from the generated
    pre-workout examples (each annotated with its name and labelled with its activity), so they
    come from the knowledge base like every other name. The other way round, a complaint or a "why"
    DIET took for a pre-workout request ("hamstrings r doing everything in hip thrusts") goes to
    the fault, cue or how-to answer next in DIET's ranking (:func:`knowledge.primer.only_complains`).
    Goes before the knowledge-base classifiers, which then name the activity, fault or cue."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # Below this DIET is unsure (the FallbackClassifier's threshold): then any intent but
        # NEVER_REROUTED may be rerouted, since the alternative is "Sorry, I didn't get that".
        return {"unsure_below": 0.45}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 names: Optional[List[str]] = None) -> None:
        self._unsure_below = float({**self.get_default_config(), **config}["unsure_below"])
        self._model_storage = model_storage
        self._resource = resource
        self._set_names(names or [])

    def _set_names(self, names: List[str]) -> None:
        # Singular words, as the knowledge base matches names ("grocery bags" finds "one grocery bag").
        self._names = sorted({singular_words(n) for n in names} - {""}, key=len, reverse=True)  # longest first
        self._pattern = (re.compile(r"(?<![a-z0-9])(?:" + "|".join(re.escape(n) for n in self._names) + r")(?![a-z0-9])")
                         if self._names else None)

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "PreWorkoutRequest":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        names: set[str] = set()
        for example in training_data.intent_examples:
            if example.get(INTENT) != "pre_workout":
                continue
            text = example.get(TEXT) or ""
            for entity in example.get(ENTITIES) or []:
                if "start" in entity and "end" in entity:
                    names.add(normalise(text[entity["start"]:entity["end"]]))
        with self._model_storage.write_to(self._resource) as directory:
            (directory / "activity_names.json").write_text(json.dumps(sorted(names)), encoding="utf-8")
        self._set_names(sorted(names))
        return self._resource

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "PreWorkoutRequest":
        with model_storage.read_from(resource) as directory:
            names = json.loads((directory / "activity_names.json").read_text(encoding="utf-8"))
        return cls(config, model_storage, resource, names)

    def names_an_activity(self, text: str) -> bool:
        return bool(self._pattern and self._pattern.search(singular_words(text)))

    def process(self, messages: List[Message]) -> List[Message]:
        from knowledge.primer import asks_for_cues, asks_for_warm_up, only_complains, reads_as_pre_workout

        for message in messages:
            intent = dict(message.get(INTENT) or {})
            text = message.get(TEXT) or ""
            name, confidence = intent.get("name"), float(intent.get("confidence") or 0.0)
            if text.startswith("/") or name in NEVER_REROUTED:
                continue
            if name == "pre_workout":
                # A complaint or a "why" DIET took for a request goes to the fault or cue answer.
                ranking = message.get(INTENT_RANKING_KEY) or []
                instead = next((r["name"] for r in ranking if r.get("name") in DEMOTED_TO), None)
                if instead and only_complains(text):
                    self._swap(message, "pre_workout", instead, confidence)
                continue
            if not (name in REROUTABLE or confidence < self._unsure_below):
                continue
            if name == "ask_why_cue" and not asks_for_cues(text):
                continue  # "why push through the heel on step-ups?" is the why of a cue
            named = self.names_an_activity(text)
            if reads_as_pre_workout(text, named, name) or (not named and confidence < self._unsure_below
                                                           and asks_for_warm_up(text)):
                # Unsure, and a warm-up asked for without a name we know: the activity menu
                # ("What are you about to do?") helps more than "Sorry, I didn't get that".
                self._swap(message, name, "pre_workout", max(confidence, REROUTED_CONFIDENCE))
        return messages

    @staticmethod
    def _swap(message: Message, old: str, new: str, confidence: float) -> None:
        """``new`` becomes the intent with ``confidence``; ``old`` takes ``new``'s confidence in the
        ranking, so that the FallbackClassifier does not read the two as a tie."""
        ranking = list(message.get(INTENT_RANKING_KEY) or [])
        before = next((float(r.get("confidence") or 0.0) for r in ranking if r.get("name") == new), 0.0)
        others = [{**r, "confidence": before} if r.get("name") == old else r for r in ranking if r.get("name") != new]
        others.sort(key=lambda r: -float(r.get("confidence") or 0.0))
        message.set(INTENT, {"name": new, "confidence": confidence, "rerouted_from": old}, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [{"name": new, "confidence": confidence}, *others], add_to_output=True)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
