# ML Lambda: one image for the API and the workers (pick the role with the command).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY queues ./queues
COPY workers ./workers
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# The workers run pip (wheels only, for the runtime's Python) to install models' requirements;
# bubblewrap sandboxes source builds when an operator allows them (MLL_PIP_ALLOW_SDIST);
# zstd compresses layers when MLL_LAYER_COMPRESSION=zstd.
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-pip bubblewrap zstd \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production MLL_HOST=0.0.0.0 MLL_PORT=8080 MLL_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY web ./web
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD node -e "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/src/bin/all.js"]
