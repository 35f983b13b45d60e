"""The web face: the REST API (with its OpenAPI document and Swagger UI), the login page and
the overview, health probes and Prometheus metrics, served by uvicorn in the process's event
loop. Routes only parse, call the runtime (its queue, its actions) or the shared reads in
``store``, and answer."""
