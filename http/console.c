/* console.c - serves the analysts' web console (docs/console.md): the
 * static assets of http/console/, embedded in the binary at build time by
 * scripts/embed.sh ($(BUILD)/gen/console_assets.c), at GET / (index.html)
 * and GET /assets/{name}. The console itself is plain JavaScript that
 * talks to the API v1 with the bearer token the analyst types in; these
 * routes need no token (they hold no data).
 *
 * Every answer carries a strict Content-Security-Policy (scripts, styles,
 * images and fetches from this origin only, no inline script or style, no
 * framing), nosniff, no referrer. Assets are revalidated on every use
 * (Cache-Control: no-cache) against their ETag (a hash of the content), so
 * a browser keeps them and an upgraded binary is picked up at once.
 *
 * Stateless: the asset table is read-only; any request thread. */
#include <string.h>

#include "http_int.h"

/* default-src 'none' and then only what the console uses, from 'self'. */
static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self'; connect-src 'self'; font-src 'self'; "
                          "manifest-src 'self'; base-uri 'none'; form-action 'none'; "
                          "frame-ancestors 'none'";

const struct http_asset *http_console_find(const char *name)
{
    for (size_t i = 0; name && i < http_console_nassets; i++)
        if (!strcmp(http_console_assets[i].name, name))
            return &http_console_assets[i];
    return NULL;
}

/* Does an If-None-Match value name etag? A list of quoted tags ("a", W/"b")
 * or "*". */
static bool etag_matches(const char *inm, const char *etag)
{
    if (!inm)
        return false;
    size_t el = strlen(etag);
    for (const char *p = inm; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (!strncmp(p, "W/", 2))
            p += 2;
        if (!strncmp(p, etag, el) && (p[el] == '\0' || p[el] == ',' || p[el] == ' ' ||
                                      p[el] == '\t'))
            return true;
        while (*p && *p != ',')
            p++;
    }
    return false;
}

static int serve_asset(struct http_req *r, const struct http_asset *a)
{
    if (!a)
        return http_req_error(r, 404, "not found");
    int rc = http_req_header_add(r, "Content-Security-Policy", csp);
    rc = rc ? rc : http_req_header_add(r, "X-Frame-Options", "DENY");
    rc = rc ? rc : http_req_header_add(r, "Referrer-Policy", "no-referrer");
    rc = rc ? rc : http_req_header_add(r, "Cross-Origin-Opener-Policy", "same-origin");
    rc = rc ? rc : http_req_header_add(r, "Cross-Origin-Resource-Policy", "same-origin");
    rc = rc ? rc : http_req_header_add(r, "ETag", a->etag);
    if (rc)
        return rc;
    r->cache_control = "no-cache";
    r->content_type = a->content_type;
    if (etag_matches(http_req_header(r, "If-None-Match"), a->etag)) {
        r->status = 304;
        return 0;
    }
    return ts_buf_append(&r->out, a->data, a->len);
}

int http_console_index(struct http_req *r)
{
    return serve_asset(r, http_console_find("index.html"));
}

int http_console_asset(struct http_req *r)
{
    return serve_asset(r, http_console_find(r->caps[0]));
}
