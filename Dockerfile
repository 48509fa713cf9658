# The Nazorat service image (docker-compose.yml). Two stages: npm fetches the console's pinned
# front-end library (ui/package-lock.json); the runtime image has Python and the service only.
FROM node:20-slim AS ui
WORKDIR /src/ui
COPY ui/package.json ui/package-lock.json ui/.npmrc ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    NAZORAT_HOST=0.0.0.0 NAZORAT_PORT=8000 NAZORAT_DATA_DIR=/var/lib/nazorat NAZORAT_UI_DIR=/app/ui
WORKDIR /app
COPY pyproject.toml README.md ./
COPY mission mission
COPY telemetry telemetry
COPY sitl sitl
COPY ui ui
COPY --from=ui /src/ui/node_modules/leaflet /tmp/leaflet
RUN mkdir -p ui/vendor/leaflet \
 && cp -R /tmp/leaflet/dist/leaflet.js /tmp/leaflet/dist/leaflet.css /tmp/leaflet/dist/images \
       /tmp/leaflet/LICENSE ui/vendor/leaflet/ \
 && rm -rf /tmp/leaflet \
 && pip install --no-cache-dir . \
 && useradd --system --uid 10001 --home-dir /var/lib/nazorat --create-home nazorat
USER nazorat
EXPOSE 8000
CMD ["nazorat", "serve"]
