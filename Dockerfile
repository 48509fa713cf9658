# The Nazorat service image (docker-compose.yml). Two stages: npm fetches the console's pinned
# front-end libraries (ui/package-lock.json); the runtime image has Python and the service only.
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
# the same files as `make ui` copies into ui/vendor (Makefile)
COPY --from=ui /src/ui/node_modules /tmp/nm
RUN mkdir -p ui/vendor/leaflet ui/vendor/protomaps-leaflet ui/vendor/world-atlas \
       ui/vendor/topojson-client ui/vendor/mgrs \
 && cp -R /tmp/nm/leaflet/dist/leaflet.js /tmp/nm/leaflet/dist/leaflet.css /tmp/nm/leaflet/dist/images \
       /tmp/nm/leaflet/LICENSE ui/vendor/leaflet/ \
 && cp /tmp/nm/protomaps-leaflet/dist/protomaps-leaflet.js /tmp/nm/protomaps-leaflet/LICENSE \
       ui/vendor/protomaps-leaflet/ \
 && cp /tmp/nm/world-atlas/countries-10m.json /tmp/nm/world-atlas/LICENSE ui/vendor/world-atlas/ \
 && cp /tmp/nm/topojson-client/dist/topojson-client.min.js /tmp/nm/topojson-client/LICENSE \
       ui/vendor/topojson-client/ \
 && cp /tmp/nm/mgrs/dist/mgrs.js /tmp/nm/mgrs/license.md ui/vendor/mgrs/ \
 && rm -rf /tmp/nm \
 && pip install --no-cache-dir . \
 && useradd --system --uid 10001 --home-dir /var/lib/nazorat --create-home nazorat
USER nazorat
EXPOSE 8000
CMD ["nazorat", "serve"]
