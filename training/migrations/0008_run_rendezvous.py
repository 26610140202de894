from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('training', '0007_import_heartbeat'),
    ]

    operations = [
        migrations.AddField(
            model_name='trainingrun',
            name='hosts_joined',
            field=models.PositiveIntegerField(default=0, help_text='other hosts that took a node rank in this attempt'),
        ),
        migrations.AddField(
            model_name='trainingrun',
            name='rendezvous',
            field=models.CharField(blank=True, help_text="multi-host runs: host:port where this attempt's hosts meet (torchrun), set by the first host", max_length=200),
        ),
    ]
