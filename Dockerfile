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
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# Where docker-compose.yml mounts the worker definitions; clouds.yaml goes to /etc/openstack/,
# one of the places openstacksdk (and this worker) looks.
ENV LATENT_WORKER_CONFIG=/etc/latent-worker/latent.config.yaml
# The node image's unprivileged user: mounted config files must be readable by uid 1000.
USER node
ENTRYPOINT ["node", "dist/client/cli.js"]
CMD ["worker"]
