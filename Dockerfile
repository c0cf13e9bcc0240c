# syntax=docker/dockerfile:1
# Node 24 LTS is the runtime (the server supports Node >= 20: package.json engines).
# --- build: compile TypeScript and bundle the browser console with the dev dependencies ---
FROM node:24-bookworm-slim AS build
WORKDIR /app
# the workspace's package.json must be there for npm ci (package.json lists packages/* as workspaces)
COPY package.json package-lock.json ./
COPY packages/client/package.json ./packages/client/
RUN npm ci --no-audit --no-fund
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# the console (console/ → dist-console/) bundles the client SDK from its source
COPY packages/client/src ./packages/client/src
COPY console ./console
RUN npx nest build && npm run build:console

# --- production dependencies only ---
# same base as the runtime: npm ci picks sharp's prebuilt libvips for this platform (glibc, x64 or arm64)
# from its optional dependencies; nothing is compiled and no build tools are needed
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/client/package.json ./packages/client/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime ---
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/data \
    MEDIA_DIR=/media
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/dist-console ./dist-console
COPY package.json ./
RUN mkdir -p /data /media && chown node:node /data /media
USER node
# the embedded database (when DATABASE_URL is unset) and uploaded media (when S3_BUCKET is unset)
VOLUME ["/data", "/media"]
EXPOSE 3000
# liveness, not /health: a Redis or database outage must not get every container restarted at once
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# migrations by hand (a start runs the pending ones anyway), e.g.
#   docker run --rm -e DATABASE_URL=… im-server node dist/database/migrate.js show   (or run, revert)
CMD ["node", "dist/main.js"]
