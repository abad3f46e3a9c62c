# pacs-gateway container: node 20 on Debian bookworm, production dependencies only, runs as an unprivileged user.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --no-audit --no-fund
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev
# The OHIF viewer (README "Viewer"): the pinned, integrity-checked npm build, prepared for /viewer/.
COPY scripts/fetch-viewer.sh ./scripts/
RUN PGW_VIEWER_CACHE=/tmp/viewer-cache bash scripts/fetch-viewer.sh && rm -rf /tmp/viewer-cache

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/.viewer ./.viewer
COPY package.json ./
COPY bin ./bin
COPY config/gateway.example.yaml ./config/gateway.example.yaml
RUN mkdir -p certs config && chown -R node:node /app/certs /app/config
USER node
# 8443: HTTPS (login, DICOMweb); 2762: DICOM over TLS
EXPOSE 8443 2762
# Mount your config as /app/config/gateway.yaml (or set PACS_GATEWAY_CONFIG) and certificates in /app/certs.
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "require('https').get({host:'127.0.0.1',port:8443,path:'/healthz',rejectUnauthorized:false},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"
# V8 flags of src/cli/runtime-flags.ts (garbage collection without helper threads, a small young generation).
ENTRYPOINT ["node", "--single-threaded-gc", "--max-semi-space-size=4", "--min-semi-space-size=4", "bin/pacs-gateway.js"]
CMD ["run"]
