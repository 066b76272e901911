# The console's map and outline assets, from npm as pinned by package-lock.json.
FROM node:20-slim AS assets
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY alerts alerts
COPY geo geo
COPY notifier notifier
COPY kit kit
COPY fcm_sandbox fcm_sandbox
COPY migrations migrations
COPY alembic.ini ./
COPY scripts scripts
COPY --from=assets /assets/node_modules node_modules
# Editable, so that the console finds node_modules beside the source, as in a checkout.
RUN pip install --no-cache-dir -e .
RUN useradd --create-home hexcast && mkdir /credentials && chown hexcast /credentials
USER hexcast
EXPOSE 8000
CMD ["uvicorn", "alerts.api:app", "--host", "0.0.0.0", "--port", "8000"]
