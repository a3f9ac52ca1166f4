# closecast's forecast service: `docker compose up` serves ./checkpoints on port 9010.
# Two stages: the first installs the serving dependencies (no Lightning, Hydra, Optuna, matplotlib or
# yfinance: those are the `train` extra) into a virtualenv; the second carries only that virtualenv.
FROM python:3.11.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# CPU build of the pinned torch first, from PyTorch's CPU index: the default one is a multi-GB CUDA build.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

WORKDIR /src
# The versions `make install` and the tests use (constraints.txt): a new release changes no image by itself.
COPY pyproject.toml README.md LICENSE constraints.txt ./
COPY src ./src
RUN pip install . -c constraints.txt


FROM python:3.11.11-slim-bookworm

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=9010 \
    WORKERS=1 \
    CHECKPOINTS_DIR=/app/checkpoints \
    RELOAD_INTERVAL=10

COPY --from=build /opt/venv /opt/venv
RUN useradd --create-home --uid 10001 closecast \
    && mkdir -p /app/checkpoints \
    && chown closecast /app/checkpoints
WORKDIR /app

USER closecast
EXPOSE 9010

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '9010') + '/health', timeout=4)"

# The same command `make serve` runs; HOST (0.0.0.0 here), PORT, WORKERS, CHECKPOINTS_DIR and API_KEY
# come from the environment.
CMD ["python", "-m", "closecast.serve"]
