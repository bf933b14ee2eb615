# The latent-worker process: `latent-worker worker` unless another command is given, e.g.
# `docker run IMAGE status` or `docker run IMAGE validate`. docker-compose.yml runs it beside a
# Temporal service; README.md ("Running it for real") lists the environment it reads.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No dependency needs its install script (package.json's allowScripts turns them all off).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/bundle-workflows.ts ./scripts/
RUN npm run build
# The workflow bundle built ahead, both kinds (with and without payload encryption): the worker
# takes the one its settings need, and skips bundling at start (seconds of CPU, ~100 MiB of RSS
# for the process's life; docs/benchmark.md).
RUN npm run bundle:workflows -- --out-dir dist/workflow-bundles

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The memory settings the benchmark measured (WORKER_PROCESS_ENV in src/worker/tuning.ts): V8
# collects within a 256 MiB old space instead of growing, small semi-spaces, two malloc arenas.
# Raise the old space with the lifecycles per process.
ENV NODE_OPTIONS="--max-old-space-size=256 --max-semi-space-size=2" \
    MALLOC_ARENA_MAX=2 \
    LATENT_WORKER_WORKFLOW_BUNDLE=/app/dist/workflow-bundles
# Where docker-compose.yml mounts the worker definitions; clouds.yaml goes to /etc/openstack/,
# one of the places openstacksdk (and this worker) looks.
ENV LATENT_WORKER_CONFIG=/etc/latent-worker/latent.config.yaml
# The node image's unprivileged user: mounted config files must be readable by uid 1000.
USER node
ENTRYPOINT ["node", "dist/client/cli.js"]
CMD ["worker"]
