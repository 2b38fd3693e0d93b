# The Makefile is the entry point: `make run` and `make test` set everything up themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check bench soak fuzz docs clean migrate debian-deps screenshots

# Debian packages the tests use as real neighbours: Postfix writes real bounces (DSNs), and
# the UI tests drive Chromium (Playwright uses /usr/bin/chromium; it downloads no browser),
# and SpamAssassin's spamd (Debian's `spamd` package, with `spamassassin`) scores templates.
# Installed only when missing, and only where we are root (the developers' and CI machines).
DEBIAN_PACKAGES := postfix chromium spamd

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The SMTP submission server's certificate: a self-signed pair for development, unless
# MISIVA_SMTP_TLS_CERT and MISIVA_SMTP_TLS_KEY name a real one.
run: export MISIVA_SMTP_TLS_CERT ?= var/tls/cert.pem
run: export MISIVA_SMTP_TLS_KEY ?= var/tls/key.pem

# Starts every component on the embedded default (SQLite + capture inbox).
run: $(STAMP)
	mkdir -p var
	$(BIN)/misiva db upgrade
	@[ -f "$(MISIVA_SMTP_TLS_CERT)" ] || $(BIN)/misiva smtp certificate var/tls
	$(BIN)/misiva serve

DEMO_PASSWORD := misiva demo password

# The docs' screenshots (docs/img/): a demo database seeded in a temporary folder, served on a
# free local port with the capture transport (nothing leaves the machine), photographed by
# Chromium, and stopped again.
screenshots: $(STAMP) debian-deps
	@tmp=$$(mktemp -d); pid=; \
	trap '[ -n "$$pid" ] && kill $$pid 2>/dev/null; [ -n "$$pid" ] && wait $$pid 2>/dev/null; rm -rf "$$tmp"' EXIT; \
	port=$$($(BIN)/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	export MISIVA_DATABASE_URL="sqlite:///$$tmp/demo.db" MISIVA_HTTP_ADDR="127.0.0.1:$$port" MISIVA_ROUTES="*=capture"; \
	$(BIN)/misiva db upgrade && \
	$(BIN)/misiva demo seed --seed 1 --password "$(DEMO_PASSWORD)" && \
	{ $(BIN)/misiva serve --only api,worker,scheduler >"$$tmp/serve.log" 2>&1 & pid=$$!; } && \
	$(BIN)/python tools/screenshots.py --url "http://127.0.0.1:$$port" \
	  --email demo@misiva.test --password "$(DEMO_PASSWORD)" --out docs/img \
	|| { status=$$?; tail -20 "$$tmp/serve.log" 2>/dev/null; exit $$status; }

debian-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

test: $(STAMP) debian-deps
	$(BIN)/pytest -q -p no:cacheprovider

# The bad-input suites (tests/fuzz: schemathesis on the API, Hypothesis on MIME, addresses,
# DSN/ARF/DMARC and SMTP submission) with the long "fuzz" profile: 10 to 20 times the examples
# `make test` runs, fresh ones each run (the seed is in pytest's header; MISIVA_FUZZ_SEED=n).
fuzz: $(STAMP)
	MISIVA_FUZZ_PROFILE=fuzz $(BIN)/pytest -q -p no:cacheprovider --timeout 0 tests/fuzz $(FUZZ_ARGS)

check: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python tools/audit_deps.py

BENCH_STAMP := $(VENV)/.bench-installed
BENCH_DEBIAN := postfix wrk

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# Misiva beside Postfix and django-post-office on this machine, in one run (docs/performance.md).
bench: $(BENCH_STAMP)
	@$(MAKE) --no-print-directory debian-deps DEBIAN_PACKAGES="$(BENCH_DEBIAN)"
	$(BIN)/python bench/render.py
	$(BIN)/python bench/send_pipeline.py $(BENCH_ARGS)

# 70% of measured capacity for 30 minutes on PostgreSQL with two workers: memory flat,
# latency inside its p99, nothing lost (bench/soak.py; not in `make test`).
# SOAK_ARGS="--minutes 3" for a short run; the report goes to var/soak/report.{json,md}.
soak: $(BENCH_STAMP)
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

docs: $(STAMP)
	$(BIN)/python -m misiva.config > docs/configuration.md

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache
