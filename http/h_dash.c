/* http: the analyst dashboard's static files (GET /, /assets/app.js,
 * /assets/app.css), compiled in from http/assets/ by CMake. Public: the
 * page asks for the analyst token and sends it with every API call. */
#include "http_int.h"

/* No inline script or style, no other origin; SVG pictures are fetched with
 * the token and shown from blob: URLs. */
static const char csp[] = "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; "
                          "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                          "frame-ancestors 'none'";

static void asset(rw_http_ctx *c, const char *content_type, const unsigned char *bytes, size_t len) {
    rw_http_text(c->out, 200, content_type, (const char *)bytes, len);
    c->out->csp = csp;
}

void rw_h_dash_index(rw_http_ctx *c) {
    asset(c, "text/html; charset=utf-8", rw_http_asset_index_html, rw_http_asset_index_html_len);
}

void rw_h_dash_js(rw_http_ctx *c) {
    asset(c, "text/javascript; charset=utf-8", rw_http_asset_app_js, rw_http_asset_app_js_len);
}

void rw_h_dash_css(rw_http_ctx *c) {
    asset(c, "text/css; charset=utf-8", rw_http_asset_app_css, rw_http_asset_app_css_len);
}
