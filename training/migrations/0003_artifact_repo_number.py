"""Models keep their `vN` for good: each is numbered in its repo (target name + method) when it is
published, and a repo's counter never goes back, so deleting a model no longer renumbers the rest.

Existing models get the numbers they were served under until now: their place among their repo's
models in creation order."""
import django.db.models.deletion
from django.db import migrations, models


def number_existing_models(apps, schema_editor):
    ModelRepo = apps.get_model("training", "ModelRepo")
    ModelArtifact = apps.get_model("training", "ModelArtifact")
    artifacts = ModelArtifact.objects.select_related("target").only("method", "created_at", "target__name")
    repos = {}
    # Repos are made in the order of their first model's id, which is the order target names
    # claimed their Hub slugs in (chorus.api.hub_repos.target_slugs), so no repo id changes.
    for artifact in artifacts.order_by("pk"):
        key = (artifact.target.name, artifact.method)
        if key not in repos:
            repos[key] = ModelRepo.objects.create(target_name=key[0], method=key[1])
    for artifact in artifacts.order_by("created_at", "pk"):
        repo = repos[(artifact.target.name, artifact.method)]
        repo.last_number += 1
        artifact.repo, artifact.repo_number = repo, repo.last_number
        artifact.save(update_fields=["repo", "repo_number"])
    for repo in repos.values():
        repo.save(update_fields=["last_number"])


class Migration(migrations.Migration):

    dependencies = [
        ('training', '0002_preference_population'),
    ]

    operations = [
        migrations.CreateModel(
            name='ModelRepo',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('target_name', models.CharField(max_length=200)),
                ('method', models.CharField(max_length=50)),
                ('last_number', models.PositiveIntegerField(default=0, help_text='the number its newest model took')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('target_name', 'method'), name='model_repo_target_method')],
            },
        ),
        migrations.AddField(
            model_name='modelartifact',
            name='repo',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='artifacts', to='training.modelrepo'),
        ),
        migrations.AddField(
            model_name='modelartifact',
            name='repo_number',
            field=models.PositiveIntegerField(null=True, help_text='its `v<n>` in the repo, for good'),
        ),
        migrations.RunPython(number_existing_models, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='modelartifact',
            name='repo',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='artifacts', to='training.modelrepo'),
        ),
        migrations.AlterField(
            model_name='modelartifact',
            name='repo_number',
            field=models.PositiveIntegerField(help_text='its `v<n>` in the repo, for good'),
        ),
        migrations.AddConstraint(
            model_name='modelartifact',
            constraint=models.UniqueConstraint(fields=('repo', 'repo_number'), name='artifact_repo_number'),
        ),
    ]
