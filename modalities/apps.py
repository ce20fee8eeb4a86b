from django.apps import AppConfig


class ModalitiesConfig(AppConfig):
    name = "modalities"
    verbose_name = "Protocol catalogue"

    def ready(self) -> None:
        from modalities import spec_cache

        spec_cache.connect_signals()
