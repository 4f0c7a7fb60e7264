FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY requirements.lock pyproject.toml ./
RUN pip install -r requirements.lock

COPY . .
# collectstatic needs settings to import; build-time values only.
RUN DJANGO_DEBUG=True python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 distribly \
    && mkdir -p /data/private-uploads && chown -R distribly /data
USER distribly

EXPOSE 8000
CMD ["gunicorn", "distribly.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
