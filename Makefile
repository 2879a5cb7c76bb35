# `make run`: a CSMS on 127.0.0.1:$(PORT) with the embedded defaults. `make tls`: the same behind the
# TLS terminator (nginx) on 127.0.0.1:$(TLS_PORT). `make test`: the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
TLS_PORT ?= 8443
CA_DIR := $(or $(CSMS_EMBEDDED_CA_DIR),.csms-ca)

.PHONY: run tls test faults bench install

install: $(VENV)/.installed

# The venv is made once and reused; a changed requirements.txt only re-runs pip.
$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py ensure_admin
	$(PY) manage.py ensure_ca
	PORT=$(PORT) $(PY) -m csms.node

# Stations connect over wss://127.0.0.1:$(TLS_PORT)/ocpp/{chargeBoxId} (profiles 2 and 3), trusting
# $(CA_DIR)/ca.pem; nginx is Debian's (apt-get install nginx-light). The node still serves
# http://127.0.0.1:$(PORT) and trusts the terminator's headers (CSMS_TRUSTED_PROXIES).
tls: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py ensure_admin
	$(PY) manage.py ensure_ca
	CSMS_TRUSTED_PROXIES=127.0.0.1 PORT=$(PORT) $(PY) -m csms.terminator --tls-port $(TLS_PORT) \
		--upstream 127.0.0.1:$(PORT) --certs $(CA_DIR) -- $(PY) -m csms.node

test: install
	$(VENV)/bin/lint-imports
	$(PY) manage.py spectacular --validate --fail-on-warn --file $(VENV)/openapi.yaml
	$(PY) -m pytest

# The fault scenarios alone (they also run in `make test`), with their summary table. They start
# their own Redis and PostgreSQL; the nodes share DATABASE_URL's PostgreSQL (CI's).
faults: install
	$(PY) -m pytest -m faults -p no:cacheprovider -q

# `make bench`: every scenario of issue 17 (bench/README.md) at sizes that take a few minutes, and a
# summary table; `make bench BENCH_ARGS=--full` at the issue's sizes.
BENCH_ARGS ?=
bench: install
	$(PY) bench/run.py $(BENCH_ARGS)
