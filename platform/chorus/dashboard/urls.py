from django.urls import path

from chorus.dashboard.views import (
    campaigns,
    comparisons,
    constitutions,
    dedup,
    home,
    moral_graph,
    statements,
    training,
    values,
)

app_name = "dashboard"

urlpatterns = [
    path("", home.home, name="home"),
    path("services/", home.services_status, name="services"),
    path("workers/", home.workers, name="workers"),
    path("probes/", home.probes, name="probes"),
    path("playground/", home.playground, name="playground"),
    path("playground/stream/<str:stream_id>/", home.playground_stream, name="playground_stream"),
    path("tokens/", home.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", home.token_revoke, name="token_revoke"),

    path("campaigns/new/", campaigns.campaign_new, name="campaign_new"),
    path("campaigns/<int:campaign_id>/", campaigns.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:campaign_id>/status/", campaigns.campaign_status, name="campaign_status"),
    path("campaigns/<int:campaign_id>/waves/", campaigns.wave_add, name="wave_add"),
    path("campaigns/<int:campaign_id>/upgrade-stories/", moral_graph.upgrade_stories, name="upgrade_stories"),
    path("imports/mai/", moral_graph.import_mai, name="import_mai"),

    path("campaigns/<int:campaign_id>/leaderboard/", comparisons.leaderboard_page, name="leaderboard"),
    path("campaigns/<int:campaign_id>/export/<str:fmt>.jsonl", comparisons.export_jsonl, name="export_comparisons"),

    path("campaigns/<int:campaign_id>/values/", values.campaign_values, name="campaign_values"),
    path("campaigns/<int:campaign_id>/values/cards/<int:card_id>/split/", values.card_split, name="card_split"),
    path("campaigns/<int:campaign_id>/values/cards/<int:card_id>/merge/", values.card_merge, name="card_merge"),
    path("campaigns/<int:campaign_id>/values/dedup-mode/", dedup.mode, name="dedup_mode"),
    path("campaigns/<int:campaign_id>/values/calibrate-judge/", dedup.calibrate, name="judge_calibrate"),
    path("campaigns/<int:campaign_id>/values/borderline/<int:pair_id>/", dedup.decide, name="borderline_decide"),

    path("principles/", constitutions.principles_list, name="principles"),
    path("principles/draft/", constitutions.principles_draft, name="principles_draft"),
    path("principles/salmon/", constitutions.salmon_import, name="salmon_import"),
    path("principles/<int:principle_id>/", constitutions.principle_edit, name="principle_edit"),
    path("principles/<int:principle_id>/review/", constitutions.principle_review, name="principle_review"),
    path("constitutions/", constitutions.constitutions_list, name="constitutions"),
    path("constitutions/<int:constitution_id>/", constitutions.constitution_detail, name="constitution_detail"),
    path("constitutions/<int:constitution_id>/change/", constitutions.constitution_change, name="constitution_change"),
    path("constitutions/versions/<int:version_id>/salmon.json", constitutions.constitution_version_salmon,
         name="constitution_version_salmon"),
    path("statements/", statements.statements_campaigns, name="statements_campaigns"),
    path("statements/import/polis/", statements.statements_import_polis, name="statements_import_polis"),
    path("statements/campaigns/<int:campaign_id>/", statements.statements_campaign, name="statements_campaign"),
    path("statements/<int:statement_id>/moderate/", statements.statement_moderate, name="statement_moderate"),
    path("statements/<int:statement_id>/promote/", statements.statement_promote, name="statement_promote"),

    path("targets/", training.targets_list, name="targets_list"),
    path("targets/new/", training.targets_new, name="targets_new"),
    path("targets/<int:target_id>/", training.targets_detail, name="targets_detail"),
    path("runs/new/", training.runs_new, name="runs_new"),
    path("runs/<int:run_id>/", training.runs_detail, name="runs_detail"),
    path("runs/<int:run_id>/cancel/", training.runs_cancel, name="runs_cancel"),
    path("models/<int:model_id>/", training.models_detail, name="models_detail"),
    path("models/<int:model_id>/download/", training.models_download, name="models_download"),
    path("models/<int:model_id>/files/<path:name>", training.models_file, name="models_file"),
]
