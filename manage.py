#!/usr/bin/env python
"""Django's command-line utility for Chorus."""
import os
import sys
from pathlib import Path

# platform/ is a source root, not a package (see DESIGN.md: it must not shadow stdlib `platform`).
sys.path.insert(0, str(Path(__file__).resolve().parent / "platform"))


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chorus.settings.local")
    from django.core.management import execute_from_command_line

    from chorus.env import StartupError

    try:
        execute_from_command_line(sys.argv)
    except StartupError as exc:
        sys.exit(f"chorus: {exc}")


if __name__ == "__main__":
    main()
