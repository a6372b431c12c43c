/*
 * Preloaded into wrk (LD_PRELOAD) by the bench's https-new-conn scenario, so that
 * every TLS connection wrk opens is a full handshake. Built at run time by
 * bench/lib/wrk-no-resume.ts, which also checks that it works before measuring.
 *
 * Why it is needed: wrk keeps one SSL object per connection slot. When a response
 * says "Connection: close" it calls SSL_shutdown and SSL_clear on it and connects
 * again with the same object; SSL_clear keeps the session, so the next SSL_connect
 * offers it and any server that issues tickets resumes it (measured against
 * warpdrive, nginx and a Node.js server: all but the first handshake of each slot
 * were resumptions). warpdrive's uWS build cannot turn tickets off, so the client
 * has to stop offering them.
 *
 * What it does: before a handshake starts (SSL_in_before), it drops the session
 * the SSL object still holds; then it calls the real SSL_connect. Everything is
 * looked up with dlsym, so the library loads into any process (taskset too) even
 * without libssl. A wrk linked statically with OpenSSL never calls this
 * SSL_connect: the check in wrk-no-resume.ts then fails the scenario.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;

typedef int (*connect_fn)(SSL *);
typedef int (*in_before_fn)(const SSL *);
typedef int (*set_session_fn)(SSL *, SSL_SESSION *);

int SSL_connect(SSL *ssl) {
    /* Written by whichever wrk thread comes first; every thread writes the same values. */
    static connect_fn real_connect;
    static in_before_fn in_before;
    static set_session_fn set_session;
    if (real_connect == NULL) {
        in_before = (in_before_fn)dlsym(RTLD_NEXT, "SSL_in_before");
        set_session = (set_session_fn)dlsym(RTLD_NEXT, "SSL_set_session");
        real_connect = (connect_fn)dlsym(RTLD_NEXT, "SSL_connect");
    }
    /* Only before the ClientHello: wrk calls SSL_connect again while the handshake waits for data. */
    if (in_before != NULL && set_session != NULL && in_before(ssl)) set_session(ssl, NULL);
    return real_connect(ssl);
}
