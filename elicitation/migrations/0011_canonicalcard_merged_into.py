import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("elicitation", "0010_campaign_jobs"),
    ]

    operations = [
        migrations.AddField(
            model_name="canonicalcard",
            name="merged_into",
            field=models.ForeignKey(
                blank=True,
                help_text="the value its last card was merged into, if any",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="elicitation.canonicalcard",
            ),
        ),
    ]
