# Recon: one image for the web server (gunicorn) and the worker (django-q2 cluster).
#
#   docker build -t recon .
#   docker run --env-file .env -p 8000:8000 recon          # migrate, then serve on :8000
#   docker run --env-file .env recon worker                 # the django-q2 cluster
#   docker run --env-file .env recon createsuperuser        # any manage.py command
#
# Commands: docker/entrypoint.sh. Environment: .env.example (SECRET_KEY, DATABASE_URL and
# ALLOWED_HOSTS are required in production). docker-compose.yml runs the whole stack.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=recon_site.settings.production \
    PORT=8000

# The application runs unprivileged. It owns nothing but var/ (VAR_DIR) and its home directory
# (gunicorn's control socket); the code and the collected static files stay read-only to it.
RUN groupadd --system --gid 10001 recon \
    && useradd --system --uid 10001 --gid recon --create-home --home-dir /home/recon \
        --shell /usr/sbin/nologin recon

# Dependencies first, so a code change does not reinstall them. The runtime set only (the lock
# compiled from pyproject.toml's `dependencies`): no test runner, browser driver, fuzzer, linter
# or embedded PostgreSQL in the production image.
RUN python -m venv /opt/venv
COPY requirements/runtime.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt

WORKDIR /app
COPY . .

# collectstatic imports the production settings, which refuse to start without SECRET_KEY,
# AUDIT_CHECKPOINT_KEY, DATABASE_URL, REDIS_URL and ALLOWED_HOSTS. The values below exist only
# for this one command (they are not ENV, so they are not in the image): with the URLs set,
# settings connect to nothing at import, and collectstatic never opens a connection, so the
# unreachable addresses are never dialled.
RUN chmod 0755 docker/entrypoint.sh \
    && SECRET_KEY=build-time-collectstatic-only \
       AUDIT_CHECKPOINT_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
       DATABASE_URL=postgres://build@127.0.0.1:1/unused \
       REDIS_URL=redis://build.invalid:6379/0 \
       ALLOWED_HOSTS=build.invalid \
       python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p var/checkpoints var/files \
    && chown -R recon:recon var

USER recon

EXPOSE 8000

# /health checks the database too. The Host header is the first entry of ALLOWED_HOSTS (Django
# answers 400 to any other host); X-Forwarded-Proto says HTTPS as the TLS-terminating proxy would,
# so an HTTPS redirect can never fail the check. Containers running `worker` serve no HTTP:
# disable the check for them (docker-compose.yml does).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; hosts = [h.strip().lstrip('.') for h in os.environ.get('ALLOWED_HOSTS', '').split(',') if h.strip() not in ('', '*')]; u.urlopen(u.Request('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/health', headers={'Host': hosts[0] if hosts else 'localhost', 'X-Forwarded-Proto': 'https'}), timeout=4)"]

ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["web"]
