# The IWM backend from its wheel, with the runtime pins only (docs/deploy.md).
#   docker build -t iwm .
#   docker compose up        # with PostgreSQL, Redis, MinIO and a mail catcher (compose.yaml)
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip wheel --no-deps -w /dist .

FROM python:3.11-slim
RUN useradd --system --home-dir /var/lib/iwm --create-home iwm
COPY requirements.lock /tmp/requirements.lock
COPY --from=build /dist /tmp/dist
RUN pip install --no-cache-dir -r /tmp/requirements.lock /tmp/dist/iwm-*.whl \
    && rm -rf /tmp/dist /tmp/requirements.lock
USER iwm
WORKDIR /var/lib/iwm
ENV IWM_ENV=production
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
# Migrations are applied by the `migrate` service of compose.yaml (or `iwm migrate` once
# per release), never by each server at start.
CMD ["iwm", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
