from django.urls import path

from elicitation.views import comparisons, interviews, moral_graph, participants, statements, surveys, values

app_name = "elicitation"

urlpatterns = [
    path("join/<str:token>/", participants.join, name="join"),
    path("c/<slug:slug>/", participants.home, name="home"),
    path("c/<slug:slug>/finish/", participants.finish, name="finish"),
    path("c/<slug:slug>/withdraw/", participants.withdraw, name="withdraw"),
    path("c/<slug:slug>/q/<int:question_id>/interview/", interviews.interview_page, name="interview"),
    path("c/<slug:slug>/q/<int:question_id>/interview/message/", interviews.message, name="interview_message"),
    path("c/<slug:slug>/q/<int:question_id>/interview/reply/", interviews.reply_stream, name="interview_reply"),
    path("c/<slug:slug>/q/<int:question_id>/interview/card/", interviews.card_action, name="interview_card"),

    path("c/<slug:slug>/q/<int:question_id>/vote/", values.vote_page, name="vote"),
    path("c/<slug:slug>/upgrades/", moral_graph.upgrades_page, name="upgrades"),

    path("c/<slug:slug>/graph/", moral_graph.graph_page, name="graph"),
    path("c/<slug:slug>/graph.json", moral_graph.graph_json, name="graph_json"),
    path("c/<slug:slug>/graph/snapshots/", moral_graph.snapshot_create, name="snapshot_create"),
    path("c/<slug:slug>/graph/snapshots/<int:snapshot_id>.json", moral_graph.snapshot_json, name="snapshot_json"),

    path("c/<slug:slug>/compare/", comparisons.compare_home, name="compare"),
    path("c/<slug:slug>/compare/<int:comparison_id>/", comparisons.comparison_page, name="comparison"),
    path("c/<slug:slug>/compare/<int:comparison_id>/stream/<str:side>/", comparisons.comparison_stream,
         name="comparison_stream"),
    path("c/<slug:slug>/compare/<int:comparison_id>/ready/", comparisons.comparison_ready, name="comparison_ready"),

    path("c/<slug:slug>/statements/", statements.statements_page, name="statements"),
    path("c/<slug:slug>/statements/vote/", statements.statement_vote, name="statement_vote"),
    path("c/<slug:slug>/statements/groups/", statements.groups_page, name="statement_groups"),

    path("c/<slug:slug>/survey/", surveys.survey_page, name="survey"),
    path("c/<slug:slug>/survey/answer/", surveys.survey_answer, name="survey_answer"),
]
