"""Creates the demo campaign (with earlier participants' values, stories and votes: see
`chorus.dashboard.demo`) and a staff login, once. Safe to run again."""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from chorus.accounts.join_links import join_token_make
from chorus.dashboard.demo import demo_campaign_load


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
        campaign, filled = demo_campaign_load()
        link = f"{base_url.rstrip('/')}/join/{join_token_make(campaign_id=campaign.pk)}/"
        self.stdout.write(f"staff login: {username} / {password}" if created else
                          f"staff login: {username} (existing account; its password is unchanged)")
        if filled:
            self.stdout.write(f"demo data: {campaign.canonical_cards.count()} values by {campaign.participants.count()} "
                              f"earlier participants, {campaign.contexts.count()} contexts, "
                              f"{campaign.upgrade_stories.count()} upgrade stories")
        self.stdout.write(f"demo campaign: {campaign.title} -> join link {link}")
