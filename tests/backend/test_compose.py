"""docker-compose.yml cannot run here (no Docker engine), so it is kept correct by construction:
every service the runtime needs is there, with a health check and the settings' env vars."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
README = (ROOT / "README.md").read_text()


def _command(service: str) -> str:
    cmd = COMPOSE["services"][service]["command"]
    return " ".join(cmd) if isinstance(cmd, list) else cmd


def test_compose_has_every_runtime_service_with_a_health_check():
    services = COMPOSE["services"]
    assert set(services) >= {"postgres", "redis", "web", "worker", "beat"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"


def test_app_services_run_the_right_processes():
    assert "gunicorn backend.wsgi" in _command("web")
    assert re.search(r"celery -A backend worker .*-Q default,reminders,flags", _command("worker"))
    assert "celery -A backend beat" in _command("beat")


def test_app_services_share_the_production_environment():
    for name in ("web", "worker", "beat"):
        env = COMPOSE["services"][name]["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "backend.settings.production"
        for var in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS"):
            assert var in env, f"{name} lacks {var}"
        assert COMPOSE["services"][name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_compose_variable_is_documented_in_the_readme():
    for name in ("web", "worker", "beat"):
        for var in COMPOSE["services"][name]["environment"]:
            assert f"`{var}`" in README, f"{var} is not in the README configuration table"


def test_every_setting_variable_is_documented_in_the_readme():
    settings_dir = ROOT / "backend" / "settings"
    used = set()
    for path in settings_dir.glob("*.py"):
        used |= set(re.findall(r'env_(?:str|bool|int|list)\("([A-Z_]+)"', path.read_text()))
    missing = sorted(var for var in used if f"`{var}`" not in README)
    assert not missing, f"undocumented environment variables: {missing}"
