/**
 * The configuration `warpdrive init` writes: a Rails app behind warpdrive, with
 * every line commented for a reader who has not seen warpdrive before. It must
 * pass `warpdrive check` as written (test/integration/cli-init.test.ts), so it
 * only uses keys that take effect today.
 *
 * @module
 */

/** The starter file's text. */
export const railsStarterConfig = `# warpdrive configuration for a Rails app, written by \`warpdrive init\`.
#
# warpdrive starts Puma, waits until it answers, and sends it every request;
# it restarts Puma if it crashes and stops it (after in-flight requests finish)
# when warpdrive stops. Put this file in the app's root directory:
#
#   warpdrive check --config warpdrive.toml    # validate it and see what would run
#   warpdrive --config warpdrive.toml          # run it (Ctrl-C stops everything)
#
# Relative paths (sockets, cwd, public/) are relative to this file's directory,
# and the processes run there, wherever warpdrive is started from.
# \`check\` looks for public/: run it in the app's root.

[server]
# 80 in production: as a systemd service warpdrive binds it without root
# (packaging/warpdrive.service). 8080 works for anyone.
http_port = 8080
bind_address = "0.0.0.0"
# "auto": one proxy thread per CPU. One thread serves tens of thousands of
# requests a second; more is for when the proxy itself is the bottleneck.
worker_threads = 1
# On stop (SIGTERM, Ctrl-C), how long in-flight requests get to finish before
# Puma is stopped.
shutdown_timeout_secs = 30

# Puma on a Unix socket: faster than TCP on the same machine, and only local
# users who can open tmp/ can connect to it. tmp/ exists in every Rails app.
[upstreams.rails]
socket = "tmp/puma.sock"
# Puma stops gracefully on SIGTERM; warpdrive sends it after draining.
process.command = "bundle"
process.args = ["exec", "puma", "--bind", "unix://tmp/puma.sock", "--environment", "production"]
# warpdrive serves public/ itself (see the last route); WEB_CONCURRENCY is Puma's
# number of worker processes.
process.env = { RAILS_ENV = "production", RAILS_LOG_TO_STDOUT = "1", WEB_CONCURRENCY = "2" }
# Booting a large app (and precompiled bootsnap caches) can take a while.
process.start_timeout_secs = 90

# Rails 7.1 and later answer GET /up with 200 when the app has booted. For an
# older app, point this at any cheap page, or remove the section.
[upstreams.rails.health]
path = "/up"
interval_secs = 10

# Routes are tried in order; the first that matches takes the request.

# ActionCable WebSockets. In a default Rails app Action Cable is mounted at /cable
# inside the same Puma. To run a standalone cable server, add an upstream, e.g.
# [upstreams.cable] with socket = "tmp/cable.sock" and a process running
# \`bundle exec puma --bind unix://tmp/cable.sock cable/config.ru\`, and send this
# route there with upstream = "cable".
[[routes]]
path_prefix = "/cable"
upstream = "rails"
description = "ActionCable WebSockets"

# Everything else: a file in public/ if there is one (precompiled assets from
# \`rails assets:precompile\`, with their .br/.gz siblings, favicon, robots.txt),
# answered by warpdrive without waking Puma, like nginx's try_files; else the
# Rails app. Fingerprinted assets get Cache-Control: immutable for a year.
[[routes]]
path_prefix = "/"
upstream = "rails"
static_root = "public"
description = "public/, then Rails"

[middleware]
# X-Forwarded-For, -Proto and -Host for Rails (request.remote_ip, URL helpers).
forward_headers = true
# Brotli or gzip for clients that accept them (HTML, JSON, CSS, JS...).
gzip_compression_enabled = true
# For Rails's send_file, add x_sendfile_enabled = true and x_sendfile_roots =
# ["storage"] here: warpdrive asks Rails for X-Sendfile answers (the
# X-Sendfile-Type request header; Rails needs no setting) and sends the file
# itself instead of Puma.
# Behind a load balancer, list its addresses so Rails sees the real client:
# trusted_proxies = ["10.0.0.0/8"]
trusted_proxies = []
# One access-log line per request on stdout, in nginx's "combined" format plus
# warpdrive's fields; log_format = "json" for one JSON object per line, and
# log_file = "log/warpdrive.log" to write to a file (reopened on SIGUSR1).
log_requests = true
# X-Request-Id on every request sent to Rails (Rails logs it as request_id),
# and X-Request-Start for your APM's queue time.
request_id = true
request_start_header = true

# The admin listener on a Unix socket in tmp/: \`warpdrive status\` and
# \`warpdrive restart rails\` use it, Prometheus can scrape /metrics, and / is a live
# dashboard. To open the dashboard in a browser, listen on "127.0.0.1:9180"
# instead (and add token = "..." to listen beyond this machine).
[admin]
listen = "tmp/warpdrive-admin.sock"
`;
