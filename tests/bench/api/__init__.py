"""(api) The HTTP API: submissions/s over real HTTP against the Python client's, and one
task's event stream fanned out to many followers (events/s delivered, the database
connections the API holds meanwhile)."""
