# MedGov production image: gunicorn (web), celery worker and celery beat all run from it.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 MEDGOV_VAR_DIR=/var/lib/medgov
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-wqy-microhei curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /home/medgov medgov \
 && mkdir -p /var/lib/medgov && chown medgov /var/lib/medgov

WORKDIR /app
COPY pyproject.toml README.md manage.py ./
COPY config ./config
COPY governance ./governance
COPY audits ./audits
COPY benchmark ./benchmark
COPY templates ./templates
COPY static ./static
COPY locale ./locale
# The compiled catalogue is committed; compilemessages only refreshes it where gettext is installed.
RUN pip install . \
 && DEBUG=1 python manage.py collectstatic --noinput \
 && { DEBUG=1 python manage.py compilemessages --ignore=.venv >/dev/null 2>&1 || true; } \
 && mkdir -p /var/lib/medgov/media && chown medgov /var/lib/medgov/media

USER medgov
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60", "--access-logfile", "-"]
