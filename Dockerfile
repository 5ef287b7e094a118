# syntax=docker/dockerfile:1
# The Caseload image: API by default; `caseload worker` and `caseload migrate` run from it too.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/caseload
WORKDIR /src
# Only what `pip install .` packages (see [tool.setuptools.packages.find]); no .venv or var/.
COPY pyproject.toml ./
COPY caseload ./caseload
COPY models ./models
COPY resolvers ./resolvers
COPY schema ./schema
COPY importing ./importing
COPY workers ./workers
RUN --mount=type=cache,target=/root/.cache/pip /opt/caseload/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/caseload/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CASELOAD_ENV=production
RUN useradd --system --user-group --uid 10001 --create-home --home-dir /app \
        --shell /usr/sbin/nologin caseload
COPY --from=build /opt/caseload /opt/caseload
WORKDIR /app
USER caseload
EXPOSE 8000
# No HEALTHCHECK here: the worker runs from this image too; docker-compose.yml checks the API.
CMD ["uvicorn", "caseload.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", \
     "--ws", "websockets-sansio", "--no-access-log", "--no-proxy-headers"]
