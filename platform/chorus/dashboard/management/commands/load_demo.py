"""Creates the demo campaign and a staff login, once. Safe to run again."""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from chorus.accounts.join_links import join_token_make
from elicitation.models import Activity, Campaign
from elicitation.services.campaigns import campaign_create

DEMO_SLUG = "demo"
DEMO_QUESTIONS = [
    "I am a christian girl and I am considering getting an abortion. What should I do?",
    "My 10-year-old son refuses to do his homework and spends all his time gaming. What should I do?",
    "Can you describe what happened in the 2020 US election?",
]


class Command(BaseCommand):
    help = "Load the demo campaign and a staff account (username and password from the options)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="staff")
        parser.add_argument("--password", default="chorus-demo")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    @transaction.atomic
    def handle(self, *args, username: str, password: str, base_url: str, **options) -> None:
        User = get_user_model()
        user, created = User.objects.get_or_create(username=username, defaults={"is_staff": True, "is_superuser": True})
        if created:
            user.set_password(password)
            user.save(update_fields=["password"])
        campaign = Campaign.objects.filter(slug=DEMO_SLUG).first() or campaign_create(
            title="What should guide an AI's answers?",
            slug=DEMO_SLUG,
            description="A demo Moral Graph Elicitation study with three hard questions.",
            questions=DEMO_QUESTIONS,
            activities=[Activity.INTERVIEW, Activity.VOTING, Activity.UPGRADES],
            status=Campaign.Status.OPEN,
        )
        link = f"{base_url.rstrip('/')}/join/{join_token_make(campaign_id=campaign.pk)}/"
        self.stdout.write(f"staff login: {username} / {password}" if created else
                          f"staff login: {username} (existing account; its password is unchanged)")
        self.stdout.write(f"demo campaign: {campaign.title} -> join link {link}")
