from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("services/", views.services_status, name="services"),
    path("workers/", views.workers, name="workers"),
    path("probes/", views.probes, name="probes"),
    path("playground/", views.playground, name="playground"),
    path("playground/stream/<str:stream_id>/", views.playground_stream, name="playground_stream"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
]

from . import campaigns, imports

urlpatterns += [
    path("campaigns/new/", campaigns.campaign_new, name="campaign_new"),
    path("campaigns/<int:campaign_id>/", campaigns.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:campaign_id>/status/", campaigns.campaign_status, name="campaign_status"),
    path("campaigns/<int:campaign_id>/waves/", campaigns.wave_add, name="wave_add"),
    path("campaigns/<int:campaign_id>/upgrade-stories/", campaigns.upgrade_stories, name="upgrade_stories"),
    path("imports/mai/", imports.import_mai, name="import_mai"),
]

from . import comparisons  # noqa: E402

urlpatterns += [
    path("campaigns/<int:campaign_id>/leaderboard/", comparisons.leaderboard_page, name="leaderboard"),
    path("campaigns/<int:campaign_id>/export/<str:fmt>.jsonl", comparisons.export_jsonl, name="export_comparisons"),
]
