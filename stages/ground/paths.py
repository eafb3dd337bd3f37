"""Where the project's shipped files live: ``config/`` (cycles, settings, fonts) and ``templates/``."""

from pathlib import Path

HOME = Path(__file__).resolve().parents[2]
CONFIG_DIR = HOME / "config"
TEMPLATES_DIR = HOME / "templates"
NOTICES_DEFAULT = CONFIG_DIR / "notices.yaml"
CYCLES_DIR = CONFIG_DIR / "cycles"
DEFAULT_CYCLE = CYCLES_DIR / "changning-14th.yaml"  # what `plancycle init` and `plancycle demo` run by default
