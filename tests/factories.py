"""factory_boy factories for test data. Prefer the real services where a write has rules."""
import factory

from elicitation.models import Campaign


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Study {n}")
    slug = factory.Sequence(lambda n: f"study-{n}")
    status = Campaign.Status.OPEN
    activities = ["interview", "voting", "upgrades"]

    @factory.post_generation
    def questions(self, create, extracted, **kwargs):
        if create:
            for i, text in enumerate(extracted or ["What should the assistant consider?"]):
                self.questions.create(text=text, position=i)
