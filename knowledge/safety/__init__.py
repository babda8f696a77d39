"""Safety: the red-flag screen (what a message says about red-flag symptoms) and the records of
a stop (coaching paused until a doctor has checked the person). Plain Python, no delivery code."""
