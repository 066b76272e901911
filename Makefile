.PHONY: run test flaky lint stack-start stack-stop

run:  ## set up and run the whole service with demo data
	scripts/run.sh

test:  ## set up and run lint, types and the test suite
	scripts/test.sh

flaky:  ## the suite (or TESTS=...) N times (default 3) in random order, to find flaky tests
	scripts/test.sh --random-order --count $(or $(N),3) $(or $(TESTS),tests)

lint:
	scripts/bootstrap.sh
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy && .venv/bin/lint-imports

stack-start:
	scripts/stack.sh start

stack-stop:
	scripts/stack.sh stop
