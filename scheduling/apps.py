from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Scheduling and reminders"

    def ready(self) -> None:
        # plans reads session facts through its port (plans/ports.py), never by importing
        # scheduling; models can only be imported once the registry is ready, hence here.
        from plans.ports import register_session_facts
        from scheduling.selectors import SESSION_FACTS

        register_session_facts(SESSION_FACTS)
