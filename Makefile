.PHONY: run test lint stack-start stack-stop

run:  ## set up and run the whole service with demo data
	scripts/run.sh

test:  ## set up and run lint, types and the test suite
	scripts/test.sh

lint:
	scripts/bootstrap.sh
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

stack-start:
	scripts/stack.sh start

stack-stop:
	scripts/stack.sh stop
