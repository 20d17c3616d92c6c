# syntax=docker/dockerfile:1
#
# credbroker as a sidecar image: `docker build -t credbroker .`
#
# The broker runs its TypeScript sources directly under Node 24's type
# stripping: no build step for it, and no npm at run time; only the admin
# page is built, in a stage of its own. .ci/image-layout reads
# this file and .dockerignore, reproduces the build in a temp dir and runs
# the result read-only as the USER below (no Docker engine runs where CI
# does); it understands the instructions used here and refuses others, so
# keep to them or teach it. For reproducible builds, pin both base images by
# digest (`image:tag@sha256:...`).

# Production dependencies only. The `node` devDependency (the Node 24 that npm
# scripts use in a checkout) is left out: the runtime image brings its own.
# Install scripts run as package.json's allowScripts says (lmdb and
# msgpackr-extract check their prebuilt N-API binaries; nothing compiles,
# and this image has no compiler). Bookworm, like the runtime image.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund
# the mount point of the /data volume, copied below with the broker's owner
RUN mkdir data

# The admin page: `npm run build:ui` bundles ui/ with Vite, a
# devDependency, so this stage installs them all; only its output, dist/ui,
# reaches the image. The page imports from src/ (the generated clients, and
# the validation rules it shares with the broker), so all of src/ comes along.
FROM node:24-bookworm-slim AS ui
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY ui ./ui
COPY src ./src
RUN npm run build:ui

# No shell, no npm, no package manager: Node 24 at /nodejs/bin/node and a
# `nonroot` user (65532).
FROM gcr.io/distroless/nodejs24-debian12:nonroot
LABEL org.opencontainers.image.title="credbroker" \
      org.opencontainers.image.description="Credential broker sidecar: sealed secrets in LMDB, ready-to-use auth material over gRPC and Connect" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
# root-owned: the broker's user can read its code but not change it
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
# the broker serves it under /ui/ from the package's dist/ui (CREDBROKER_UI)
COPY --from=ui /app/dist/ui ./dist/ui
# The one place the broker writes: the LMDB environment (and, when no key or
# token is configured, the generated development master.key and admin.token).
COPY --from=deps --chown=65532:65532 /app/data /data
ENV CREDBROKER_DATA_DIR=/data
VOLUME /data
# numeric, so that Kubernetes' runAsNonRoot can check it
USER 65532:65532
# gRPC, Connect/HTTP, metrics. The listeners bind 127.0.0.1 by default:
# containers of one pod share that loopback (see README, Running as a sidecar).
EXPOSE 7390 7391 9464
# the broker drains in-flight calls on SIGTERM (up to 10 s) and exits 0
STOPSIGNAL SIGTERM
# grpc.health.v1 Check on the gRPC listener, from inside the container
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/nodejs/bin/node", "/app/src/cli/main.ts", "health"]
# `docker run credbroker` serves; `docker run credbroker --help` shows the CLI
ENTRYPOINT ["/nodejs/bin/node", "/app/src/cli/main.ts"]
CMD ["serve"]
