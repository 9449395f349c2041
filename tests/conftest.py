"""Settings shared by the whole suite."""

import os

# The bot processes the tests start read license scans only where a test asks for it: the
# synthetic scans of other tests carry no text, and a reader process per test costs time.
os.environ.setdefault("BOT_LICENSE_OCR", "off")
