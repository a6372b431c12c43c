-- 1 MiB upload per request: POST to the upstream's counting sink. The body is
-- built once per wrk thread; wrk sends it with a Content-Length header.
wrk.method = "POST"
wrk.path = "/upload"
wrk.body = string.rep("x", 1048576)
wrk.headers["Content-Type"] = "application/octet-stream"
