from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def ensure_default_dimensions(**kwargs) -> None:
    """Seed the default taxonomy where it is missing (after migrate, and after a test flush)."""
    from benchmark.models import Dimension
    from benchmark.taxonomy import DEFAULT_DIMENSIONS

    existing = set(Dimension.objects.values_list("code", flat=True))
    Dimension.objects.bulk_create(
        [
            Dimension(
                code=code,
                category=code.split(".")[0],
                name_en=name_en,
                name_zh=name_zh,
                description_en=description_en,
                description_zh=description_zh,
                sort_order=order,
            )
            for order, (code, name_en, name_zh, description_en, description_zh) in enumerate(DEFAULT_DIMENSIONS)
            if code not in existing
        ]
    )


class BenchmarkConfig(AppConfig):
    name = "benchmark"
    verbose_name = _("Benchmark")

    def ready(self):
        post_migrate.connect(ensure_default_dimensions, sender=self, dispatch_uid="benchmark-default-dimensions")
