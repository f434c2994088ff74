# The agentworker image: the `agentworker` command, `celery -A worker.app …` and Flower.
# Built by docker-compose.yml; runs as a non-root user. /data is for beat's schedule and
# Flower's state (mount a volume there).
FROM python:3.11-slim

# MALLOC_ARENA_MAX: glibc's arenas for a threads pool (8 per core by default) hold freed memory
# apart; two bound what fifty threads can hold (README, Memory). glibc reads it at exec.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MALLOC_ARENA_MAX=2 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md celeryconfig.py alembic.ini ./
COPY models ./models
COPY worker ./worker
COPY tasks ./tasks
COPY migrations ./migrations
RUN pip install ".[flower]" \
    && useradd --system --user-group --create-home --uid 10001 agentworker \
    && mkdir /data \
    && chown agentworker:agentworker /data

USER agentworker
CMD ["agentworker", "worker"]
