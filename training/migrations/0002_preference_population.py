import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('elicitation', '0007_comparison_export_index'),
        ('training', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='alignmenttarget',
            name='kind',
            field=models.CharField(choices=[('constitution', 'Constitution'), ('moral_graph', 'Moral graph'), ('preference_population', 'Preference population')], max_length=30),
        ),
        migrations.AddField(
            model_name='alignmenttarget',
            name='campaign',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='elicitation.campaign'),
        ),
    ]
