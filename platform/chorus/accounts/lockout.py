"""Staff login lockout (django-axes, configured in settings): the address a login is counted by, and
the page a locked-out login gets."""
from __future__ import annotations

import math

from axes.helpers import get_cool_off
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render
from django.utils import timezone
from rest_framework.throttling import BaseThrottle


def client_address(request) -> str:
    """REMOTE_ADDR, or behind CHORUS_TRUSTED_PROXIES proxies the address the outermost one saw.

    DRF's rule, so a login lockout and the API's anonymous limit count the same address."""
    return BaseThrottle().get_ident(request)


def lockout_response(request, original_response=None, credentials=None):
    """The login page again, with status 429 and when to try again, instead of a bare refusal."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    # Each attempt during a lockout restarts the cool-off, so it ends this long after now.
    cool_off = get_cool_off(request)
    context = {
        "form": AuthenticationForm(request, initial={"username": username}),
        "locked_until": timezone.now() + cool_off,
        "locked_minutes": math.ceil(cool_off.total_seconds() / 60),
        "next": request.POST.get("next") or request.GET.get("next", ""),
    }
    response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(math.ceil(cool_off.total_seconds()))
    return response
