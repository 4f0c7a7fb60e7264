"""CodeBatch.foreign_duplicates: how many of a batch's codes another seller already holds
(issue 12). Nullable, so that batches imported before the check read "not checked"
rather than a made-up zero; no backfill (it would probe every code ever imported)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("codes", "0005_codebatch_review_permission"),
    ]

    operations = [
        migrations.AddField(
            model_name="codebatch",
            name="foreign_duplicates",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
    ]
