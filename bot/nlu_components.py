"""A Rasa NLU component that puts the knowledge base's red-flag screen in front of everything.

Red-flag symptoms must stop coaching in any state of the conversation, whatever the classifier
thinks. The screen's patterns come from the knowledge base at training time and are stored in the
model, so the deployed model and its screen always match. A message that matches becomes intent
``red_flag`` with confidence 1.0 and gets a ``red_flag`` entity naming the flag.
"""
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

RED_FLAG_INTENT = "red_flag"
PATTERNS_FILE = "red_flag_screen.json"


def normalise(text: str) -> str:
    # Phones send curly apostrophes and odd spacing; the patterns are written for plain lower case.
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"\s+", " ", text).strip()


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class RedFlagScreen(GraphComponent, IntentClassifier):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        patterns: Optional[Dict[str, List[str]]] = None,
    ) -> None:
        self._model_storage = model_storage
        self._resource = resource
        self._patterns = patterns or {}
        self._compiled = [
            (flag_id, re.compile(pattern)) for flag_id, items in self._patterns.items() for pattern in items
        ]

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "RedFlagScreen":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        from knowledge.db import get_engine
        from knowledge.queries import KnowledgeBase

        kb = KnowledgeBase.load(get_engine())
        self._patterns = {flag.id: list(flag.screen) for flag in kb.red_flags()}
        with self._model_storage.write_to(self._resource) as directory:
            (directory / PATTERNS_FILE).write_text(json.dumps(self._patterns), encoding="utf-8")
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "RedFlagScreen":
        with model_storage.read_from(resource) as directory:
            patterns = json.loads((directory / PATTERNS_FILE).read_text(encoding="utf-8"))
        return cls(config, model_storage, resource, patterns)

    def matches(self, text: str) -> List[str]:
        text = normalise(text)
        found: List[str] = []
        for flag_id, regex in self._compiled:
            if flag_id not in found and regex.search(text):
                found.append(flag_id)
        return found

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if text.startswith("/"):
                continue  # a button payload or command, not the user's own words
            flags = self.matches(text)
            if not flags:
                continue
            intent = {"name": RED_FLAG_INTENT, "confidence": 1.0}
            message.set(INTENT, intent, add_to_output=True)
            ranking = [intent] + [
                r for r in (message.get(INTENT_RANKING_KEY) or []) if r.get("name") != RED_FLAG_INTENT
            ]
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
            entities = [e for e in (message.get(ENTITIES) or []) if e.get("entity") != "red_flag"]
            entities += [{"entity": "red_flag", "value": f, "extractor": "RedFlagScreen"} for f in flags]
            message.set(ENTITIES, entities, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
