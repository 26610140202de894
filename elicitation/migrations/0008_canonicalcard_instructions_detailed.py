from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('elicitation', '0007_comparison_export_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='canonicalcard',
            name='instructions_detailed',
            field=models.TextField(blank=True, help_text="MAI's instructionsDetailed, where imported"),
        ),
    ]
