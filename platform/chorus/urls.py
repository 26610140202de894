from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import TemplateView


def favicon(request: HttpRequest) -> HttpResponse:
    """For pages that do not link the icon themselves (the admin, DRF's pages): browsers ask /favicon.ico."""
    return redirect(static("chorus/favicon.svg"), permanent=True)


urlpatterns = [
    path("favicon.ico", favicon),
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("dashboard/", include("chorus.dashboard.urls")),
    path("api/", include("chorus.api.urls")),
    path("hf/", include("chorus.api.hub_urls")),
    path("admin/", admin.site.urls),
    path("", include("elicitation.urls")),
]

handler400 = "chorus.bad_input.bad_request"
handler500 = "chorus.outages.server_error"
