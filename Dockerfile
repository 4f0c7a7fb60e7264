# The production image: runtime requirements only, static files hashed at build
# time, a non-root user, gunicorn configured by gunicorn.conf.py. Migrations are a
# one-off step (`docker compose run --rm migrate`), never run by the web process.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY requirements.lock ./
RUN pip install -r requirements.lock

COPY . .
# collectstatic needs no secrets: DJANGO_DEBUG=True here only lets settings import
# without them. The storage is the hashed manifest one whatever DEBUG says, so
# the manifest the web process needs is written here.
RUN DJANGO_DEBUG=True python manage.py collectstatic --noinput \
    && test -s staticfiles/staticfiles.json \
    && useradd --system --uid 10001 --home-dir /app distribly \
    && mkdir -p /data/private-uploads /data/media && chown -R distribly /data
USER distribly

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
CMD ["gunicorn", "-c", "gunicorn.conf.py"]
