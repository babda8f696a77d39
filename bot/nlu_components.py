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
