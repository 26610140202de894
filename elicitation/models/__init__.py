"""The elicitation app's models, one module per sub-domain; Django finds them through these imports."""
from elicitation.models.campaigns import Activity, Campaign, CampaignJob, Question, Wave
from elicitation.models.comparisons import DIMENSIONS, Comparison, SystemMessage
from elicitation.models.constitutions import (
    Constitution,
    ConstitutionEntry,
    ConstitutionRedaction,
    ConstitutionVersion,
    Principle,
)
from elicitation.models.interviews import Interview, InterviewMessage
from elicitation.models.moral_graph import EdgeVote, GraphSnapshot, Relationship, UpgradeStory
from elicitation.models.statements import Statement, StatementVote
from elicitation.models.surveys import SurveyAnswer, SurveyRound
from elicitation.models.values import CanonicalCard, CardImpression, Context, ValuesCard

__all__ = [
    "Activity", "Campaign", "CampaignJob", "Question", "Wave",
    "DIMENSIONS", "Comparison", "SystemMessage",
    "Constitution", "ConstitutionEntry", "ConstitutionRedaction", "ConstitutionVersion", "Principle",
    "Interview", "InterviewMessage",
    "EdgeVote", "GraphSnapshot", "Relationship", "UpgradeStory",
    "Statement", "StatementVote",
    "SurveyAnswer", "SurveyRound",
    "CanonicalCard", "CardImpression", "Context", "ValuesCard",
]
