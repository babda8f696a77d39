"""Turn what people type on a phone into values: pain scores, clock times, time zones, equipment.

Each parser returns a value or raises :class:`ParseError` with a one-line message that can be
shown to the user as it is.
"""
from __future__ import annotations

import re
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

EQUIPMENT = ("none", "band", "bench", "kettlebell", "barbell", "machine")

_EQUIPMENT_WORDS = {
    "band": ("band", "bands", "mini band", "loop", "resistance band", "theraband"),
    "bench": ("bench", "box", "couch", "sofa", "chair", "step"),
    "kettlebell": ("kettlebell", "kettle bell", "kb", "kettlebells", "dumbbell", "dumbbells", "weights"),
    "barbell": ("barbell", "bar", "plates"),
    "machine": ("machine", "cable", "gym machines", "smith"),
}
_FULL_GYM = ("full gym", "gym", "everything", "all of it")
_NOTHING = ("nothing", "none", "no equipment", "just the floor", "bodyweight", "body weight", "floor", "nada")

_WORD_NUMBERS = {
    "zero": 0, "none": 0, "nothing": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}


# "No pain" in words is a 0 (only when no number is given: "no pain above 3" has one).
_NO_PAIN = re.compile(r"\b(?:no|zero|without any|not any) pain\b|\bpain[- ]?free\b|\b(?:doesn'?t|does not|didn'?t|did not) hurt\b")


class ParseError(ValueError):
    """The text could not be read as the value asked for; the message says what is expected."""


def parse_score(text: str, what: str = "a number") -> int:
    """A 0–10 score from "6", "6/10", "about a 4", "seven", "pain 3 out of 10"."""
    lowered = text.lower()
    fraction = re.search(r"(\d{1,4})\s*(?:/|out of|of)\s*10\b", lowered)
    if fraction:
        value = int(fraction.group(1))
    else:
        numbers = re.findall(r"-?\d+(?:[.,]\d+)?(?:e[+-]?\d+)?", lowered)
        if numbers:
            if not re.fullmatch(r"-?\d+", numbers[0]):
                raise ParseError(f"Please give {what} as a whole number from 0 to 10.")
            value = int(numbers[0])
        else:
            words = [w for w in re.findall(r"[a-z]+", lowered) if w in _WORD_NUMBERS]
            if not words and _NO_PAIN.search(lowered):
                return 0
            if not words:
                raise ParseError(f"Please give {what} from 0 to 10.")
            value = _WORD_NUMBERS[words[0]]
    if not 0 <= value <= 10:
        raise ParseError(f"{value} is off the scale: please give {what} from 0 to 10.")
    return value


_HOURS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
          "ten": 10, "eleven": 11, "twelve": 12}
_MINUTES = {"o'clock": 0, "oclock": 0, "five": 5, "ten": 10, "fifteen": 15, "twenty": 20, "twenty five": 25,
            "thirty": 30, "forty": 40, "forty five": 45, "fifty": 50, "fifty five": 55}
_HOUR = r"(\d{1,2}|" + "|".join(_HOURS) + r")"
_PM_WORDS = re.compile(r"\b(?:afternoon|evening|night|tonight|after work|pm)\b")
_AM_WORDS = re.compile(r"\b(?:morning|am|before work)\b")


def _hour(word: str) -> int:
    return int(word) if word.isdigit() else _HOURS[word]


def _clock_in_words(lowered: str) -> str:
    """A time in words as digits: "quarter past six in the evening" → "6:15 pm", "half seven" →
    "7:30", "seven thirty am" → "7:30 am", "six in the evening" → "6 pm"."""
    lowered = lowered.replace("-", " ")
    period = " pm" if _PM_WORDS.search(lowered) else " am" if _AM_WORDS.search(lowered) else ""
    relative = re.search(rf"\b(quarter|half|twenty|ten|five|twenty five)\s+(past|after|to|before)\s+{_HOUR}\b", lowered)
    if relative:
        minutes = {"quarter": 15, "half": 30, "twenty": 20, "ten": 10, "five": 5, "twenty five": 25}[relative.group(1)]
        hour = _hour(relative.group(3))
        if relative.group(2) in ("to", "before"):
            hour, minutes = (hour - 1) % 12 or 12, 60 - minutes
        return f"{hour}:{minutes:02d}{period}"
    half = re.search(rf"\bhalf\s+{_HOUR}\b", lowered)  # British "half seven" is 7:30
    if half:
        return f"{_hour(half.group(1))}:30{period}"
    spoken = re.search(rf"\b({'|'.join(_HOURS)})\s+({'|'.join(sorted(_MINUTES, key=len, reverse=True))})\b", lowered)
    if spoken:
        return f"{_HOURS[spoken.group(1)]}:{_MINUTES[spoken.group(2)]:02d}{period}"
    bare = re.search(rf"\b(?:at\s+|around\s+|about\s+)?({'|'.join(_HOURS)})\b", lowered)
    if bare and period:
        return f"{_HOURS[bare.group(1)]}{period}"
    digits = re.search(r"\b(\d{1,2})(?:[:.](\d{2}))?\b", lowered)
    if digits and period and not re.search(r"\d\s*(?:am|pm|a\.m\.|p\.m\.)", lowered):
        return f"{digits.group(1)}:{digits.group(2) or '00'}{period}"  # "6 in the evening"
    return lowered


def parse_clock_time(text: str) -> str:
    """"HH:MM" (24 h) from "07:30", "7.30", "7am", "6:15 pm", "18h00", "noon", and in words:
    "quarter past six in the evening", "half seven", "seven thirty am", "6 in the evening"."""
    lowered = _clock_in_words(text.lower().strip())
    if "noon" in lowered or "midday" in lowered:
        return "12:00"
    if "midnight" in lowered:
        return "00:00"
    match = re.search(r"\b(\d{1,2})(?:\s*[:.h]\s*(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?(?!\d)", lowered)
    if not match or (match.group(2) is None and match.group(3) is None and not re.fullmatch(r"\D*\d{1,2}\D*", lowered)):
        raise ParseError("Please give a time like 07:30 or 6pm.")
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    suffix = (match.group(3) or "").replace(".", "")
    if suffix:
        if not 1 <= hour <= 12:
            raise ParseError(f"{match.group(0).strip()} is not a valid time: try 07:30 or 6pm.")
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ParseError(f"{match.group(0).strip()} is not a valid time: try 07:30 or 6pm.")
    return f"{hour:02d}:{minute:02d}"


@lru_cache(maxsize=1)
def _zones_by_city() -> dict[str, str]:
    cities: dict[str, str] = {}
    for zone in sorted(available_timezones()):
        if "/" in zone and not zone.startswith(("Etc/", "SystemV/", "posix/", "right/")):
            city = zone.rsplit("/", 1)[1].replace("_", " ").lower()
            cities.setdefault(city, zone)
    return cities


_ALIASES = {
    "uk": "Europe/London", "england": "Europe/London", "germany": "Europe/Berlin",
    "france": "Europe/Paris", "spain": "Europe/Madrid", "italy": "Europe/Rome",
    "netherlands": "Europe/Amsterdam", "new york": "America/New_York", "nyc": "America/New_York",
    "la": "America/Los_Angeles", "san francisco": "America/Los_Angeles", "india": "Asia/Kolkata",
    "japan": "Asia/Tokyo", "australia": "Australia/Sydney", "est": "America/New_York",
    "cet": "Europe/Berlin", "pst": "America/Los_Angeles", "ist": "Asia/Kolkata",
    "gmt": "Etc/GMT", "utc": "UTC",
}


def parse_timezone(text: str) -> str:
    """An IANA zone name from "Europe/Berlin", "berlin", "new york", "UTC+2", "gmt-5"."""
    raw = text.strip()
    lowered = raw.lower()
    offset = re.fullmatch(r"(?:utc|gmt)?\s*([+-])\s*(\d{1,2})(?::00)?", lowered)
    if offset:
        hours = int(offset.group(2))
        if hours > 14:
            raise ParseError(f"UTC{offset.group(1)}{hours} is not a real offset: try a city like Berlin.")
        # Etc/GMT signs are inverted: UTC+2 is Etc/GMT-2.
        sign = "-" if offset.group(1) == "+" else "+"
        return "UTC" if hours == 0 else f"Etc/GMT{sign}{hours}"
    for zone in available_timezones():
        if zone.lower() == lowered:
            return zone
    words = re.sub(r"[^a-z /_]", " ", lowered)
    words = re.sub(r"\b(i'?m|i am|in|time|zone|timezone|the|near|from|live)\b", " ", words)
    words = " ".join(words.split())
    if words in _ALIASES:
        return _ALIASES[words]
    cities = _zones_by_city()
    if words.replace("_", " ") in cities:
        return cities[words.replace("_", " ")]
    for alias, zone in _ALIASES.items():
        if re.search(rf"\b{re.escape(alias)}\b", words):
            return zone
    for city, zone in cities.items():
        if len(city) > 3 and re.search(rf"\b{re.escape(city)}\b", words):
            return zone
    raise ParseError(f"I don't know the time zone '{raw[:40]}': try a city (Berlin) or an offset (UTC+2).")


def check_timezone(name: str) -> str:
    """The name itself when it is a valid IANA zone, else ParseError."""
    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        raise ParseError(f"'{name[:40]}' is not a time zone I know.") from None
    return name


def parse_equipment(text: str) -> list[str]:
    """Equipment ids from "band and a bench", "full gym", "nothing"."""
    lowered = f" {text.lower()} "
    if any(f" {w} " in lowered or lowered.strip() == w for w in _FULL_GYM) and "no gym" not in lowered:
        return ["none", "band", "bench", "kettlebell", "barbell", "machine"]
    found = ["none"]
    for item, words in _EQUIPMENT_WORDS.items():
        if any(re.search(rf"\b{re.escape(w)}\b", lowered) for w in words):
            found.append(item)
    if len(found) == 1 and not any(re.search(rf"\b{re.escape(w)}\b", lowered) for w in _NOTHING):
        raise ParseError("Tell me what you have: nothing, a band, a bench, kettlebells, a barbell or machines.")
    return found


def parse_experience(text: str) -> str:
    """beginner | some | experienced, from words or a time: under a year is new, one to three
    years is some, more is experienced ("maybe 2 yrs on and off" → some)."""
    lowered = text.lower()
    span = re.search(r"(\d+(?:[.,]\d+)?|a|one|two|three|four|five|six|ten|a couple(?: of)?|a few|few)\s*"
                     r"(?:\+\s*)?(years?|yrs?|months?|mos?|weeks?|wks?)\b", lowered)
    if span:
        amount = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "ten": 10, "a couple": 2,
                  "a couple of": 2, "a few": 3, "few": 3}.get(span.group(1))
        value = float(span.group(1).replace(",", ".")) if amount is None else float(amount)
        years = value if span.group(2).startswith("y") else value / 12 if span.group(2).startswith("mo") else value / 52
        return "beginner" if years < 1 else "some" if years <= 3 else "experienced"
    if re.search(r"\b(new|beginner|never|none|no experience|just start)", lowered):
        return "beginner"
    if re.search(r"\b(lots|years|experienced|advanced|a lot|long time|compet)", lowered):
        return "experienced"
    if re.search(r"\b(some|bit|little|intermediate|a while|months|casual)", lowered):
        return "some"
    raise ParseError("Is that new to it, some, or lots of strength training?")


def parse_effort(text: str) -> str:
    lowered = text.lower().replace("_", " ")
    if re.search(r"too (easy|light)|easy|nothing", lowered):
        return "too_easy"
    if re.search(r"too (hard|heavy|much)|hard|brutal|killer|tough", lowered):
        return "too_hard"
    if re.search(r"right|fine|good|ok|okay|moderate|perfect|decent", lowered):
        return "about_right"
    raise ParseError("Was it too easy, about right, or too hard?")


_NO_TASKS = ("skip", "none", "no", "nothing", "no thanks", "not now", "pass", "nope", "n/a")
_TASK_FILLERS = re.compile(r"^(?:(?:i|it)(?:'s| is)?\s+)?(?:(?:hard|difficult|tough)\s+(?:to|when)\s+|struggle\s+(?:to|with)\s+)?"
                           r"|^(?:and|also|then)\s+", re.IGNORECASE)


def parse_psfs_tasks(text: str, limit: int = 3) -> list[str]:
    """Up to ``limit`` everyday tasks from "tying my shoes, sitting an hour and carrying
    shopping" (commas, semicolons, new lines, "and"); [] for "skip" / "none"."""
    cleaned = " ".join(text.split()).strip(" .!")
    if cleaned.lower() in _NO_TASKS:
        return []
    parts = re.split(r"\s*(?:[,;\n]|\band\b|\b&\b|\d\)|\d\.(?!\d))\s*", text, flags=re.IGNORECASE)
    tasks: list[str] = []
    for part in parts:
        task = " ".join(_TASK_FILLERS.sub("", part.strip(" .!-•*")).split())[:60].strip()
        if len(task) >= 3 and task.lower() not in (t.lower() for t in tasks):
            tasks.append(task)
    if not tasks:
        raise ParseError("Please name one to three everyday tasks, e.g. \"tying my shoes, sitting an hour\", or say \"skip\".")
    if len(tasks) > limit:
        raise ParseError(f"Please name at most {limit} tasks, separated by commas.")
    return tasks


# The 7-point global rating of change, -3 (much worse) .. +3 (much better).
_CHANGE_WORDS = (
    (3, ("much better", "a lot better", "way better", "loads better", "far better", "so much better", "much improved")),
    (-3, ("much worse", "a lot worse", "way worse", "far worse", "so much worse")),
    (1, ("a little better", "a bit better", "slightly better", "little better", "bit better", "somewhat better",
         "a little improved", "slightly improved")),
    (-1, ("a little worse", "a bit worse", "slightly worse", "little worse", "bit worse", "somewhat worse")),
    (0, ("about the same", "the same", "same", "no change", "unchanged", "no different", "not changed", "similar",
         "no better no worse", "neither", "not much different", "not better", "no better", "not worse",
         "no worse", "not really")),
    (2, ("better", "improved", "improving", "good")),
    (-2, ("worse", "worsened", "getting worse", "bad")),
)


def parse_change(text: str) -> int:
    """The global rating of change from a button payload ("2") or words ("a bit better")."""
    lowered = " ".join(text.lower().replace("’", "'").split()).strip(" .!")
    if re.fullmatch(r"[+-]?[0-3]", lowered):
        return int(lowered)
    for value, phrases in _CHANGE_WORDS:
        if any(re.search(rf"\b{re.escape(p)}\b", lowered) for p in phrases):
            return value
    raise ParseError("Compared with when you started, is your back better, about the same or worse? Tap one of the buttons.")


GOAL_CATEGORIES = ("back_relief", "glute_strength", "running", "lifting", "everyday", "other")
# Checked in this order: a goal that names running is about running even when the back hurts
# ("run without my back aching"); one that names the back is about relief even when it names a
# child to lift ("stop hurting when i lift my kid"); lifting is the gym, not a toddler.
_GOAL_WORDS = (
    ("running", r"\b(?:run\w*|jog\w*|marathon|[0-9]+ ?k\b|sprint\w*|trail|race\w*|parkrun)"),
    ("back_relief", r"\b(?:back|spine|sciatica|lumbar|ache\w*|pain\w*|hurt\w*|sore\w*|injur\w*|tweak\w*|"
                    r"relief|stiff\w*|disc)\b"),
    ("lifting", r"\b(?:squat\w*|deadlift\w*|dead lift\w*|bench press|lift heav\w*|lifting|pr\b|prs\b|"
                r"powerlift\w*|gym|strength train\w*|olympic|clean and jerk|heavier|1rm|one rep max)"),
    ("glute_strength", r"\b(?:glute\w*|butt\w*|bum|booty|peach|hips? strong\w*|stronger hips?|bigger|"
                       r"activate|activation|wake up)"),
    ("everyday", r"\b(?:kid\w*|child\w*|baby|toddler|grandkid\w*|stairs|garden\w*|walk\w*|hik\w*|carry\w*|"
                 r"groceries|shopping|work|job|desk|sit\w*|stand\w*|daily|everyday|day to day|life|move better|"
                 r"mobile|mobility|play|dog|tennis|golf|football|soccer|sport\w*|cycl\w*|bike|swim\w*)"),
)
GOAL_BUTTONS = {"back_relief": "take the load off my lower back", "glute_strength": "stronger glutes",
                "lifting": "lift better", "running": "run better"}


def goal_category(text: str) -> str:
    """The category of a goal in the person's words ("want my back to stop hurting when i lift my
    kid" → back_relief), or a button's id as it is."""
    lowered = " ".join(str(text).lower().replace("’", "'").split())
    if lowered in GOAL_CATEGORIES:
        return lowered
    for category, words in GOAL_BUTTONS.items():
        if lowered == words:
            return category
    for category, pattern in _GOAL_WORDS:
        if re.search(pattern, lowered):
            return category
    return "other"
