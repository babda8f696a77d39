"""All SQLAlchemy models of the project, imported in one place so that ``Base.metadata`` knows
every table. Each area keeps its models in its own module."""
from knowledge.db import Base  # noqa: F401
from knowledge import inbox, kb_models, outbox, primer_models, reminder_models, trainee_models  # noqa: F401  (register the tables)
from knowledge.safety import records  # noqa: F401  (the safety tables)
