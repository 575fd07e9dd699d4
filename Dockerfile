# Deltaflow in two stages: wheels built from the source (the app's and its dependencies'), then
# a slim image that installs only those wheels and runs the app as an unprivileged user.
# docs/deploy.md says how to run it.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY static ./static
COPY templates ./templates
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# a system user without a login shell; /data, its home, holds the session database
RUN groupadd --system --gid 10001 deltaflow \
    && useradd --system --uid 10001 --gid deltaflow --home-dir /data --shell /usr/sbin/nologin deltaflow \
    && mkdir /data \
    && chown deltaflow:deltaflow /data
# no index: only the wheels of the build stage, so the image holds exactly what was built
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels /wheels/deltaflow-*.whl
ENV DELTAFLOW_HOST=0.0.0.0 \
    DELTAFLOW_PORT=8000 \
    DELTAFLOW_DB=/data/deltaflow.db
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['DELTAFLOW_PORT'] + '/healthz', timeout=4)"]
CMD ["deltaflow", "serve"]
