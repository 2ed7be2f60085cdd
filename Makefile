# The two commands of the README.
.PHONY: run test
run:  ## install what is missing, start `hauler up` on SQLite, run the demo job
	deploy/scripts/run-demo.sh
test:  ## install what is missing, then lint, type-check and run every test
	deploy/scripts/test.sh
