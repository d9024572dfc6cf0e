"""Load the RFC request and resource bodies kept in tests/samples."""

import json
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def load_sample(name):
    """Return the parsed JSON of tests/samples/<name>.json."""
    return json.loads((SAMPLES / f"{name}.json").read_text())
