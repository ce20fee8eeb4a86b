# Production image: web (gunicorn), Celery worker and beat share it (docker-compose.yml).
# Python 3.12: inside the supported and tested range (pyproject.toml, README § Pythons).
FROM python:3.12-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN useradd --system --create-home --uid 10001 app \
    && mkdir -p /var/lib/clinic-beat && chown app:app /var/lib/clinic-beat
# Dependencies first (cached while only the code changes); the project itself is not a package.
COPY pyproject.toml README.md ./
RUN pip install --upgrade pip && pip install .
COPY . .
# Static files are collected at build time (WhiteNoise serves them); no setting here reaches runtime.
RUN DJANGO_SETTINGS_MODULE=backend.settings.development SECRET_KEY=build-only \
    python manage.py collectstatic --noinput
# Runs unprivileged; the code is root-owned and read-only to it. Beat writes only its volume.
USER app
EXPOSE 8000
CMD ["gunicorn", "backend.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
