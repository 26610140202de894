#!/usr/bin/env bash
# Sets Chorus up with its test tools and runs the whole test suite against the real services.
set -euo pipefail
cd "$(dirname "$0")/../.."
platform/scripts/setup.sh --dev
.venv/bin/python manage.py prepare_models
exec .venv/bin/python -m pytest "$@"
