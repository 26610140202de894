"""Model replies shown to people: cut back to a whole sentence, and Markdown made into safe HTML. No Django."""
from __future__ import annotations

import re

# A sentence ends with . ! ? or … (a full stop after a digit numbers a list item), maybe followed by
# closing quotes, brackets or Markdown emphasis, then a space or the end.
_SENTENCE_END = re.compile(r"(?:(?<![0-9])\.|[!?…])[\"'”’)\]*_`]*(?=\s|$)")


def trim_to_sentence(text: str) -> str:
    """The text up to its last complete sentence or line, when generation stopped in the middle of one.

    Backends do not say whether they stopped at the token limit, so a reply that ends on sentence
    punctuation counts as whole. Otherwise it is cut after the last sentence end or the last finished
    line (a list item has no full stop), whichever comes later. A reply with neither is kept as it is:
    a fragment is better than nothing.
    """
    text = text.strip()
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    if not text or (ends and ends[-1] == len(text)):
        return text
    cut = max(ends[-1] if ends else 0, text.rfind("\n"))
    return text[:cut].rstrip() if cut > 0 else text


def same_reply(first: str, second: str) -> bool:
    """Two non-empty replies that differ at most in spacing and case."""
    return bool(first) and " ".join(first.split()).casefold() == " ".join(second.split()).casefold()


# What a reply may contain once rendered: text structure, no links, images, forms or styles.
ALLOWED_TAGS = {
    "p", "br", "strong", "em", "b", "i", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td",
}


def markdown_html(text: str) -> str:
    """Markdown rendered, then sanitised by an allowlist: model output can carry any HTML it was prompted to."""
    import markdown
    import nh3

    rendered = markdown.markdown(text, extensions=["tables", "sane_lists"], output_format="html")
    return nh3.clean(rendered, tags=ALLOWED_TAGS, attributes={}, url_schemes=set())
