"""Process wiring: build the components, run them (`serve --only`), drain on signals."""
