"""ProgressGym's items, templates and 19 dimensions, as this package uses them.

They live in `elicitation/domain/surveys.py` (with the vendored files in
`elicitation/domain/survey_items/`) because the campaign value survey asks people the same items,
and elicitation never imports training. This module is the name training code imports them by.
"""
from elicitation.domain.surveys import (
    DIMENSION_LABELS,
    DIMENSIONS,
    RANGE,
    Item,
    Template,
    load_items,
    load_templates,
    option_orders,
    select_items,
)

__all__ = ["DIMENSIONS", "DIMENSION_LABELS", "RANGE", "Item", "Template", "load_items", "load_templates",
           "option_orders", "select_items"]
