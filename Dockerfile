# Tanya Netral in a container (README: "Running as a service").
#   docker build -t tanya-netral .
#   docker run -d --name tanya-netral --env-file .env -v tanya-data:/app/data \
#     [-p 8080:8080 (WhatsApp webhook)] [-p 8443:8443 (Telegram webhook)] tanya-netral
#   docker logs -f tanya-netral
# `docker stop` sends SIGTERM: in-flight deliveries finish, the rest resumes at the next start.
# Exit code 2 is a configuration or start-up error (one line in the log): fix it, do not restart.
FROM python:3.12-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin tanya

# Dependencies first (from pyproject.toml), so a knowledge-base edit does not reinstall them.
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install .

COPY main.py ./
COPY knowledge ./knowledge
# data/ holds the SQLite database and the trained scorer's cache; knowledge/learned.yaml is
# written by /ajarkan. Both belong to the bot's own user.
RUN mkdir -p data && chown -R tanya:tanya data knowledge

USER tanya
VOLUME ["/app/data"]
# WHATSAPP_WEBHOOK_PORT and WEBHOOK_PORT defaults; long polling needs no port.
EXPOSE 8080 8443
STOPSIGNAL SIGTERM
CMD ["python", "main.py", "run"]
