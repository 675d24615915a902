"""The partner dashboard in the browser: server-rendered pages on the partner services."""
