from django.urls import path

from .views import comparisons, graph, interview, participant, statements, voting

app_name = "elicitation"

urlpatterns = [
    path("join/<str:token>/", participant.join, name="join"),
    path("c/<slug:slug>/", participant.home, name="home"),
    path("c/<slug:slug>/finish/", participant.finish, name="finish"),
    path("c/<slug:slug>/withdraw/", participant.withdraw, name="withdraw"),
    path("c/<slug:slug>/q/<int:question_id>/interview/", interview.interview_page, name="interview"),
    path("c/<slug:slug>/q/<int:question_id>/interview/message/", interview.message, name="interview_message"),
    path("c/<slug:slug>/q/<int:question_id>/interview/reply/", interview.reply_stream, name="interview_reply"),
    path("c/<slug:slug>/q/<int:question_id>/interview/card/", interview.card_action, name="interview_card"),

    path("c/<slug:slug>/q/<int:question_id>/vote/", voting.vote_page, name="vote"),
    path("c/<slug:slug>/upgrades/", voting.upgrades_page, name="upgrades"),

    path("c/<slug:slug>/graph/", graph.graph_page, name="graph"),
    path("c/<slug:slug>/graph.json", graph.graph_json, name="graph_json"),
    path("c/<slug:slug>/graph/snapshots/", graph.snapshot_create, name="snapshot_create"),
    path("c/<slug:slug>/graph/snapshots/<int:snapshot_id>.json", graph.snapshot_json, name="snapshot_json"),

    path("c/<slug:slug>/compare/", comparisons.compare_home, name="compare"),
    path("c/<slug:slug>/compare/<int:comparison_id>/", comparisons.comparison_page, name="comparison"),
    path("c/<slug:slug>/compare/<int:comparison_id>/stream/<str:side>/", comparisons.comparison_stream,
         name="comparison_stream"),
    path("c/<slug:slug>/compare/<int:comparison_id>/ready/", comparisons.comparison_ready, name="comparison_ready"),

    path("c/<slug:slug>/statements/", statements.statements_page, name="statements"),
    path("c/<slug:slug>/statements/vote/", statements.statement_vote, name="statement_vote"),
    path("c/<slug:slug>/statements/groups/", statements.groups_page, name="statement_groups"),
]
