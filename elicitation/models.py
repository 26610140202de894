"""Campaigns and their questions. Interviews, cards, votes and comparisons build on these."""
from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models


class Activity(models.TextChoices):
    INTERVIEW = "interview", "Values interview"
    VOTING = "voting", "Vote on values"
    UPGRADES = "upgrades", "Wisdom upgrades"
    PRINCIPLES = "principles", "Statements and principles"
    COMPARISONS = "comparisons", "Response comparisons"


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    consent_text = models.TextField(
        default=(
            "You will talk with an AI about what you think matters when answering a hard question. "
            "Your answers are stored without your name and may be published as part of a research "
            "dataset. You can withdraw at any time, which deletes everything you contributed."
        )
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    activities = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class Question(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="questions")
    text = models.TextField()
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [models.UniqueConstraint(fields=["campaign", "position"], name="question_position_unique")]

    def __str__(self) -> str:
        return self.text[:80]


class Wave(models.Model):
    """A time step of a campaign (used to track how values change between waves)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="waves")
    number = models.PositiveIntegerField()
    label = models.CharField(max_length=100, blank=True)
    starts_at = models.DateTimeField()

    class Meta:
        ordering = ["campaign", "number"]
        constraints = [models.UniqueConstraint(fields=["campaign", "number"], name="wave_number_unique")]

    def __str__(self) -> str:
        return self.label or f"Wave {self.number}"


class Interview(models.Model):
    """One participant's conversation with the LLM about one question."""

    class Status(models.TextChoices):
        CHATTING = "chatting", "Chatting"
        REVIEWING = "reviewing", "Reviewing a card"
        DONE = "done", "Card saved"

    participant = models.ForeignKey("accounts.Participant", on_delete=models.CASCADE, related_name="interviews")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="interviews")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CHATTING)
    # What produced the transcript, so a study can be reproduced and audited.
    model_name = models.CharField(max_length=200)
    model_params = models.JSONField(default=dict)
    prompt_version = models.CharField(max_length=40)
    # The card the LLM drafted from the conversation; shown to the participant, saved only on confirm.
    draft = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "question"], name="one_interview_per_question")
        ]


class InterviewMessage(models.Model):
    class Role(models.TextChoices):
        ASSISTANT = "assistant"
        USER = "user"

    interview = models.ForeignKey(Interview, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]


class CanonicalCard(models.Model):
    """A deduplicated value: the node of the moral graph. Participants' cards point here."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="canonical_cards")
    question = models.ForeignKey(Question, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    title = models.CharField(max_length=100)
    description = models.TextField()
    policies = models.JSONField(default=list)
    # MAI's first study (dft) gave each value a paragraph on how to act on it, beside the one-line
    # description; kept so an imported study's graph exports what it was given.
    instructions_detailed = models.TextField(blank=True, help_text="MAI's instructionsDetailed, where imported")
    # Sorted, newline-joined policies embedded with all-MiniLM-L6-v2 (384 floats, L2-normalised).
    embedding = ArrayField(models.FloatField(), null=True, blank=True)
    external_id = models.CharField(max_length=100, blank=True, help_text="id in an imported study")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "external_id"], condition=~models.Q(external_id=""), name="canonical_external_unique"
            )
        ]

    def __str__(self) -> str:
        return self.title


class ValuesCard(models.Model):
    """A card a participant confirmed. Never written without the participant's explicit confirm."""

    participant = models.ForeignKey("accounts.Participant", on_delete=models.CASCADE, related_name="cards")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="cards")
    interview = models.OneToOneField(Interview, null=True, blank=True, on_delete=models.SET_NULL, related_name="card")
    title = models.CharField(max_length=100)
    description = models.TextField()
    policies = models.JSONField()
    canonical = models.ForeignKey(CanonicalCard, null=True, blank=True, on_delete=models.SET_NULL, related_name="cards")
    # How the card found its canonical value: "new", "judge" (embedding + LLM judge) or "curator".
    dedup_method = models.CharField(max_length=10, blank=True)
    dedup_distance = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]


class Context(models.Model):
    """A situation in which values apply, phrased "When ...". Upgrades are judged per context."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="contexts")
    text = models.CharField(max_length=300)
    embedding = ArrayField(models.FloatField(), null=True, blank=True)
    cards = models.ManyToManyField(CanonicalCard, related_name="contexts", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["campaign", "text"], name="context_text_unique")]

    def __str__(self) -> str:
        return self.text


class CardImpression(models.Model):
    """A participant was shown a peer's value for a question, and picked it as wise or not."""

    participant = models.ForeignKey("accounts.Participant", on_delete=models.CASCADE, related_name="impressions")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="+")
    card = models.ForeignKey(CanonicalCard, on_delete=models.CASCADE, related_name="impressions")
    picked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True, help_text="when the participant submitted the draw")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["participant", "question", "card"], name="one_impression_per_card")
        ]


class UpgradeStory(models.Model):
    """An LLM-proposed transition A -> B in a context, told as a first-person story."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="upgrade_stories")
    context = models.ForeignKey(Context, on_delete=models.CASCADE, related_name="+")
    from_card = models.ForeignKey(CanonicalCard, on_delete=models.CASCADE, related_name="+")
    to_card = models.ForeignKey(CanonicalCard, on_delete=models.CASCADE, related_name="+")
    story = models.TextField()
    model_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["from_card", "to_card", "context"], name="one_story_per_edge"),
            models.CheckConstraint(condition=~models.Q(from_card=models.F("to_card")), name="story_not_a_loop"),
        ]


class Relationship(models.TextChoices):
    UPGRADE = "upgrade", "Yes, wiser"
    NO_UPGRADE = "no_upgrade", "No"
    NOT_SURE = "not_sure", "Not sure"


class EdgeVote(models.Model):
    """One answer to "Did this person become wiser?" for A -> B in a context.

    Imported votes have no participant; they keep the study's own user id instead.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="edge_votes")
    participant = models.ForeignKey(
        "accounts.Participant", null=True, blank=True, on_delete=models.CASCADE, related_name="edge_votes"
    )
    external_user_id = models.CharField(max_length=100, blank=True)
    story = models.ForeignKey(UpgradeStory, null=True, blank=True, on_delete=models.SET_NULL, related_name="votes")
    from_card = models.ForeignKey(CanonicalCard, on_delete=models.CASCADE, related_name="+")
    to_card = models.ForeignKey(CanonicalCard, on_delete=models.CASCADE, related_name="+")
    context = models.ForeignKey(Context, on_delete=models.CASCADE, related_name="+")
    relationship = models.CharField(max_length=12, choices=Relationship.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["campaign", "created_at"])]
        constraints = [
            # A vote submitted twice (two tabs, retries, races) counts once.
            models.UniqueConstraint(
                fields=["participant", "from_card", "to_card", "context"],
                condition=models.Q(participant__isnull=False),
                name="one_vote_per_participant_edge",
            ),
            models.UniqueConstraint(
                fields=["campaign", "external_user_id", "from_card", "to_card", "context"],
                condition=models.Q(participant__isnull=True),
                name="one_vote_per_imported_user_edge",
            ),
            models.CheckConstraint(
                condition=models.Q(participant__isnull=False) | ~models.Q(external_user_id=""),
                name="vote_has_a_voter",
            ),
            models.CheckConstraint(condition=~models.Q(from_card=models.F("to_card")), name="vote_not_a_loop"),
        ]


class GraphSnapshot(models.Model):
    """The moral graph of a campaign (or one wave) as of a moment, frozen as MAI JSON."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="snapshots")
    wave = models.ForeignKey(Wave, null=True, blank=True, on_delete=models.CASCADE, related_name="snapshots")
    as_of = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    vote_count = models.PositiveIntegerField()
    summary = models.JSONField()

    class Meta:
        ordering = ["-as_of"]


from .models_principles import Constitution, ConstitutionEntry, ConstitutionVersion, Principle  # noqa: E402,F401
from .models_comparisons import Comparison, SystemMessage  # noqa: E402,F401
from .models_statements import Statement, StatementVote  # noqa: E402,F401
