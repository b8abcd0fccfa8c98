# crm_strategic_kpi: the commands README.md documents.
PYTHON ?= python3
LINT_VENV := .run/lint-venv
PORT ?= 8069

.PHONY: demo test bench lint check setup pg-start pg-stop screenshots

demo:  ## start a demo Odoo with the addon and realistic data on http://127.0.0.1:$(PORT)
	$(PYTHON) tools/kpi.py demo --port $(PORT)

test:  ## run every test on a throwaway database; ends with "N passed, N failed"
	$(PYTHON) tools/kpi.py test

bench:  ## benchmark the KPI engine on the large generated dataset
	$(PYTHON) tools/kpi.py bench

screenshots:  ## render the overview, pivot, graph and goal form of the demo into docs/
	$(PYTHON) tools/kpi.py screenshots

check:  ## tell whether Odoo 19.0 is available
	$(PYTHON) tools/kpi.py check

setup:  ## set Odoo 19.0 up under .run from ODOO_SOURCE (make demo/test do it when it is missing)
	$(PYTHON) tools/kpi.py setup

pg-start:
	$(PYTHON) tools/kpi.py pg start

pg-stop:
	$(PYTHON) tools/kpi.py pg stop

$(LINT_VENV)/bin/ruff:
	$(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/pip install --quiet -r requirements-lint.txt

lint: $(LINT_VENV)/bin/ruff  ## ruff, ruff format --check and pylint-odoo
	$(LINT_VENV)/bin/ruff check .
	$(LINT_VENV)/bin/ruff format --check .
	$(LINT_VENV)/bin/pylint --rcfile=.pylintrc --load-plugins=pylint_odoo \
		--disable=all --enable=odoolint $(wildcard crm_strategic_kpi*/)
	$(PYTHON) tools/i18n_merge.py --check --dry-run
	$(PYTHON) tools/readme_rst.py --check
