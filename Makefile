# pipgate — every target sets up what it needs on a fresh Debian machine (as root).
SHELL := /bin/bash
IMAGE ?= pipgate-sandbox:py3.11
NODE_STAMP := node_modules/.package-lock.json

.PHONY: setup host image build demo test check typecheck lint format bench clean

setup: host image build

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $(NODE_STAMP)

host:
	bash scripts/setup-host.sh

image: host
	@docker image inspect $(IMAGE) >/dev/null 2>&1 || bash sandbox/build-image.sh --expect-python 3.11 --tag $(IMAGE)

build: $(NODE_STAMP)
	npm run build

demo: setup
	node dist/scripts/demo.js

# Typecheck, lint, then both test projects (unit first, then integration) with a JSON summary.
test: setup typecheck lint
	mkdir -p test-output
	npx vitest run --reporter=default --reporter=json --outputFile.json=test-output/vitest.json
	@node -e 'const r=require("./test-output/vitest.json"); console.log("tests: " + r.numPassedTests + " passed, " + r.numFailedTests + " failed")'

typecheck: $(NODE_STAMP)
	npx tsc -p tsconfig.json --noEmit

# The layering and code rules, then the formatter's check (`make format` rewrites).
lint: $(NODE_STAMP)
	npx eslint .
	npx prettier --check "**/*.{ts,js,mjs}"

format: $(NODE_STAMP)
	npx prettier --write "**/*.{ts,js,mjs}"

# The same as `npm run check` (typecheck, lint, format check, both test projects), after the set-up.
check: setup
	npm run check

bench: setup
	node dist/bench/run.js

clean:
	rm -rf dist .pipgate test-output
