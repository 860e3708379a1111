"""The workflow definitions shipped with the engine, as YAML files beside this module.

It is a package only so that ``pip install .`` carries the YAML into site-packages and
``bundled_directory()`` finds it whether the engine runs from a checkout or an installed wheel.
"""

from pathlib import Path

# the workflow a case opens under when the caller names none (honorary convalescence, art. 7)
DEFAULT_DEFINITION = "honor_convalescence"


def bundled_directory() -> Path:
    return Path(__file__).resolve().parent
