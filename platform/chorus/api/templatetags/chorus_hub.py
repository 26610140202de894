"""`{% load chorus_hub %}{% hub_download_snippet artifact %}`: the copy-paste download code for a model."""
from django import template

from chorus.api.hub import hub_snippet_context

register = template.Library()


@register.inclusion_tag("api/_download_snippet.html", takes_context=True)
def hub_download_snippet(context, artifact):
    return hub_snippet_context(artifact, request=context["request"])
