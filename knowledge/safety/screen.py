"""The red-flag screen: symptom concepts, their modifiers, and per flag the combinations that
stop coaching ("clear") or earn one direct yes/no question ("possible").

Everything a reviewer may change lives in ``knowledge/content/safety_screen.yaml``; this module
only applies it. The design is in docs/safety.md. A classifier never raises a red flag here on
its own: its suspicion can only turn concept evidence into a question (see :meth:`Screen.screen`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

CONTENT_FILE = Path(__file__).resolve().parent.parent / "content" / "safety_screen.yaml"
MODIFIERS = ("negation", "time", "cause", "other", "simile")
# A reviewer may name more causes under ``modifiers.causes`` ("heat": a heatwave explains night
# sweats); a concept lists the ones it listens to in ``cancelled_by`` like the built-in ones.


def modifier_names(document: Mapping[str, Any]) -> tuple[str, ...]:
    """The modifiers a concept may list in ``cancelled_by``: the built-in ones and the named
    causes of this document (one definition for the screen and for ``kb validate``)."""
    return (*MODIFIERS, *((document.get("modifiers") or {}).get("causes") or {}))


SIMILE_WINDOW = 8  # words before a term in which "like a" / "as if" makes it a comparison
# Concepts that only qualify another (how long, how often, why): alone they are no evidence.
CONTEXT_ONLY = frozenset({"deliberate", "over_fifty", "repeated", "lasting", "unexplained", "new_pain"})
# Too common to let the classifier ask on its own: every pain score names pain.
WEAK_PRESENCE = frozenset({"pain"})
NONE, CLEAR, POSSIBLE = "none", "clear", "possible"
FUZZY_MIN_LENGTH = 5  # vocabulary words this long or longer; message words one letter shorter

_TOKEN = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?|[^\sa-z0-9]")
_SENTENCE_SPLIT = re.compile(r"[.!?;\n]+|\b(?:but|however|also|btw|fyi|ps|oh and|anyway|plus)\b")
_FULL_STOP = re.compile(r"[.!?;\n]")
_CLAUSE_SPLIT = re.compile(r",|\band then\b|\bthen\b|\bnow\b")
_DONE_TO_ME = re.compile(r"\s*(me|myself)\b")
_DONE_TO_ME_IN = re.compile(r"\b(me|myself)$")
_CHILD = re.compile(r"\bmy (\d+ ?(yo|y o|yr old|year old|month old|months old|years old)|\d+yo|little one|youngest|eldest|oldest|middle one)\b")


def normalise(text: str) -> str:
    """Lower case, straight quotes, single spaces: what every term is written against."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    return re.sub(r"\s+", " ", text).strip()


def term_regex(term: str) -> str:
    """The regular expression of one term (syntax in the content file's header)."""
    if term.startswith("re:"):
        return term[3:]
    parts = []
    for word in term.split():
        prefix = word.endswith("*")
        word = word.rstrip("*")
        body = re.escape(word).replace("'", "'?")
        parts.append(body + (r"\w*" if prefix else ""))
    start = r"\b" if re.match(r"\w", term) else ""
    end = r"\b" if re.search(r"[\w*]$", term) else ""
    return start + r"\s+".join(parts) + end


@dataclass(frozen=True)
class Hit:
    concept: str
    start: int  # character offsets in the normalised text
    end: int
    token: int  # index of the first word


@dataclass(frozen=True)
class ScreenResult:
    outcome: str  # none | clear | possible
    flag_id: str | None = None
    concepts: tuple[str, ...] = ()
    question: str | None = None
    reason: str = ""  # which rule, for the log and the tests (never the message text)

    @property
    def clear(self) -> bool:
        return self.outcome == CLEAR

    @property
    def possible(self) -> bool:
        return self.outcome == POSSIBLE


@dataclass
class _Concept:
    id: str
    cancelled_by: frozenset[str]
    patterns: list[re.Pattern[str]]


@dataclass
class _Rule:
    concepts: tuple[str, ...]
    within: int | None = None
    unless: tuple[str, ...] = ()  # the rule does not hold when one of these is present

    def text(self) -> str:
        return "+".join(self.concepts) + (f" within {self.within}" if self.within else "")


@dataclass
class _Flag:
    id: str
    clear: list[_Rule]
    possible: list[_Rule]
    question: str
    not_if: dict[str, str] = field(default_factory=dict)


class Screen:
    """The screen built from the content document (the parsed ``safety_screen.yaml``)."""

    def __init__(self, document: Mapping[str, Any], classifier: Any = None) -> None:
        self.document = document
        self.classifier = classifier  # knowledge.safety.classifier.SafetyClassifier, or None
        mods = document.get("modifiers") or {}
        self._negation = _phrases(mods.get("negation") or [])
        self._negation_after = [re.compile(term_regex(t)) for t in mods.get("negation_after") or []]
        self._pseudo = _phrases(mods.get("pseudo_negation") or [])
        self._scope_end = {normalise(w) for w in mods.get("scope_end") or []}
        self._time = [re.compile(term_regex(t)) for t in mods.get("time") or []]
        self._cause = [re.compile(term_regex(t)) for t in mods.get("cause") or []]
        self._other = _phrases(mods.get("other") or [])
        self._first_person = {normalise(w) for w in mods.get("first_person") or []}
        self._proxy = [re.compile(term_regex(t)) for t in mods.get("proxy") or []]
        self._simile = [re.compile(term_regex(t)) for t in mods.get("simile") or []]
        self._causes: dict[str, list[re.Pattern[str]]] = {}
        self._message_wide: set[str] = set()  # causes that explain the concept anywhere in the message
        for name, spec in (mods.get("causes") or {}).items():
            terms = spec.get("terms") if isinstance(spec, Mapping) else spec
            if isinstance(spec, Mapping) and spec.get("scope") == "message":
                self._message_wide.add(name)
            self._causes[name] = [re.compile(term_regex(t)) for t in terms or []]
        # Symptoms urgent whoever has them: said of someone else ("her leg keeps giving way"),
        # they cannot stop the writer's coaching but earn the flag's question.
        self._acute_for_anyone = frozenset(document.get("acute_for_anyone") or [])
        self.concepts: dict[str, _Concept] = {}
        known_modifiers = set(modifier_names(document))
        for item in document.get("concepts") or []:
            unknown = set(item.get("cancelled_by") or []) - known_modifiers
            if unknown:  # a modifier the screen would silently never apply: refuse the document
                raise ValueError(f"safety screen concept '{item['id']}': unknown modifier(s) {sorted(unknown)}")
            self.concepts[item["id"]] = _Concept(
                id=item["id"],
                cancelled_by=frozenset(item.get("cancelled_by") or []),
                patterns=[re.compile(term_regex(t)) for t in item.get("terms") or []],
            )
        self.flags: dict[str, _Flag] = {}
        for flag_id, spec in (document.get("flags") or {}).items():
            self.flags[flag_id] = _Flag(
                id=flag_id,
                clear=[_rule(r) for r in spec.get("clear") or []],
                possible=[_rule(r) for r in spec.get("possible") or []],
                question=spec.get("question") or "",
                not_if=dict(spec.get("not_if") or {}),
            )
        self._vocabulary = sorted({
            word for item in document.get("concepts") or [] for term in item.get("terms") or []
            if not term.startswith("re:") for word in term.rstrip("*").split()
            if len(word) >= FUZZY_MIN_LENGTH and word.isalpha() and not term.endswith("*")
        } | {w for w in document.get("spelling") or [] if len(w) >= FUZZY_MIN_LENGTH - 1})
        self._classifier_evidence = frozenset(document.get("classifier_evidence") or [])
        clearance = document.get("clearance") or {}
        self._clear_who = [re.compile(term_regex(t)) for t in clearance.get("who") or []]
        self._clear_outcome = [re.compile(term_regex(t)) for t in clearance.get("outcome") or []]
        confirm = document.get("confirm") or {}
        self._yes = {normalise(t) for t in confirm.get("affirm") or []}
        self._no = {normalise(t) for t in confirm.get("deny") or []}

    # -- the screen ------------------------------------------------------------------------------
    def screen(self, text: str, classifier_flag: str | None = None) -> ScreenResult:
        """What ``text`` says about red flags. ``classifier_flag`` is the flag a classifier
        suspects (or None): it can turn concept evidence into a question, never into a stop,
        and never raise anything on its own."""
        original = normalise(text)
        corrected = self.correct(original)
        hits = self.hits(original)
        if corrected != original:
            hits |= self.hits(corrected)
        present = {h.concept for h in hits}
        for outcome, attr in ((CLEAR, "clear"), (POSSIBLE, "possible")):
            for flag in self.flags.values():
                blocked = {c for c, blocker in flag.not_if.items() if blocker in present}
                for rule in getattr(flag, attr):
                    if blocked & set(rule.concepts):
                        continue
                    if self._rule_holds(rule, hits):
                        return ScreenResult(outcome, flag.id, tuple(sorted(present)),
                                            flag.question if outcome == POSSIBLE else None,
                                            f"{flag.id}:{attr}:{rule.text()}")
        # Said of someone else: only worth a second pass when such a symptom is named at all
        # (most messages name none; the pass costs as much as the first).
        if self._acute_for_anyone and self._mentions(original, self._acute_for_anyone):
            theirs = {h for h in self.hits(original, about_others=True) if h.concept in self._acute_for_anyone}
            if theirs - hits:
                combined = hits | theirs
                for flag in self.flags.values():
                    if any(self._rule_holds(rule, combined) for rule in flag.clear):
                        return ScreenResult(POSSIBLE, flag.id, tuple(sorted({h.concept for h in combined})),
                                            flag.question, f"{flag.id}:someone else")
        # A concept a flag's `not_if` set aside (a weight loss that was deliberate) is no
        # evidence for a classifier either.
        blocked = {c for flag in self.flags.values() for c, blocker in flag.not_if.items() if blocker in present}
        symptoms = (present - blocked) & self._classifier_evidence
        # The conversation's classifier (DIET) suspecting a red flag is weak evidence: it asks
        # only when the screen's own classifier leans the same way (docs/safety_heldout.md: on
        # the fifth blind set it added no red flag and six questions on ordinary talk alone).
        if (classifier_flag and classifier_flag in self.flags and symptoms
                and (self.classifier is None or self.classifier.agrees(text))):
            flag = self.flags[classifier_flag]
            return ScreenResult(POSSIBLE, flag.id, tuple(sorted(present)), flag.question,
                                f"{flag.id}:classifier+{'+'.join(sorted(symptoms))}")
        # The learned second opinion: it may only ask, and only about a message that names a
        # symptom the concepts know (uncancelled: not "fell off a horse when i was 19"); a back
        # ache after painting the ceiling is not enough.
        if self.classifier is not None and present - blocked - CONTEXT_ONLY - WEAK_PRESENCE:
            suspicion = self.classifier.suspect(text)
            sure_enough = suspicion is not None and (bool(symptoms) or suspicion.probability >= self.classifier.sure)
            if suspicion is not None and sure_enough and suspicion.flag_id in self.flags:
                flag = self.flags[suspicion.flag_id]
                return ScreenResult(POSSIBLE, flag.id, tuple(sorted(present)), flag.question,
                                    f"{flag.id}:examples {suspicion.probability}")
        return ScreenResult(NONE, concepts=tuple(sorted(present)))

    def _rule_holds(self, rule: _Rule, hits: set[Hit]) -> bool:
        by_concept: dict[str, list[Hit]] = {}
        for hit in hits:
            by_concept.setdefault(hit.concept, []).append(hit)
        if any(c not in by_concept for c in rule.concepts) or any(c in by_concept for c in rule.unless):
            return False
        if rule.within is None or len(rule.concepts) < 2:
            return True
        first, second = rule.concepts[0], rule.concepts[1]
        return any(abs(a.token - b.token) <= rule.within for a in by_concept[first] for b in by_concept[second])

    def _mentions(self, text: str, concept_ids: frozenset[str] | set[str]) -> bool:
        """Whether any term of these concepts occurs in ``text``, cancelled or not."""
        return any(p.search(text) for c in concept_ids if c in self.concepts for p in self.concepts[c].patterns)

    def hits(self, text: str, about_others: bool = False) -> set[Hit]:
        """Every concept occurrence in normalised ``text`` that no modifier cancels (with
        ``about_others``, occurrences said of someone else count as well)."""
        found: set[Hit] = set()
        starts = _token_starts(text)
        by_proxy = any(p.search(text) for p in self._proxy)  # "he" is the user
        sentences = _spans(text, _SENTENCE_SPLIT)
        for concept in self.concepts.values():
            for pattern in concept.patterns:
                for match in pattern.finditer(text):
                    if match.end() == match.start():
                        continue
                    if self._cancelled(concept, text, match.start(), match.end(), sentences, by_proxy or about_others):
                        continue
                    found.add(Hit(concept.id, match.start(), match.end(), _token_index(starts, match.start())))
        return found

    def _cancelled(self, concept: _Concept, text: str, start: int, end: int, sentences: list[tuple[int, int]],
                   by_proxy: bool = False) -> bool:
        s_start, s_end = next(((a, b) for a, b in sentences if a <= start < b), (0, len(text)))
        sentence = text[s_start:s_end]
        clauses = _spans(sentence, _CLAUSE_SPLIT)
        here = start - s_start
        c_start, c_end = next(((a, b) for a, b in clauses if a <= here < b), (0, len(sentence)))
        clause_before = sentence[c_start:here]
        if "negation" in concept.cancelled_by and self._negated(clause_before, sentence[end - s_start:c_end]):
            return True
        # "someone rear-ended me", "a car knocked me off my bike": the person is the one it befell.
        done_to_me = _DONE_TO_ME.match(text, end) is not None or _DONE_TO_ME_IN.search(text[start:end]) is not None
        if ("other" in concept.cancelled_by and not by_proxy and not done_to_me
                and self._about_someone_else(sentence[:here])):
            return True
        # Time and cause: said in this clause, or later in the same sentence, "but" included,
        # looking back on it ("went numb sitting cross-legged, gone now", "legs weak but its just
        # doms"); not in an earlier one.
        full_end = next((m.start() for m in _FULL_STOP.finditer(text, start)), len(text))
        scope = sentence[c_start:] + " " + text[s_end:full_end]
        if "time" in concept.cancelled_by and any(p.search(scope) for p in self._time):
            return True
        if "cause" in concept.cancelled_by and any(self._stated(p, scope) for p in self._cause):
            return True
        for name in concept.cancelled_by & self._causes.keys():
            where = text if name in self._message_wide else scope
            if any(self._stated(p, where) for p in self._causes[name]):
                return True
        if "simile" in concept.cancelled_by:
            window = " ".join(_words(clause_before)[-SIMILE_WINDOW:])
            if any(p.search(window) for p in self._simile):
                return True
        return False

    def _stated(self, pattern: re.Pattern[str], scope: str) -> bool:
        """``pattern`` occurs in ``scope`` and is not itself denied ("not leg day jelly", "not
        like pins and needles from sitting")."""
        for match in pattern.finditer(scope):
            before = _words(scope[:match.start()])[-5:]
            if not any(w in ("not", "no", "isn't", "isnt", "wasn't", "nothing", "never") for w in before):
                return True
        return False

    def _negated(self, before: str, after: str) -> bool:
        if any(p.search(after) for p in self._negation_after) and not _starts_with_any(after, self._pseudo):
            return True
        words = _words(before)
        # A negation cue up to three words before the term, with no scope end between them.
        window: list[str] = []
        for word in reversed(words):
            if word in self._scope_end:
                break
            window.insert(0, word)
            if len(window) >= 4:
                break
        phrase = " ".join(window)
        cleaned = phrase
        for pseudo in self._pseudo:
            cleaned = re.sub(rf"\b{re.escape(pseudo)}\b", " ", cleaned)
        return any(re.search(rf"(^|\s){re.escape(cue)}($|\s)", cleaned) for cue in self._negation)

    def _about_someone_else(self, before: str) -> bool:
        words = _words(before.replace("'s ", " "))[-10:]
        joined = " ".join(words)
        # "my 3yo has a fever", "my 10 year old", "my youngest": a child of the writer's
        joined = _CHILD.sub(" my kid ", joined)
        for person in self._other:
            for match in re.finditer(rf"(^|\s){re.escape(person)}(?=$|\s)", joined):
                rest = joined[match.end():].split()
                if not any(w in self._first_person for w in rest):
                    return True
        return False

    # -- spelling towards the screen's own words ---------------------------------------------------
    def correct(self, text: str) -> str:
        """``text`` with misspelled words replaced by the screen word one or two edits away
        ("numbess" → numbness, "bladdr" → bladder). A word English knows is never changed
        ("weeding" stays weeding): symspellpy's English frequency dictionary says which."""
        speller, english = _speller(tuple(self._vocabulary))
        if speller is None:
            return text
        from symspellpy import Verbosity

        def fix(match: re.Match[str]) -> str:
            word = match.group(0)
            if len(word) < FUZZY_MIN_LENGTH - 1 or word in english or word + "g" in english:
                return word  # a word, or one with its g dropped ("chillin", "doin")
            # One edit only: two turned "shoveling" (a word the dictionary lacks) into "shivering".
            found = speller.lookup(word, Verbosity.TOP, max_edit_distance=1)
            return found[0].term if found else word

        return re.sub(r"[a-z]+", fix, text)

    # -- answers to the screen's own questions ------------------------------------------------------
    def yes_no(self, text: str) -> bool | None:
        """True for a yes, False for a no, None for anything else."""
        said = normalise(text).strip(" .!?,")
        said = re.sub(r"[\s.!?,]+$", "", said)
        if said in self._no or (re.match(r"(no|nope|nah|never|not really|not at all)\b", said)
                                and not re.match(r"no (idea|clue|worries|problem)|not sure", said)):
            return False
        if said in self._yes or re.match(r"(yes|yeah|yep|yup|yea|ya|yah|aye|sadly yes)\b", said):
            return True
        return None

    def says_checked(self, text: str) -> bool:
        """The person says a doctor has checked them ("a doctor checked me, all clear")."""
        said = normalise(text)
        return any(p.search(said) for p in self._clear_who) and any(p.search(said) for p in self._clear_outcome)

    def text(self, key: str, default: str = "") -> str:
        parts = key.split(".")
        value: Any = self.document
        for part in parts:
            value = value.get(part) if isinstance(value, Mapping) else None
        return str(value) if value is not None else default

    def question(self, flag_id: str) -> str:
        return self.flags[flag_id].question


def check_document(data: Mapping[str, Any], flag_ids: Iterable[str] = (),
                   ordinary: Iterable[str] = ()) -> list[tuple[tuple[Any, ...], str]]:
    """Problems of a screen document, each as (path in the document, message): unknown concepts
    in rules, unknown modifiers or flags, terms that are not valid regular expressions, missing
    questions, and a screen that stops or asks on one of the ``ordinary`` sentences. ``kb
    validate`` reports them with file and line."""
    problems: list[tuple[tuple[Any, ...], str]] = []
    concepts = data.get("concepts") or []
    modifiers = modifier_names(data)
    known = set()
    for index, item in enumerate(concepts):
        if not isinstance(item, Mapping) or not item.get("id"):
            problems.append((("concepts", index), "a concept needs an id"))
            continue
        if item["id"] in known:
            problems.append((("concepts", index, "id"), f"concept '{item['id']}' is defined twice"))
        known.add(item["id"])
        for modifier in item.get("cancelled_by") or []:
            if modifier not in modifiers:
                problems.append((("concepts", index, "cancelled_by"), f"concept '{item['id']}': unknown modifier '{modifier}' (one of {', '.join(modifiers)})"))
        if not item.get("terms"):
            problems.append((("concepts", index), f"concept '{item['id']}' has no terms"))
        for t_index, term in enumerate(item.get("terms") or []):
            try:
                re.compile(term_regex(str(term)))
            except re.error as exc:
                problems.append((("concepts", index, "terms", t_index), f"concept '{item['id']}': term is not a valid pattern ({exc})"))
    wanted = set(flag_ids)
    flags = data.get("flags") or {}
    for flag_id, spec in flags.items():
        if wanted and flag_id not in wanted:
            problems.append((("flags", flag_id), f"unknown red flag '{flag_id}'"))
        if not (spec or {}).get("question"):
            problems.append((("flags", flag_id), f"red flag '{flag_id}' needs a yes/no question"))
        if not (spec or {}).get("clear"):
            problems.append((("flags", flag_id), f"red flag '{flag_id}' needs at least one clear rule"))
        for kind in ("clear", "possible"):
            for r_index, rule in enumerate((spec or {}).get(kind) or []):
                for concept in [*((rule or {}).get("all") or []), *((rule or {}).get("unless") or [])]:
                    if concept not in known:
                        problems.append((("flags", flag_id, kind, r_index), f"red flag '{flag_id}': unknown concept '{concept}'"))
    for flag_id in sorted(wanted - set(flags)):
        problems.append(((), f"red flag '{flag_id}' has no screen rules"))
    for key in ("classifier_evidence", "acute_for_anyone"):
        for index, concept in enumerate(data.get(key) or []):
            if concept not in known:
                problems.append(((key, index), f"{key}: unknown concept '{concept}'"))
    for key in ("paused_reply", "clearance", "confirm"):
        if not data.get(key):
            problems.append(((), f"'{key}' is missing"))
    if not problems:
        screen = Screen(data)
        for sentence in ordinary:
            result = screen.screen(sentence)
            if result.outcome != NONE:
                problems.append((("flags", result.flag_id or ""), f"the screen {'stops' if result.clear else 'asks'} on ordinary training talk \"{sentence}\" ({result.reason})"))
    return problems


def thaw(value: Any) -> Any:
    """Plain dicts and lists from the knowledge base's read-only views of a document."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


@lru_cache(maxsize=4)
def _speller(vocabulary: tuple[str, ...]) -> tuple[Any, frozenset[str]]:
    """A SymSpell index of the screen's words, and the English words that are never corrected."""
    if not vocabulary:
        return None, frozenset()
    from symspellpy import SymSpell

    from knowledge.english import english_words

    speller = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
    for word in vocabulary:
        speller.create_dictionary_entry(word, 1)
    return speller, english_words() - set(vocabulary)


def _rule(spec: Mapping[str, Any]) -> _Rule:
    return _Rule(tuple(spec.get("all") or ()), spec.get("within"), tuple(spec.get("unless") or ()))


def _phrases(items: Iterable[str]) -> list[str]:
    return sorted({normalise(i) for i in items}, key=len, reverse=True)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9&]+(?:'[a-z]+)?", text)


def _starts_with_any(text: str, phrases: list[str]) -> bool:
    stripped = re.sub(r"^\W+", "", text)
    return any(stripped.startswith(p) for p in phrases)


def _spans(text: str, splitter: re.Pattern[str]) -> list[tuple[int, int]]:
    spans, last = [], 0
    for match in splitter.finditer(text):
        spans.append((last, match.start()))
        last = match.end()
    spans.append((last, len(text)))
    # A split word belongs to the part after it, so offsets inside it still fall somewhere.
    return [(a, b) for a, b in spans if b > a] or [(0, len(text))]


def _token_starts(text: str) -> list[int]:
    return [m.start() for m in re.finditer(r"\S+", text)]


def _token_index(starts: list[int], offset: int) -> int:
    import bisect

    return max(0, bisect.bisect_right(starts, offset) - 1)


@lru_cache(maxsize=4)
def _load_file(path: str) -> Screen:
    import yaml

    return Screen(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


def screen_from_file(path: Path | str = CONTENT_FILE) -> Screen:
    """The screen of a content file (cached per path)."""
    return _load_file(str(path))
