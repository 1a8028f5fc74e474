# hearth daemon image. Multi-stage: compile TypeScript (and better-sqlite3)
# in a build stage, ship only production dependencies and the compiled code.
#
# No registry is needed for the base: build a Node base yourself or use any
# local image with Node 20+ as NODE_IMAGE. Without access to github.com and
# nodejs.org, better-sqlite3 compiles from source and node-gyp needs the Node
# headers in the base: put them in /usr/local/include/node and set
# ENV npm_config_nodedir=/usr/local there. Behind a TLS-intercepting proxy the
# base also needs its CA (update-ca-certificates + NODE_EXTRA_CA_CERTS).
# Verified here with such a base: build ~2 min, then deploy and call work.
#
#   docker build -t hearth:latest --build-arg NODE_IMAGE=node:20-bookworm-slim .
#   docker run -d --name hearth \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     -v /var/lib/hearth:/var/lib/hearth -e HEARTH_DATA_DIR=/var/lib/hearth \
#     -e HEARTH_HOST=0.0.0.0 -p 127.0.0.1:8080:8080 hearth:latest
#
# The data dir must be mounted at the same path inside and outside: function
# containers bind-mount their socket folders from it through the host's engine.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
RUN apt-get update -q && apt-get install -y -q --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY gateway gateway
COPY pool pool
COPY builder builder
COPY runtimes runtimes
COPY store store
COPY bench bench
RUN npm run build && npm prune --omit=dev
# The image-function supervisor, static: the daemon copies it into the data dir (shared with the host's engine).
RUN cc -static -O2 -o runtimes/exec/hearth-exec runtimes/exec/hearth-exec.c

FROM ${NODE_IMAGE}
# mmdebstrap makes the Python base image from Debian packages when it is missing.
RUN apt-get update -q && apt-get install -y -q --no-install-recommends mmdebstrap && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production HEARTH_DATA_DIR=/var/lib/hearth
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
COPY runtimes/python runtimes/python
COPY --from=build /app/runtimes/exec runtimes/exec
COPY scripts scripts
VOLUME /var/lib/hearth
EXPOSE 8080
CMD ["node", "dist/gateway/main.js"]
