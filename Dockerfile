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
RUN pip install --no-cache-dir .
RUN useradd --create-home hexcast && mkdir /credentials && chown hexcast /credentials
USER hexcast
EXPOSE 8000
CMD ["uvicorn", "alerts.api:app", "--host", "0.0.0.0", "--port", "8000"]
