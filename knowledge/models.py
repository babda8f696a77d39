"""All SQLAlchemy models of the project, imported in one place so that
``Base.metadata`` knows every table. Each area keeps its models in its own module."""
from knowledge.db import Base  # noqa: F401

# Each import registers its tables; keep this list in sync when adding a module.
for _module in ("knowledge.kb_models", "knowledge.trainee_models", "knowledge.reminder_models"):
    try:
        __import__(_module)
    except ModuleNotFoundError as exc:  # a module not written yet
        if exc.name != _module:
            raise
