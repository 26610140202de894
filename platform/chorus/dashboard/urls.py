from django.urls import path

from . import campaigns, comparisons, curation, imports, principles, training_views, views

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

    path("campaigns/new/", campaigns.campaign_new, name="campaign_new"),
    path("campaigns/<int:campaign_id>/", campaigns.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:campaign_id>/status/", campaigns.campaign_status, name="campaign_status"),
    path("campaigns/<int:campaign_id>/waves/", campaigns.wave_add, name="wave_add"),
    path("campaigns/<int:campaign_id>/upgrade-stories/", campaigns.upgrade_stories, name="upgrade_stories"),
    path("imports/mai/", imports.import_mai, name="import_mai"),

    path("campaigns/<int:campaign_id>/leaderboard/", comparisons.leaderboard_page, name="leaderboard"),
    path("campaigns/<int:campaign_id>/export/<str:fmt>.jsonl", comparisons.export_jsonl, name="export_comparisons"),

    path("campaigns/<int:campaign_id>/values/", curation.campaign_values, name="campaign_values"),
    path("campaigns/<int:campaign_id>/values/cards/<int:card_id>/split/", curation.card_split, name="card_split"),
    path("campaigns/<int:campaign_id>/values/cards/<int:card_id>/merge/", curation.card_merge, name="card_merge"),

    path("principles/", principles.principles_list, name="principles"),
    path("principles/draft/", principles.principles_draft, name="principles_draft"),
    path("principles/salmon/", principles.salmon_import, name="salmon_import"),
    path("principles/<int:principle_id>/", principles.principle_edit, name="principle_edit"),
    path("principles/<int:principle_id>/review/", principles.principle_review, name="principle_review"),
    path("constitutions/", principles.constitutions_list, name="constitutions"),
    path("constitutions/<int:constitution_id>/", principles.constitution_detail, name="constitution_detail"),
    path("constitutions/<int:constitution_id>/change/", principles.constitution_change, name="constitution_change"),
    path("constitutions/versions/<int:version_id>/salmon.json", principles.constitution_version_salmon,
         name="constitution_version_salmon"),
    path("statements/", principles.statements_campaigns, name="statements_campaigns"),
    path("statements/import/polis/", principles.statements_import_polis, name="statements_import_polis"),
    path("statements/campaigns/<int:campaign_id>/", principles.statements_campaign, name="statements_campaign"),
    path("statements/<int:statement_id>/moderate/", principles.statement_moderate, name="statement_moderate"),
    path("statements/<int:statement_id>/promote/", principles.statement_promote, name="statement_promote"),

    path("targets/", training_views.targets_list, name="targets_list"),
    path("targets/new/", training_views.targets_new, name="targets_new"),
    path("targets/<int:target_id>/", training_views.targets_detail, name="targets_detail"),
    path("runs/new/", training_views.runs_new, name="runs_new"),
    path("runs/<int:run_id>/", training_views.runs_detail, name="runs_detail"),
    path("runs/<int:run_id>/cancel/", training_views.runs_cancel, name="runs_cancel"),
    path("models/<int:model_id>/", training_views.models_detail, name="models_detail"),
    path("models/<int:model_id>/download/", training_views.models_download, name="models_download"),
    path("models/<int:model_id>/files/<path:name>", training_views.models_file, name="models_file"),
]
