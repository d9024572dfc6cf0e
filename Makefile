# Roster: `make run` serves a demo on 127.0.0.1:8000; `make test` runs the whole suite.
# Both create .venv and install from setup.cfg; system packages (xmlsec1, chromium) come from Debian's apt.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTANCE := $(CURDIR)/instance
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RUNTIME_DEBS := xmlsec1
TEST_DEBS := xmlsec1 chromium chromium-driver postgresql redis-server

.PHONY: run test test-sqlite test-postgres bench sysdeps-run sysdeps-test clean

$(BIN)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Install the Debian packages that are missing (apt-get update only when something is).
define apt_install
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing system packages: $$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

sysdeps-run:
	$(call apt_install,$(RUNTIME_DEBS))

sysdeps-test:
	$(call apt_install,$(TEST_DEBS))

$(INSTANCE)/secret_key:
	mkdir -p $(INSTANCE)
	$(PYTHON) -c 'import secrets; print(secrets.token_hex(32))' > $@
	chmod 600 $@

# The key that signs checkpoints of the provisioning log (docs/audit.md); its public half is beside it (.pub).
$(INSTANCE)/audit_signing_key.pem: | $(BIN)/.installed
	mkdir -p $(INSTANCE)
	$(BIN)/roster audit keygen $@

run: $(BIN)/.installed sysdeps-run $(INSTANCE)/secret_key $(INSTANCE)/audit_signing_key.pem
	@export SECRET_KEY=$$(cat $(INSTANCE)/secret_key) ROSTER_INSTANCE_PATH=$(INSTANCE) \
		AUDIT_SIGNING_KEY=$(INSTANCE)/audit_signing_key.pem LOG_FORMAT=text; \
	$(BIN)/roster db upgrade && $(BIN)/roster demo && exec $(BIN)/roster serve --host 127.0.0.1 --port 8000

# TEST_DATABASE_URL=postgresql://... runs the same suite on PostgreSQL.
test: $(BIN)/.installed sysdeps-test
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(BIN)/.installed
	$(BIN)/python bench/scim_bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
