# kvq: one image for every role. The role is the argument: api (default), worker, autoscaler.
#   docker build -t kvq:dev .
#   docker run --rm -e QUEUE_REDIS_URL=... -e KV_REDIS_URL=... -p 8080:8080 kvq:dev api

FROM node:24-bookworm-slim AS build
WORKDIR /app
ENV NODE_ENV=development
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
# The type declarations are for the published package's `kvq/client`; the image only runs.
# TypeScript survives the prune as an optional peer of valibot (through @bull-board/api), which
# needs it only for type checking: the image has no compiler.
RUN npm run build \
  && find dist -name '*.d.ts' -delete -o -name '*.d.ts.map' -delete \
  && npm prune --omit=dev --no-audit --no-fund \
  && rm -rf node_modules/.cache node_modules/typescript

FROM node:24-bookworm-slim AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="kvq" \
      org.opencontainers.image.description="Queued key-value service: BullMQ writes with per-key version fencing" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/node:24-bookworm-slim"
# A 16 MB young-generation semi-space, for every role. Node sizes V8's heap from the memory limit:
# under the Deployments' 512Mi it keeps the young generation so small that the API accepts
# markedly fewer writes per second; without a limit it grows it to 64 MB semi-spaces and the API's
# memory roughly doubles under load. `npm run bench` runs kvq with these options (plus the
# old-space size the 512Mi limit gives); the figures are in BENCHMARKS.md. Override NODE_OPTIONS
# in a Deployment to change it.
ENV NODE_OPTIONS="--max-semi-space-size=16" \
    NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    WORKER_HEALTH_PORT=8081
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
RUN ln -s /app/bin/kvq.js /usr/local/bin/kvq
USER node
EXPOSE 8080 8081
ENTRYPOINT ["kvq"]
CMD ["api"]
