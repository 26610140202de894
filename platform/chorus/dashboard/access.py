"""Who may see the staff dashboard: logged-in staff. Everyone else is sent to the platform's own staff
login page (settings.LOGIN_URL), not the Django admin's, and comes back where they were going."""
from __future__ import annotations

from django.contrib.auth.decorators import user_passes_test

staff_member_required = user_passes_test(lambda user: user.is_active and user.is_staff)
